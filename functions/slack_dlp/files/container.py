"""The one guarded way to open a zip-based file: ZIP archives, DOCX, XLSX, PPTX and ODF documents.

A hostile container lies: a 290 KB document can expand to gigabytes of XML, an archive can hold
another archive many levels deep, a header can declare a size its data does not have. So every
container is opened here and nowhere else, and every limit is checked twice: against what the
central directory declares (cheap, before anything is decompressed), and again against the bytes
actually produced while streaming a member. A broken limit raises ``Refused`` with a reason the
audit trail records; the caller never sees a half-read file as clean.

One ``Guard`` travels with one file through every level of nesting: the uncompressed bytes, the
extracted text and the time spent are budgets of the file, not of each member.
"""

from __future__ import annotations

import io
import signal
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import IO

#: Bytes read from a member per step: the unit at which limits and the clock are checked.
STREAM_CHUNK = 64 * 1024
#: What zipfile raises on a damaged archive or member (a corrupt deflate stream is a zlib.error).
UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, OSError, ValueError,
              RuntimeError, EOFError)  # fmt: skip


@dataclass(frozen=True)
class Limits:
    #: Largest file downloaded and opened.
    max_file_bytes: int = 20 * 1024 * 1024
    #: Largest total of text taken out of one file (archives included).
    max_text_chars: int = 5_000_000
    #: Uncompressed bytes one file may expand to, across all its members and nesting levels.
    max_archive_bytes: int = 50 * 1024 * 1024
    #: Compression ratio (uncompressed / compressed) that marks a bomb, per member and overall,
    #: checked once a member (or the archive) is larger than ``ratio_floor_bytes``.
    max_compression_ratio: int = 100
    ratio_floor_bytes: int = 1024 * 1024
    #: Members of one container (a document's parts count too).
    max_archive_members: int = 1_000
    #: Containers inside containers: 2 opens a ZIP holding a ZIP or a DOCX, and no deeper.
    max_depth: int = 2
    #: PDF: pages read, objects the cross-reference table may declare, bytes one stream may decode to.
    max_pdf_pages: int = 2_000
    max_pdf_objects: int = 500_000
    max_pdf_stream_bytes: int = 20 * 1024 * 1024
    #: Wall-clock seconds one file may take to extract, whatever it is.
    max_seconds: float = 30.0


class Refused(Exception):
    """The file is not inspected, for ``reason`` (too_large, zip_bomb, too_deep, too_many_members,
    timeout, unsafe_xml, corrupt, encrypted…); ``detail`` says a little more, never file content."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class OutOfTime(BaseException):
    """Raised by the alarm inside whatever is running when the time budget ends. A BaseException,
    so that a library's ``except Exception`` cannot swallow it."""


