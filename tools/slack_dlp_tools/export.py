"""Slack workspace exports, read as a stream and scanned offline with the built-in engine.

An export is a ZIP of ``channels.json``, ``users.json`` (and ``groups.json``, ``dms.json``,
``mpims.json`` on plans that export private data) and one folder per conversation holding
``YYYY-MM-DD.json`` arrays of messages. One day file is in memory at a time; texts go to the engine
in batches. What is scanned per message: its ``text`` (Slack's escapes of ``&`` ``<`` ``>``
decoded; offsets point into the decoded text), the text of its ``attachments`` (bot and
integration posts: CI logs, deploy notices) and the text Slack keeps of shared files
(``preview``/``plain_text`` of snippets and posts).
"""

from __future__ import annotations

import json
import re
import struct
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from isal import isal_zlib

from slack_dlp.model import Finding
from slack_dlp.slack.events import unescape

METADATA_FILES = ("channels.json", "groups.json", "dms.json", "mpims.json")
#: ``<conversation>/<YYYY-MM-DD>.json``, also under one top folder (an export unzipped and zipped again).
_DAY_FILE = re.compile(r"^(?P<top>[^/]+/)?(?P<folder>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json$")
_ATTACHMENT_FIELDS = ("pretext", "title", "text", "fallback", "footer")


class _File(msgspec.Struct, gc=False):
    id: Any = ""
    name: Any = ""
    preview: Any = None
    plain_text: Any = None


class _Field(msgspec.Struct, gc=False):
    value: Any = None


class _Attachment(msgspec.Struct, gc=False):
    pretext: Any = None
    title: Any = None
    text: Any = None
    fallback: Any = None
    footer: Any = None
    fields: list[_Field] | None = None


class _Message(msgspec.Struct, gc=False):
    """The fields of an exported message that are scanned or reported; the rest (blocks, user
    profiles, reactions) is skipped by the decoder without being built."""

    text: Any = None
    ts: Any = ""
    user: Any = ""
    bot_id: Any = ""
    thread_ts: Any = ""
    attachments: list[_Attachment] | None = None
    files: list[_File] | None = None


#: The exception class ISA-L raises on a bad stream (its stub types it as an instance).
INFLATE_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]
_DECODER = msgspec.json.Decoder(list[_Message])


class ExportError(ValueError):
    """Not a readable Slack export; the message says what is wrong, never any message text."""


@dataclass(frozen=True)
class Unit:
    """One text to scan and where it came from (a message's text, an attachment, a file's text)."""

    channel: str
    ts: str
    user: str
    thread_ts: str
    text: str
    file: str = ""
    attachment: int = -1

    def location(self) -> dict[str, Any]:
        where: dict[str, Any] = {"channel": self.channel, "ts": self.ts, "user": self.user}
        if self.thread_ts:
            where["thread_ts"] = self.thread_ts
        if self.file:
            where["file"] = self.file
        if self.attachment >= 0:
            where["attachment"] = self.attachment
        return where


@dataclass
class ExportReport:
    conversations: int = 0
    messages: int = 0
    texts: int = 0
    text_bytes: int = 0
    seconds: float = 0.0
    with_findings: int = 0
    by_conversation: Counter[str] = field(default_factory=Counter)
    by_detector: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    private_conversations: set[str] = field(default_factory=set)

    @property
    def findings(self) -> int:
        return sum(self.by_detector.values())

    @property
    def megabytes_per_second(self) -> float:
        return self.text_bytes / 1e6 / self.seconds if self.seconds else 0.0

    def add(self, unit: Unit, findings: Sequence[Finding]) -> None:
        self.with_findings += 1
        for finding in findings:
            self.by_conversation[unit.channel] += 1
            self.by_detector[finding.detector] += 1
            masked = self.examples.setdefault(finding.detector, [])
            if len(masked) < 3 and finding.masked not in masked:
                masked.append(finding.masked)

    def summary(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "texts": self.texts,
            "text_bytes": self.text_bytes,
            "seconds": round(self.seconds, 3),
            "megabytes_per_second": round(self.megabytes_per_second, 2),
            "texts_with_findings": self.with_findings,
            "findings": self.findings,
            "by_conversation": dict(self.by_conversation.most_common()),
            "by_detector": dict(self.by_detector.most_common()),
            "masked_examples": self.examples,
            "private_conversations_with_findings": sorted(self.private_conversations & set(self.by_conversation)),
        }


