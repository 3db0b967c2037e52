"""Fetcher: a file reference in, the file's text out as inspection items on the inspect queue.

``files.info`` first (size, type, mode, download URL), then a streamed download with the bot
token that stops at the size cap, then extraction and chunking. What cannot be inspected —
too large, an external link, deleted before download, an unsupported, corrupt or encrypted
file — is recorded with its reason (log, metric, audit trail) and the record succeeds; only a
failure that a retry can fix (Slack or the network down) fails the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_dlp.files.chunk import DEFAULT_CHUNK_CHARS, DEFAULT_OVERLAP_CHARS, Chunk, chunk_segments
from slack_dlp.files.extract import Limits, Skipped, extract, kind_of
from slack_dlp.model import FileRef, InspectionItem, MessageKind, MessageRef
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import Publisher
from slack_dlp.slack.actions import NotifyError
from slack_dlp.triage import AuditLog

GONE = frozenset({"file_not_found", "file_deleted"})
#: Skip reasons worth telling the security team about: the file may hold anything.
UNREADABLE = frozenset({"too_large", "encrypted", "zip_bomb", "too_many_members", "too_deep", "timeout", "unsafe_xml"})


class TooLarge(Exception):
    """The download passed the size cap; the rest was not read."""


class FileGone(Exception):
    """The file was deleted between files.info and the download."""


class FileSource(Protocol):
    def info(self, file_id: str) -> dict[str, Any]:
        """files.info's ``file`` object. Raises NotifyError."""
        ...

    def download(self, url: str, max_bytes: int) -> bytes:
        """The file's bytes. Raises TooLarge past ``max_bytes``, OSError when the download fails."""
        ...


class SlackFileSource:
    def __init__(self, client: Callable[[], Any], token: Callable[[], str], timeout: float = 30) -> None:
        self._client = client
        self._token = token
        self._timeout = timeout

    def info(self, file_id: str) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        from slack_dlp.slack.notifier import notify_error

        try:
            response = self._client().files_info(file=file_id)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None
        file = response.get("file")
        return dict(file) if isinstance(file, dict) else {}

    def download(self, url: str, max_bytes: int) -> bytes:
        import urllib3

        http = urllib3.PoolManager(retries=False)
        try:
            response = http.request(
                "GET",
                url,
                headers={"Authorization": f"Bearer {self._token()}"},
                preload_content=False,
                timeout=self._timeout,
            )
        except urllib3.exceptions.HTTPError as error:
            raise OSError(type(error).__name__) from None
        try:
            if response.status in (404, 410):
                raise FileGone(str(response.status))
            if response.status != 200:
                raise OSError(f"download answered HTTP {response.status}")
            chunks, size = [], 0
            for piece in response.stream(64 * 1024):
                size += len(piece)
                if size > max_bytes:
                    raise TooLarge(str(size))
                chunks.append(piece)
            return b"".join(chunks)
        except urllib3.exceptions.HTTPError as error:
            raise OSError(type(error).__name__) from None
        finally:
            response.release_conn()


@dataclass(frozen=True)
class FileOutcome:
    chunks: int = 0
    skipped: str = ""