class Guard:
    """The budgets of one file: uncompressed bytes, nesting depth and a deadline."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self.deadline = clock() + limits.max_seconds
        self.bytes_left = limits.max_archive_bytes
        self.depth = 0

    def check_time(self) -> None:
        if self._clock() > self.deadline:
            raise Refused("timeout", f"more than {self.limits.max_seconds:g} s")

    def spend(self, count: int) -> None:
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise Refused("too_large", f"expands beyond {self.limits.max_archive_bytes} bytes")

    @contextmanager
    def nested(self) -> Iterator[None]:
        if self.depth >= self.limits.max_depth:
            raise Refused("too_deep", f"containers nested more than {self.limits.max_depth} deep")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    @contextmanager
    def alarm(self) -> Iterator[None]:
        """A hard stop at the deadline, for code that does not return to us often enough (a PDF page).

        Only in the main thread, where Python delivers signals (Lambda's handler, the CLI); elsewhere
        the cooperative checks between steps are the budget."""
        seconds = self.deadline - self._clock()
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            yield
            return

        def expire(signum: int, frame: FrameType | None) -> None:
            raise OutOfTime

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
        try:
            yield
        except OutOfTime:
            raise Refused("timeout", f"more than {self.limits.max_seconds:g} s") from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


class Container:
    """A zip-based file opened under a ``Guard``: its members are listed, checked against the
    declared limits, and read only through ``open``/``read``, which enforce them again."""

    def __init__(self, data: bytes, guard: Guard) -> None:
        self._guard = guard
        limits = guard.limits
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except UNREADABLE as error:
            raise Refused("corrupt", f"not a readable zip container ({type(error).__name__})") from None
        self.members = {info.filename: info for info in infos if not info.is_dir()}
        if len(infos) > limits.max_archive_members:
            raise Refused("too_many_members", f"{len(infos)} members")
        declared = sum(info.file_size for info in self.members.values())
        compressed = max(1, sum(info.compress_size for info in self.members.values()))
        if declared > limits.ratio_floor_bytes and declared / compressed > limits.max_compression_ratio:
            raise Refused("zip_bomb", f"{declared} bytes declared from {compressed}")
        for info in self.members.values():
            if info.file_size > limits.ratio_floor_bytes and info.file_size / max(1, info.compress_size) > (
                limits.max_compression_ratio
            ):
                raise Refused("zip_bomb", f"a member declares {info.file_size} bytes from {info.compress_size}")
        if declared > guard.bytes_left:
            raise Refused("too_large", f"{declared} bytes declared, {guard.bytes_left} allowed")

    def names(self) -> list[str]:
        return list(self.members)

    def encrypted(self, name: str) -> bool:
        return bool(self.members[name].flag_bits & 0x1)

    @contextmanager
    def open(self, name: str) -> Iterator[_GuardedStream]:
        """A member as a stream that counts what it really produces (a header may lie)."""
        info = self.members.get(name)
        if info is None:
            raise Refused("corrupt", "a part the format requires is missing")
        if self.encrypted(name):
            raise Refused("encrypted", "password-protected archive member")
        try:
            handle = self._zip.open(info)
        except UNREADABLE as error:
            raise Refused("corrupt", f"unreadable member ({type(error).__name__})") from None
        stream = _GuardedStream(handle, info, self._guard)
        try:
            yield stream
        finally:
            handle.close()

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """A whole member (at most ``max_bytes`` of it), read under the guard."""
        parts, size = [], 0
        with self.open(name) as stream:
            while max_bytes is None or size < max_bytes:
                piece = stream.read(STREAM_CHUNK)
                if not piece:
                    break
                parts.append(piece)
                size += len(piece)
        data = b"".join(parts)
        return data if max_bytes is None else data[:max_bytes]


class _GuardedStream(io.RawIOBase):
    def __init__(self, handle: IO[bytes], info: zipfile.ZipInfo, guard: Guard) -> None:
        super().__init__()
        self._handle = handle
        self._info = info
        self._guard = guard
        self._produced = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._guard.check_time()
        limits = self._guard.limits
        try:
            data = self._handle.read(STREAM_CHUNK if size is None or size < 0 else min(size, STREAM_CHUNK))
        except UNREADABLE as error:
            raise Refused("corrupt", f"unreadable member ({type(error).__name__})") from None
        self._produced += len(data)
        self._guard.spend(len(data))
        if self._produced > self._info.file_size:
            raise Refused("zip_bomb", "a member is larger than declared")
        if self._produced > limits.ratio_floor_bytes and self._produced / max(1, self._info.compress_size) > (
            limits.max_compression_ratio
        ):
            raise Refused("zip_bomb", f"a member expands more than {limits.max_compression_ratio}x")
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def gunzip(data: bytes, guard: Guard) -> tuple[bytes, bool]:
    """A gzip file's content (every member of a concatenated one), decompressed step by step under
    the guard, and whether it was cut short: the bytes it expands to are spent from the file's
    budget, decompression stops where that budget ends, and a ratio beyond the limit is a bomb
    whatever the header says (gzip records the size modulo 4 GiB only)."""
    limits = guard.limits
    parts: list[bytes] = []
    produced = 0
    pending = data
    while pending:
        inflater = zlib.decompressobj(wbits=31)
        while not inflater.eof:
            guard.check_time()
            try:
                piece = inflater.decompress(pending, STREAM_CHUNK)
            except zlib.error as error:
                raise Refused("corrupt", f"not a readable gzip file ({error})") from None
            pending = inflater.unconsumed_tail
            if not piece and not pending:
                raise Refused("corrupt", "gzip data end early")
            produced += len(piece)
            consumed = len(data) - len(pending)  # a bomb shows in its first megabyte, not only at its end
            if produced > limits.ratio_floor_bytes and produced / max(1, consumed) > limits.max_compression_ratio:
                raise Refused("zip_bomb", f"gzip expands more than {limits.max_compression_ratio}x")
            if len(piece) > guard.bytes_left:
                parts.append(piece[: guard.bytes_left])
                guard.spend(guard.bytes_left)
                return b"".join(parts), True
            guard.spend(len(piece))
            parts.append(piece)
        pending = inflater.unused_data.lstrip(b"\x00")  # members may follow; trailing zeros are padding
    return b"".join(parts), False


class TarArchive:
    """A tar archive (already decompressed: ``gunzip`` spent its bytes) opened under a guard: regular
    files only (links, devices and the like are never followed), as many as the limits allow."""

    def __init__(self, data: bytes, guard: Guard) -> None:
        limits = guard.limits
        try:
            self._tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - lives with the archive
            infos = []
            for info in self._tar:
                infos.append(info)
                if len(infos) > limits.max_archive_members:
                    raise Refused("too_many_members", f"more than {limits.max_archive_members} members")
        except tarfile.TarError as error:
            raise Refused("corrupt", f"not a readable tar archive ({type(error).__name__})") from None
        self.members = {info.name: info for info in infos if info.isreg()}

    def names(self) -> list[str]:
        return list(self.members)

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        info = self.members[name]
        try:
            handle = self._tar.extractfile(info)
            data = handle.read(max_bytes if max_bytes is not None else -1) if handle is not None else b""
        except (tarfile.TarError, OSError) as error:
            raise Refused("corrupt", f"unreadable member ({type(error).__name__})") from None
        return data

    def encrypted(self, name: str) -> bool:
        return False