class Export:
    """A Slack export ZIP: its conversations' metadata, and its messages as a stream of texts."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as error:
            raise ExportError(f"{path} is not a readable ZIP file ({type(error).__name__})") from None
        names = self._zip.namelist()
        #: Where channels.json is: the export's root (top level, or one folder down); None without one.
        root = next((n.removesuffix("channels.json") for n in sorted(names, key=len)
                     if n.rsplit("/", 1)[-1] == "channels.json" and n.count("/") <= 1), None)  # fmt: skip
        self._root = root or ""
        self.days = sorted(
            (info for info in self._zip.infolist()
             if (match := _DAY_FILE.match(info.filename)) and (root is None or (match["top"] or "") == root)),
            key=lambda i: i.filename,
        )  # fmt: skip
        if not self.days and not any(self._root + n in names for n in METADATA_FILES):
            raise ExportError(f"{path} holds no channels.json and no <conversation>/<YYYY-MM-DD>.json files")
        self.private: set[str] = set()
        for name in METADATA_FILES[1:]:
            self.private |= {_conversation_name(c) for c in self._metadata(name)}

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *_: object) -> None:
        self._zip.close()

    @property
    def compressed_bytes(self) -> int:
        return sum(info.file_size for info in self.days)

    def _metadata(self, name: str) -> list[Mapping[str, Any]]:
        if self._root + name not in self._zip.namelist():
            return []
        data = self._read(self._root + name)
        return [c for c in data if isinstance(c, Mapping)] if isinstance(data, list) else []

    def _read(self, name: str) -> Any:
        try:
            with self._zip.open(name) as source:
                return json.loads(source.read())
        except (ValueError, UnicodeDecodeError):
            raise ExportError(f"{name} in the export is not valid JSON") from None
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:  # RuntimeError: encrypted member
            raise ExportError(f"{name} cannot be read from the export ({type(error).__name__})") from None

    def day_files(self) -> Iterator[tuple[str, list[_Message], int]]:
        """(conversation, its messages that day, the file's size) for each day file, one at a time."""
        for info in self.days:
            yield info.filename.rsplit("/", 2)[-2], self._messages(info), info.file_size

    def _member(self, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes. Deflated ones are inflated with ISA-L (several times zlib's speed, the
        largest cost of a scan after the engine) and checked against their CRC; others by zipfile."""
        try:
            if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
                with self._zip.open(info) as source:
                    return source.read()
            archive = self._zip.fp
            if archive is None:
                raise zipfile.BadZipFile("closed")
            archive.seek(info.header_offset)
            header = archive.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile("bad local header")
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            archive.seek(info.header_offset + 30 + name_length + extra_length)
            data = isal_zlib.decompress(archive.read(info.compress_size), wbits=-15)
            if isal_zlib.crc32(data) != info.CRC:
                raise zipfile.BadZipFile("CRC mismatch")
            return bytes(data)
        except (zipfile.BadZipFile, INFLATE_ERROR, OSError, RuntimeError) as error:  # RuntimeError: encrypted
            raise ExportError(f"{info.filename} cannot be read from the export ({type(error).__name__})") from None

    def _messages(self, info: zipfile.ZipInfo) -> list[_Message]:
        name = info.filename
        raw = self._member(info)
        try:
            return _DECODER.decode(raw)
        except msgspec.ValidationError:
            pass  # a field of an unexpected shape somewhere: take the messages one by one
        except msgspec.DecodeError:
            raise ExportError(f"{name} in the export is not valid JSON") from None
        data = msgspec.json.decode(raw)
        if not isinstance(data, list):
            raise ExportError(f"{name} in the export is not a JSON array of messages")
        return [_lenient(m) for m in data if isinstance(m, dict)]


def _lenient(message: dict[str, Any]) -> _Message:
    try:
        return msgspec.convert(message, _Message)
    except msgspec.ValidationError:
        return _Message(text=message.get("text"), ts=message.get("ts", ""), user=message.get("user", ""),
                        thread_ts=message.get("thread_ts", ""))  # fmt: skip


def _conversation_name(conversation: Mapping[str, Any]) -> str:
    return str(conversation.get("name") or conversation.get("id") or "")


def _unit(channel: str, message: _Message, text: str, *, file: str = "", attachment: int = -1) -> Unit:
    return Unit(channel, str(message.ts or ""), str(message.user or message.bot_id or ""),
                str(message.thread_ts or ""), text, file=file, attachment=attachment)  # fmt: skip


def _extra_texts(message: _Message) -> Iterator[tuple[str, str, int]]:
    """(text, file name, attachment index) of a message's attachments and files."""
    for position, attachment in enumerate(message.attachments or ()):
        parts = [v for k in _ATTACHMENT_FIELDS if isinstance(v := getattr(attachment, k), str) and v]
        parts += [f.value for f in attachment.fields or () if isinstance(f.value, str) and f.value]
        if parts:
            yield unescape("\n".join(parts)), "", position
    for file in message.files or ():
        content = file.plain_text or file.preview
        if isinstance(content, str) and content:
            yield content, str(file.name or file.id or ""), -1


def scan_export(
    export: Export,
    engine: Any,
    *,
    batch_size: int = 1000,
    on_result: Callable[[Unit, Sequence[Finding]], None] | None = None,
    on_progress: Callable[[ExportReport, int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ExportReport:
    """Every text of the export through ``engine.scan_many`` in batches; findings counted, masked.

    The loop is the cost of a scan at tens of MB/s: a text's origin stays a plain tuple, and a
    ``Unit`` is made only for a text with findings."""
    report = ExportReport(private_conversations=set(export.private))
    conversations: set[str] = set()
    started = clock()
    read = 0
    texts: list[str] = []
    origins: list[tuple[str, _Message, str, int]] = []

    def flush() -> None:
        report.text_bytes += len("".join(texts).encode("utf-8", "surrogatepass"))
        report.texts += len(texts)
        for position, findings in enumerate(engine.scan_many(texts)):
            if findings:
                channel, message, file, attachment = origins[position]
                unit = _unit(channel, message, texts[position], file=file, attachment=attachment)
                report.add(unit, findings)
                if on_result is not None:
                    on_result(unit, findings)
        texts.clear()
        origins.clear()

    for channel, messages, size in export.day_files():
        conversations.add(channel)
        report.messages += len(messages)
        for message in messages:
            text = message.text
            if text and isinstance(text, str):
                texts.append(unescape(text))
                origins.append((channel, message, "", -1))
            if message.attachments or message.files:
                for extra, file, attachment in _extra_texts(message):
                    texts.append(extra)
                    origins.append((channel, message, file, attachment))
        if len(texts) >= batch_size:
            flush()
        read += size
        if on_progress is not None:
            report.seconds = clock() - started
            on_progress(report, read)
    flush()
    report.conversations = len(conversations)
    report.seconds = clock() - started
    return report


# -- writing exports (tests, benchmarks) -------------------------------------------------------------


def write_export(
    path: Path,
    conversations: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    private: Iterable[str] = (),
    users: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """An export ZIP in Slack's layout: each conversation's messages split into day files by ts."""
    private = set(private)
    public_meta: list[dict[str, Any]] = []
    private_meta: list[dict[str, Any]] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for position, (name, messages) in enumerate(conversations.items()):
            meta = {"id": f"C{position:08d}", "name": name, "created": 0, "is_private": name in private}
            (private_meta if name in private else public_meta).append(meta)
            days: dict[str, list[Mapping[str, Any]]] = {}
            for message in messages:
                day = time.strftime("%Y-%m-%d", time.gmtime(float(message.get("ts") or 0)))
                days.setdefault(day, []).append(message)
            for day, day_messages in sorted(days.items()):
                archive.writestr(f"{name}/{day}.json", json.dumps(day_messages))
        archive.writestr("channels.json", json.dumps(public_meta))
        archive.writestr("groups.json", json.dumps(private_meta))
        archive.writestr("users.json", json.dumps(list(users)))
    return path
