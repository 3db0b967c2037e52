"""A local DLP API speaking Google's v2 ``content:inspect``, with the quota enforced for real.

- at most ``requests_per_second`` requests in ANY 1-second window (sliding, at arrival): more get
  HTTP 429 ``RESOURCE_EXHAUSTED`` with ``Retry-After``;
- more than ``max_rows`` rows, or a body over ``max_bytes``: HTTP 400 ``INVALID_ARGUMENT``;
- unknown request fields: HTTP 400, as the real API rejects them;
- detection by the built-in engine, answered in the real wire format (int64 as strings, zero
  values omitted, so row 0 has an empty ``tableLocation``), after ``latency`` seconds.
``GET /_emulator/stats`` returns counters and the arrival time of every accepted request.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.model import Confidence
from slack_dlp_tools.local.background import BackgroundServer, JsonHandler, StatefulServer

_INFO_TYPE_OF = {
    "payment-card": "CREDIT_CARD_NUMBER",
    "iban": "IBAN_CODE",
    "us-bank-routing-number": "US_BANK_ROUTING_MICR",
    "us-ssn": "US_SOCIAL_SECURITY_NUMBER",
    "us-itin": "US_INDIVIDUAL_TAXPAYER_IDENTIFICATION_NUMBER",
    "uk-national-insurance-number": "UK_NATIONAL_INSURANCE_NUMBER",
    "canada-sin": "CANADA_SOCIAL_INSURANCE_NUMBER",
    "jwt": "JSON_WEB_TOKEN",
    "private-key": "ENCRYPTION_KEY",
    "private-key-truncated": "ENCRYPTION_KEY",
    "gcp-api-key": "GCP_API_KEY",
    "gcp-service-account-key": "GCP_CREDENTIALS",
    "generic-secret-assignment": "PASSWORD",
    "password-in-url": "PASSWORD",
    "database-connection-string": "PASSWORD",
}
_ALLOWED_FIELDS = {"item", "inspectConfig", "inspectTemplateName", "locationId"}
_LIKELIHOOD = {Confidence.HIGH: "VERY_LIKELY", Confidence.MEDIUM: "POSSIBLE", Confidence.LOW: "UNLIKELY"}


def info_type_of(detector: str) -> str:
    if detector.startswith("aws-"):
        return "AWS_CREDENTIALS"
    if detector.startswith("azure-"):
        return "AZURE_AUTH_TOKEN"
    return _INFO_TYPE_OF.get(detector, "AUTH_TOKEN")


@dataclass
class EmulatorState:
    requests_per_second: int
    max_rows: int
    max_bytes: int
    latency: float
    engine: DetectionEngine
    window: deque[float] = field(default_factory=deque)
    arrivals: list[float] = field(default_factory=list)
    rejections: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    rows: int = 0
    bad_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, now: float) -> float | None:
        """None if admitted, else the seconds until a request would be."""
        with self.lock:
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            if len(self.window) >= self.requests_per_second:
                self.rejected += 1
                self.rejections.append(now)
                return self.window[0] + 1.0 - now
            self.window.append(now)
            self.arrivals.append(now)
            self.accepted += 1
            return None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accepted": self.accepted,
                "rejected": self.rejected,
                "rows": self.rows,
                "bad_requests": self.bad_requests,
                "arrivals": list(self.arrivals),
                "rejections": list(self.rejections),
                "max_in_any_second": max_in_window(self.arrivals, 1.0),
            }


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered, best, first = sorted(times), 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


class _Handler(JsonHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/_emulator/stats"):
            self._send(200, self.server.state.stats())
        else:
            self._send(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "unknown path"}})

    def do_POST(self) -> None:
        arrived = time.time()
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.endswith("/content:inspect"):
            self._send(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "unknown method"}})
            return
        wait = state.admit(arrived)
        if wait is not None:
            self._send(429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), {"Retry-After": str(math.ceil(wait))})
            return
        problem, rows = self._validate(raw)
        if problem:
            with state.lock:
                state.bad_requests += 1
            self._send(400, _error(400, "INVALID_ARGUMENT", problem))
            return
        if state.latency:
            time.sleep(state.latency)
        response = inspect_response(json.loads(raw), rows, state.engine)
        with state.lock:
            state.rows += len(rows)
        self._send(200, response)

    def _validate(self, raw: bytes) -> tuple[str, list[str]]:
        state = self.server.state
        if len(raw) > state.max_bytes:
            return f"Request payload size exceeds the limit: {state.max_bytes} bytes.", []
        try:
            body = json.loads(raw)
            unknown = set(body) - _ALLOWED_FIELDS
            if unknown:
                return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"', []
            table = body["item"]["table"]
            rows = [str(r["values"][0].get("stringValue", "")) for r in table.get("rows", [])]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "Invalid JSON payload received.", []
        if len(rows) > state.max_rows:
            return f"Too many rows: {len(rows)} exceeds the limit of {state.max_rows}.", []
        return "", rows


def inspect_response(body: dict[str, Any], rows: list[str], engine: Any) -> dict[str, Any]:
    """What content:inspect answers for ``rows`` (a table of one text column), as Google writes it:
    int64 as strings, row 0 and offset 0 omitted."""
    wanted = {t.get("name") for t in body.get("inspectConfig", {}).get("infoTypes", [])}
    findings = []
    for row, findings_of_row in enumerate(engine.scan_many(rows)):
        for f in findings_of_row:
            info_type = info_type_of(f.detector)
            if wanted and info_type not in wanted:
                continue
            span = {"end": str(f.end)} | ({"start": str(f.start)} if f.start else {})
            findings.append({
                "infoType": {"name": info_type},
                "likelihood": _LIKELIHOOD[f.confidence],
                "location": {
                    "codepointRange": span,
                    "contentLocations": [{
                        "recordLocation": {
                            "fieldId": {"name": "text"},
                            "tableLocation": {"rowIndex": str(row)} if row else {},
                        }
                    }],
                },
            })  # fmt: skip
    return {"result": {"findings": findings}} if findings else {"result": {}}


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message}}


class DlpEmulator(BackgroundServer):
    """``with DlpEmulator(requests_per_second=10) as dlp: dlp.endpoint``"""

    def __init__(
        self,
        *,
        requests_per_second: int = 10,
        max_rows: int = 100,
        max_bytes: int = 500_000,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        engine = DetectionEngine(fingerprinter=Fingerprinter(b"dlp-emulator-fingerprint-key-000"))
        # A cold engine builds its DFA on the first texts and holds the GIL meanwhile, which would
        # delay the arrival time stamps of concurrent requests: warm it up before serving.
        from slack_dlp_tools.chatter import chatter

        texts = chatter(5_000, seed=3)
        for first in range(0, len(texts), 100):
            engine.scan_many(texts[first : first + 100])
        self.state = EmulatorState(requests_per_second, max_rows, max_bytes, latency, engine)
        super().__init__(StatefulServer((host, port), _Handler, self.state), "dlp-emulator")

    @property
    def endpoint(self) -> str:
        return self.base_url


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Local Google DLP v2 content:inspect emulator")
    parser.add_argument("--port", type=int, default=8642)
    parser.add_argument("--requests-per-second", type=int, default=10)
    parser.add_argument("--max-rows", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    emulator = DlpEmulator(
        requests_per_second=args.requests_per_second, max_rows=args.max_rows, latency=args.latency, port=args.port
    ).start()
    print(f"DLP emulator on {emulator.endpoint} ({args.requests_per_second} req/s, {args.max_rows} rows)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0