class FileInspector:
    def __init__(
        self,
        source: FileSource,
        inspect_queue: Publisher,
        *,
        audit: AuditLog | None = None,
        limits: Limits | None = None,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        overlap_chars: int = DEFAULT_OVERLAP_CHARS,
        report_uninspected: Callable[[str], None] | None = None,
    ) -> None:
        self._report_uninspected = report_uninspected
        self._source = source
        self._queue = inspect_queue
        self._audit = audit
        self._limits = limits or Limits()
        self._chunk_chars = chunk_chars
        self._overlap_chars = overlap_chars

    def process(self, ref: FileRef) -> FileOutcome:
        try:
            info = self._source.info(ref.file_id)
        except NotifyError as error:
            if error.code in GONE:
                return self._skip(ref, {}, "deleted", error.code)
            raise
        name = str(info.get("name") or info.get("title") or ref.file_id)
        if info.get("is_external") or info.get("mode") == "external":
            return self._skip(ref, info, "external_link", str(info.get("external_type", "")))
        if int(info.get("size") or 0) > self._limits.max_file_bytes:
            return self._skip(ref, info, "too_large", f"{info.get('size')} bytes")
        if not kind_of(name, str(info.get("filetype", "")), str(info.get("mimetype", ""))):
            return self._skip(ref, info, "unsupported_type", str(info.get("filetype") or name))
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str):
            return self._skip(ref, info, "no_download_url")
        try:
            data = self._source.download(url, self._limits.max_file_bytes)
        except TooLarge as error:
            return self._skip(ref, info, "too_large", f"more than {error} bytes")
        except FileGone as error:
            return self._skip(ref, info, "deleted", f"download answered HTTP {error}")
        extracted = extract(
            name, data, filetype=str(info.get("filetype", "")), mimetype=str(info.get("mimetype", "")),
            limits=self._limits,
        )  # fmt: skip
        if isinstance(extracted, Skipped):
            return self._skip(ref, info, extracted.reason, extracted.detail)
        chunks = chunk_segments(extracted.segments, self._chunk_chars, self._overlap_chars)
        for chunk in chunks:
            item = InspectionItem(ref=self._ref(ref, info, name, chunk), text=chunk.text)
            self._queue.publish(item.to_json())
        metrics.add_metric(name="FileChunksEnqueued", unit="Count", value=len(chunks))
        logger.info("file queued for inspection", extra={"file_id": ref.file_id, "chunks": len(chunks),
                                                          "truncated": extracted.truncated})  # fmt: skip
        return FileOutcome(chunks=len(chunks))

    @staticmethod
    def _ref(ref: FileRef, info: dict[str, Any], name: str, chunk: Chunk) -> MessageRef:
        channels = info.get("channels") or info.get("groups") or info.get("ims") or []
        channel = ref.channel_id or (str(channels[0]) if channels else "")
        return MessageRef(
            team_id=ref.team_id,
            channel_id=channel,
            ts=ref.ts or str(info.get("timestamp") or ""),
            user_id=ref.user_id or str(info.get("user") or ""),
            event_id=ref.event_id,
            kind=MessageKind.FILE,
            file_id=ref.file_id,
            file_name=name,
            file_where=chunk.where,
            file_chunk=chunk.index,
            file_member=chunk.member,
            file_link=str(info.get("permalink") or ""),
            enterprise_id=ref.enterprise_id,
        )

    def _skip(self, ref: FileRef, info: dict[str, Any], reason: str, detail: str = "") -> FileOutcome:
        metrics.add_metric(name="FilesSkipped", unit="Count", value=1)
        logger.info("file not inspected", extra={"file_id": ref.file_id, "reason": reason, "detail": detail[:100]})
        if self._audit is not None:
            self._audit.record(
                "file_skipped",
                file_id=ref.file_id,
                file_name=str(info.get("name", "")),
                team_id=ref.team_id,
                enterprise_id=ref.enterprise_id,
                channel=ref.channel_id,
                reason=reason,
                detail=detail[:200],
            )
        if self._report_uninspected is not None and reason in UNREADABLE:
            name = str(info.get("name") or ref.file_id)
            who = f" shared by <@{ref.user_id}>" if ref.user_id else ""
            where = f" in <#{ref.channel_id}>" if ref.channel_id else ""
            text = f":grey_question: slack-dlp could not inspect `{name}`{who}{where}: {reason.replace('_', ' ')}."
            try:
                self._report_uninspected(text)
            except Exception as error:  # best effort: the skip is recorded either way
                logger.warning("could-not-inspect notice failed", extra={"error": type(error).__name__})
        return FileOutcome(skipped=reason)
