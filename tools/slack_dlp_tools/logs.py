"""The functions' logs of a deployed stack, and the distinct errors in them.

Used by ``slack-dlp smoke`` (CloudWatch Logs, AWS or MiniStack) and by ``make run`` when the
expected alerts do not arrive (CloudWatch Logs of MiniStack, and MiniStack's own log, where a
function that fails to start, such as one with wheels for another platform, leaves its error).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Logical ids of the functions' log groups start with the function's construct id.
FUNCTIONS = ("Ingest", "Inspector", "Reporter", "Interactions", "Fetcher")
#: What a line that reports an error looks like, besides Powertools' JSON with level ERROR.
_ERROR_LINE = re.compile(r"^(\[ERROR\]|Task timed out|Runtime\.\w+|[\w.]*(Error|Exception)\b:)")
#: Parts of error messages that differ between occurrences of the same error: paths (a worker's
#: temporary code directory) and request ids.
_VOLATILE = re.compile(r"(?:/[\w.-]+){2,}|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_EMULATOR_ERROR = re.compile(
    r"\[lambda\] (?:Warm worker execution error for (?P<fn>[\w-]+): (?P<msg>.+)"
    r"|ESM: Lambda (?P<esm_fn>[\w-]+) failed processing .*?errorMessage=(?P<esm_msg>.+?)\)?$)"
)
_MAX_LINE = 300


@dataclass(frozen=True)
class LogLine:
    function: str
    timestamp_ms: int
    message: str

    @property
    def record(self) -> dict[str, Any]:
        """The line as Powertools' structured JSON, or empty."""
        if not self.message.startswith("{"):
            return {}
        try:
            parsed = json.loads(self.message)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


def _summary(function: str, text: str) -> str:
    return f"{function}: {text.strip().splitlines()[0][:_MAX_LINE]}"


def distinct(errors: Iterable[str]) -> list[str]:
    """Each error once (ignoring temp paths and request ids), in order of first appearance."""
    seen: dict[str, str] = {}
    for error in errors:
        seen.setdefault(_VOLATILE.sub("…", error), error)
    return list(seen.values())


def error_summary(line: LogLine) -> str | None:
    """The first line of an error this log line reports, prefixed with its function; else None."""
    record = line.record
    if record:
        if str(record.get("level", "")).upper() not in ("ERROR", "CRITICAL"):
            return None
        detail = record.get("slack_error") or record.get("error") or record.get("exception_name") or ""
        return _summary(line.function, f"{record.get('message', '')}{f' ({detail})' if detail else ''}")
    if _ERROR_LINE.match(line.message.strip()):
        return _summary(line.function, line.message)
    return None


@dataclass
class StackLogs:
    """The log groups of a stack's functions, read with one CloudWatch Logs client."""

    client: Any
    groups: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_stack(cls, cloudformation: Any, logs: Any, stack_name: str) -> StackLogs:
        groups: dict[str, str] = {}
        paginator = cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack_name):
            for resource in page.get("StackResourceSummaries", []):
                if resource.get("ResourceType") != "AWS::Logs::LogGroup":
                    continue
                logical = str(resource.get("LogicalResourceId", ""))
                function = next((f for f in FUNCTIONS if logical.startswith(f + "Logs")), None)
                if function and resource.get("PhysicalResourceId"):
                    groups[function] = str(resource["PhysicalResourceId"])
        return cls(logs, groups)

    def lines(self, since_ms: int, functions: Iterable[str] | None = None) -> list[LogLine]:
        found: list[LogLine] = []
        for function in functions or self.groups:
            group = self.groups.get(function)
            if group is None:
                continue
            try:
                pages = self.client.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms)
                for page in pages:
                    for event in page.get("events", []):
                        for message in str(event.get("message", "")).splitlines() or [""]:
                            found.append(LogLine(function, int(event.get("timestamp", 0)), message))
            except self.client.exceptions.ResourceNotFoundException:
                continue  # a function that never ran has no log group yet
        return sorted(found, key=lambda line: line.timestamp_ms)

    def errors(self, since_ms: int) -> list[str]:
        return distinct(summary for line in self.lines(since_ms) if (summary := error_summary(line)))


def emulator_errors(ministack_log: Path, since_line: int = 0) -> list[str]:
    """Lambda errors MiniStack logs itself (a function that cannot even start is only here)."""
    if not ministack_log.is_file():
        return []
    errors = []
    for line in ministack_log.read_text(errors="replace").splitlines()[since_line:]:
        match = _EMULATOR_ERROR.search(line)
        if match:
            function = match.group("fn") or match.group("esm_fn") or "?"
            errors.append(_summary(function, match.group("msg") or match.group("esm_msg") or ""))
    return distinct(errors)
