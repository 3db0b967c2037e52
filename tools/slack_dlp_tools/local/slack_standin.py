"""A local stand-in for the Slack Web API: enough of it for the reporter, recorded for people and tests.

Serves ``/api/<method>`` like https://slack.com/api/, checks the bot token, records every alert
(printed readably and appended as one JSON line to ``alerts.jsonl``) and can be told to fail
(``POST /_standin/faults``) so tests can drive rate limits and revoked tokens. Coverage: ``auth.test``,
``auth.teams.list``, ``conversations.list`` and ``conversations.join`` over conversations seeded with
``POST /_standin/channels`` (or ``add_channel``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from slack_dlp_tools.local.background import BackgroundServer, JsonHandler, StatefulServer


@dataclass
class Fault:
    """Answer the next ``count`` calls of ``method`` with ``error`` (HTTP 429 for ratelimited)."""

    method: str
    error: str
    count: int = 1
    retry_after: int = 1


@dataclass
class SeededHistory:
    """Conversations with their messages and thread replies, served like Slack serves them: history
    newest first, replies parent first, both paged with opaque cursors and filtered by oldest/latest."""

    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    replies: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def seed(self, spec: dict[str, Any]) -> dict[str, int]:
        for channel in spec.get("channels") or []:
            self.channels[str(channel["id"])] = {"is_member": True, **channel}
        added = 0
        for channel_id, messages in (spec.get("messages") or {}).items():
            self.messages.setdefault(channel_id, []).extend(dict(m) for m in messages)
            added += len(messages)
        for channel_id, threads in (spec.get("replies") or {}).items():
            for thread_ts, thread in threads.items():
                self.replies.setdefault(channel_id, {})[str(thread_ts)] = [dict(m) for m in thread]
                added += len(thread)
        return {"channels": len(self.channels), "messages": added}

    def history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        refused = self._refused(channel)
        if refused:
            return refused
        window = _in_window(args)
        messages = sorted((m for m in self.messages.get(channel, []) if window(m)), key=_ts, reverse=True)
        return _paged([self._with_thread_summary(channel, m) for m in messages], args)

    def _with_thread_summary(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        """A parent as history lists it: with its reply count and the ts of its latest reply."""
        thread = self.replies.get(channel, {}).get(str(message.get("ts")))
        replies = [m for m in thread or [] if m.get("ts") != message.get("ts")]
        if not replies:
            return message
        latest = max(replies, key=_ts)["ts"]
        return {**message, "thread_ts": message["ts"], "reply_count": len(replies), "latest_reply": latest}

    def thread(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel", "")), str(args.get("ts", ""))
        refused = self._refused(channel)
        if refused:
            return refused
        thread = self.replies.get(channel, {}).get(thread_ts)
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        window = _in_window(args)
        parent = [m for m in thread if m.get("ts") == thread_ts]
        replies = sorted((m for m in thread if m.get("ts") != thread_ts and window(m)), key=_ts)
        return _paged(parent + replies, args)

    def member_conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [{"id": c["id"], "name": c.get("name", ""), "is_private": bool(c.get("is_private"))}
                    for c in self.channels.values() if c.get("is_member")]  # fmt: skip
        return _paged(channels, args, key="channels")

    def _refused(self, channel: str) -> dict[str, Any] | None:
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if not self.channels[channel].get("is_member"):
            return {"ok": False, "error": "not_in_channel"}
        return None


def _ts(message: dict[str, Any]) -> float:
    return float(message.get("ts") or 0)


def _in_window(args: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    try:
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")
    except ValueError:
        oldest, latest = 0.0, float("inf")  # Slack ignores a timestamp it cannot read
    return lambda m: oldest < _ts(m) < latest


def _paged(items: list[dict[str, Any]], args: dict[str, Any], key: str = "messages") -> dict[str, Any]:
    cursor = str(args.get("cursor") or "")
    try:
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
    except (ValueError, UnicodeDecodeError):
        return {"ok": False, "error": "invalid_cursor"}
    try:
        limit = max(1, min(999, int(args.get("limit") or 100)))
    except ValueError:
        return {"ok": False, "error": "invalid_limit"}
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
    return {"ok": True, key: page, "has_more": more, "response_metadata": {"next_cursor": next_cursor}}


HISTORY_METHODS: dict[str, Callable[[SeededHistory, dict[str, Any]], dict[str, Any]]] = {
    "conversations.history": SeededHistory.history,
    "conversations.replies": SeededHistory.thread,
    "users.conversations": SeededHistory.member_conversations,
}


@dataclass
class StandInState:
    token: str
    #: Other tokens Slack would accept (an admin's user token).
    extra_tokens: tuple[str, ...] = ()
    alerts_file: Path | None = None
    echo: Callable[[str], None] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    #: Shared files: id -> files.info metadata plus the bytes under "_content".
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: User groups: id -> member user ids (``usergroups.users.list``).
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    base_url: str = ""
    #: Seeded history (POST /_standin/history): conversations, their messages, and thread replies.
    history: SeededHistory = field(default_factory=SeededHistory)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    #: Conversations: id -> a conversations.list channel object (``is_member`` for the bot).
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Enterprise Grid: the org id of an org-wide install (auth.test, auth.teams.list); "" for one workspace.
    enterprise_id: str = ""
    #: The workspaces the token reaches (the first one is auth.test's team).
    teams: tuple[str, ...] = ("T0LOCAL",)

    def next_ts(self) -> str:
        with self.lock:
            self.counter += 1
            return f"{int(time.time())}.{self.counter:06d}"

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method in (method, "*") and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None


class _Handler(JsonHandler):
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_standin/"):
            self._control(url.path.removeprefix("/_standin/"), raw)
            return
        if url.path.startswith("/files-pri/"):
            self._download(url.path)
            return
        if not url.path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "unknown_path"})
            return
        method = url.path.removeprefix("/api/")
        args = dict(parse_qsl(url.query))
        args.update(_parse_body(raw, self.headers.get("Content-Type", "")))
        state = self.server.state
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or str(args.pop("token", ""))
        fault = state.take_fault(method)
        status, headers = 200, {}
        if fault is not None:
            status = 429 if fault.error == "ratelimited" else 200
            headers = {"Retry-After": str(fault.retry_after)} if status == 429 else {}
            answer: dict[str, Any] = {"ok": False, "error": fault.error}
        elif token != state.token and token not in state.extra_tokens:
            answer = {"ok": False, "error": "invalid_auth"}
        else:
            answer = _answer(state, method, args)
        with state.lock:
            auth = "bot" if token == state.token else "other"
            state.calls.append({"method": method, "args": args, "ok": answer["ok"], "at": time.time(), "auth": auth})
        self._send(status, answer, headers)

    def _download(self, path: str) -> None:
        """Like files.slack.com: the bot token in the Authorization header, or no file."""
        state = self.server.state
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        file_id = path.split("/")[3] if len(path.split("/")) > 3 else ""
        file = state.files.get(file_id)
        with state.lock:
            state.calls.append({"method": "files.download", "args": {"file": file_id}, "ok": file is not None,
                                "at": time.time(), "auth": "bot" if token == state.token else "other"})  # fmt: skip
        if token != state.token or file is None or file.get("_deleted") or file.get("_deleted_on_download"):
            self.send_response(403 if token != state.token else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data: bytes = file["_content"]
        self.send_response(200)
        self.send_header("Content-Type", str(file.get("mimetype") or "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _control(self, action: str, raw: bytes) -> None:
        state = self.server.state
        if action == "faults" and self.command == "POST":
            spec = json.loads(raw or b"{}")
            with state.lock:
                state.faults.append(Fault(**spec))
            self._send(200, {"ok": True})
        elif action == "history" and self.command == "POST":
            try:
                with state.lock:
                    added = state.history.seed(json.loads(raw or b"{}"))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                self._send(400, {"ok": False, "error": f"bad history: {type(error).__name__}"})
                return
            self._send(200, {"ok": True, **added})
        elif action == "calls":
            with state.lock:
                self._send(200, {"ok": True, "calls": list(state.calls)})
        elif action == "channels":
            self._channels_control(raw)
        elif action == "reset" and self.command == "POST":
            with state.lock:
                state.calls.clear()
                state.faults.clear()
            self._send(200, {"ok": True})
        else:
            self._send(404, {"ok": False, "error": "unknown_control"})

    def _channels_control(self, raw: bytes) -> None:
        """``POST /_standin/channels {"channels": [{"id", "name", ...}]}`` seeds conversations;
        ``GET`` lists them with the bot's membership."""
        state = self.server.state
        if self.command == "POST":
            for channel in json.loads(raw or b"{}").get("channels", []):
                add_channel(state, **channel)
        with state.lock:
            self._send(200, {"ok": True, "channels": list(state.channels.values())})


def add_channel(
    state: StandInState,
    id: str,  # Slack's field name, so seeds can be channel objects as Slack shows them
    name: str = "",
    *,
    is_private: bool = False,
    is_archived: bool = False,
    is_member: bool = False,
    team_id: str = "",
) -> dict[str, Any]:
    """A conversation as conversations.list shows it."""
    channel = {
        "id": id, "name": name or id.lower(), "is_channel": not is_private, "is_group": is_private,
        "is_private": is_private, "is_archived": is_archived, "is_member": is_member, "is_im": False,
        "is_mpim": False, "context_team_id": team_id or state.teams[0], "created": int(time.time()),
        "num_members": 3,
    }  # fmt: skip
    with state.lock:
        state.channels[id] = channel
    return channel


def _auth_test(state: StandInState, args: dict[str, Any]) -> dict[str, Any]:
    answer = {"ok": True, "url": "https://local.slack.test/", "team": "Local", "user": "slack-dlp",
              "team_id": state.teams[0], "user_id": "U0DLPBOT", "bot_id": "B0DLPBOT",
              "is_enterprise_install": bool(state.enterprise_id)}  # fmt: skip
    return answer | ({"enterprise_id": state.enterprise_id} if state.enterprise_id else {})


def _auth_teams_list(state: StandInState, args: dict[str, Any]) -> dict[str, Any]:
    """The workspaces an org-wide install reaches."""
    teams = [{"id": team, "name": team.lower()} for team in state.teams]
    return {"ok": True, "teams": teams, "response_metadata": {"next_cursor": ""}}


def _conversations_list(state: StandInState, args: dict[str, Any]) -> dict[str, Any]:
    """Paginated with ``cursor``/``limit`` like Slack; ``types``, ``exclude_archived``, ``team_id``."""
    types = set(str(args.get("types") or "public_channel").split(","))
    exclude_archived = str(args.get("exclude_archived", "")).lower() in ("true", "1")
    team = str(args.get("team_id") or "")
    if state.enterprise_id and not team:
        return {"ok": False, "error": "missing_argument"}  # an org-wide token must name the workspace
    with state.lock:
        channels = [
            dict(c) for c in state.channels.values()
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and not (exclude_archived and c["is_archived"]) and (not team or c["context_team_id"] == team)
        ]  # fmt: skip
    limit = max(1, min(1000, int(args.get("limit") or 100)))
    start = int(args.get("cursor") or 0)
    following = start + limit
    return {
        "ok": True,
        "channels": channels[start:following],
        "response_metadata": {"next_cursor": str(following) if following < len(channels) else ""},
    }


def _conversations_join(state: StandInState, args: dict[str, Any]) -> dict[str, Any]:
    """Public channels only; joining one the bot is in answers ok with ``already_in_channel``."""
    with state.lock:
        channel = state.channels.get(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel["is_private"]:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        if channel["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        already = channel["is_member"]
        channel["is_member"] = True
        answer: dict[str, Any] = {"ok": True, "channel": dict(channel)}
    if already:
        answer |= {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
    return answer


#: Coverage: who the token is, which workspaces and public channels it sees, joining them.
_COVERAGE_METHODS: dict[str, Callable[[StandInState, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": _auth_test,
    "auth.teams.list": _auth_teams_list,
    "conversations.list": _conversations_list,
    "conversations.join": _conversations_join,
}


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}
    parsed: dict[str, Any] = dict(parse_qsl(raw.decode("utf-8")))
    for key in ("blocks", "attachments"):
        if isinstance(parsed.get(key), str):
            parsed[key] = json.loads(parsed[key])
    return parsed


def _answer(state: StandInState, method: str, args: dict[str, Any]) -> dict[str, Any]:
    if method in HISTORY_METHODS:
        with state.lock:
            return HISTORY_METHODS[method](state.history, args)
    if method in _COVERAGE_METHODS:
        return _COVERAGE_METHODS[method](state, args)
    if method == "files.info":
        file = state.files.get(str(args.get("file", "")))
        if file is None or file.get("_deleted"):
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": {k: v for k, v in file.items() if not k.startswith("_")}}
    if method == "usergroups.users.list":
        members = state.usergroups.get(str(args.get("usergroup", "")))
        return {"ok": True, "users": members} if members is not None else {"ok": False, "error": "no_such_subteam"}
    if method == "chat.getPermalink":
        channel, ts = args.get("channel", ""), str(args.get("message_ts", ""))
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://local.slack.test/archives/{channel}/p{ts.replace('.', '')}",
        }
    if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
        ts = str(args.get("ts") or state.next_ts())
        _record_alert(state, method, args, ts)
        return {"ok": True, "channel": args.get("channel", ""), "ts": ts, "message_ts": ts}
    return {"ok": True}


def _record_alert(state: StandInState, method: str, args: dict[str, Any], ts: str) -> None:
    entry = {"method": method, "ts": ts, **args}
    if state.alerts_file is not None:
        state.alerts_file.parent.mkdir(parents=True, exist_ok=True)
        with state.lock, state.alerts_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    if state.echo is not None:
        state.echo(render(entry))


def render(entry: dict[str, Any]) -> str:
    """A readable rendering of an alert: its fallback text and the text of its blocks."""
    lines = [f"── Slack {entry.get('method')} → {entry.get('channel')} ──", str(entry.get("text", ""))]
    for block in entry.get("blocks") or []:
        texts = [block.get("text")] if isinstance(block.get("text"), dict) else []
        texts += block.get("fields") or []
        texts += block.get("elements") or []
        for text in texts:
            if isinstance(text, dict) and text.get("text"):
                lines.extend("   " + line for line in str(text["text"]).splitlines())
    return "\n".join(lines)


class SlackStandIn(BackgroundServer):
    """Runs the stand-in on a background thread: ``with SlackStandIn(token=...) as slack: slack.api_url``."""

    def __init__(
        self,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        alerts_file: Path | None = None,
        echo: Callable[[str], None] | None = None,
        extra_tokens: tuple[str, ...] = (),
    ) -> None:
        self.state = StandInState(token=token, extra_tokens=extra_tokens, alerts_file=alerts_file, echo=echo)
        super().__init__(StatefulServer((host, port), _Handler, self.state), "slack-standin")

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def alerts(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [c for c in self.state.calls if c["method"] == "chat.postMessage" and c["ok"]]

    def alerted_items(self) -> int:
        """Messages or files alerted on: one per alert, one per section of a digest."""
        count = 0
        for call in self.alerts():
            blocks = call["args"].get("blocks") or []
            sections = sum(str(b.get("block_id", "")).startswith("dlp_triage") for b in blocks)
            count += max(1, sections)
        return count

    def add_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        *,
        filetype: str = "",
        mimetype: str = "",
        size: int | None = None,
        mode: str = "hosted",
        deleted_before_download: bool = False,
    ) -> None:
        """Make a file available through files.info and an authenticated download URL."""
        with self.state.lock:
            self.state.files[file_id] = {
                "id": file_id,
                "name": name,
                "title": name,
                "filetype": filetype,
                "mimetype": mimetype,
                "size": len(content) if size is None else size,
                "mode": mode,
                "is_external": mode == "external",
                "url_private_download": f"{self.base_url}/files-pri/T0LOCAL-{file_id}/{file_id}/download/{name}",
                "permalink": f"https://local.slack.test/files/U0/{file_id}/{name}",
                "timestamp": int(time.time()),
                "created": int(time.time()),
                "_content": content,
                "_deleted": False,
            }
            if deleted_before_download:
                self.state.files[file_id]["_deleted_on_download"] = True

    def seed_history(self, spec: dict[str, Any]) -> dict[str, int]:
        """Like ``POST /_standin/history``."""
        with self.state.lock:
            return self.state.history.seed(spec)

    def add_channel(self, channel_id: str, name: str = "", **flags: Any) -> dict[str, Any]:
        """A conversation for conversations.list/join (``is_private``, ``is_archived``, ``is_member``, ``team_id``)."""
        return add_channel(self.state, channel_id, name, **flags)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [c for c in self.state.calls if c["method"] == method]

    def add_fault(self, fault: Fault) -> None:
        with self.state.lock:
            self.state.faults.append(fault)
