"""Google Cloud Sensitive Data Protection (DLP v2) ``content:inspect``, batched as one table.

Up to ``max_items`` texts go out as one ``item.table`` (a row per text); findings come back to
their text through ``recordLocation.tableLocation.rowIndex``. Facts of the wire format this code
relies on: int64 fields arrive as JSON strings, and proto3 JSON omits zero values, so a finding in
row 0 has an empty ``tableLocation`` and one at offset 0 has no ``start``: every missing number is 0.
A request is split before it exceeds the API's size limit, and again if the API says it is too
large; the halves bound later requests too, so a container learns an API's lower limit once instead
of spending a refused request on it in every batch. Push-back (429, 5xx, time-outs, connection
errors) fails the affected items so SQS delivers them again, and tells the rate limiter to slow
down; a response that does not parse fails them loudly, never reports "clean".
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_dlp import jsonsafe
from slack_dlp.detect.engine import Fingerprinter, mask
from slack_dlp.dlp.base import DlpError, ItemOutcome
from slack_dlp.dlp.ratelimit import NoRateLimit, RateLimiter
from slack_dlp.model import Category, Confidence, Finding
from slack_dlp.observability import metrics

DEFAULT_ENDPOINT = "https://dlp.googleapis.com"
#: The API's default request size limit.
MAX_REQUEST_BYTES = 500_000

#: infoType -> (category, description); the list sent is explicit because Google's default set changes.
INFO_TYPES: dict[str, tuple[Category, str]] = {
    "CREDIT_CARD_NUMBER": (Category.FINANCIAL, "Payment card number"),
    "IBAN_CODE": (Category.FINANCIAL, "International Bank Account Number"),
    "US_BANK_ROUTING_MICR": (Category.FINANCIAL, "US bank routing number"),
    "SWIFT_CODE": (Category.FINANCIAL, "SWIFT code"),
    "US_SOCIAL_SECURITY_NUMBER": (Category.PERSONAL, "US Social Security number"),
    "US_INDIVIDUAL_TAXPAYER_IDENTIFICATION_NUMBER": (Category.PERSONAL, "US ITIN"),
    "UK_NATIONAL_INSURANCE_NUMBER": (Category.PERSONAL, "UK National Insurance number"),
    "CANADA_SOCIAL_INSURANCE_NUMBER": (Category.PERSONAL, "Canadian Social Insurance Number"),
    "PASSPORT": (Category.PERSONAL, "Passport number"),
    "AWS_CREDENTIALS": (Category.SECRET, "AWS credentials"),
    "AZURE_AUTH_TOKEN": (Category.SECRET, "Azure auth token"),
    "GCP_API_KEY": (Category.SECRET, "Google API key"),
    "GCP_CREDENTIALS": (Category.SECRET, "Google service account credentials"),
    "JSON_WEB_TOKEN": (Category.SECRET, "JSON Web Token"),
    "ENCRYPTION_KEY": (Category.SECRET, "Encryption / private key"),
    "AUTH_TOKEN": (Category.SECRET, "Authentication token"),
    "OAUTH_CLIENT_SECRET": (Category.SECRET, "OAuth client secret"),
    "PASSWORD": (Category.SECRET, "Password"),
    "BASIC_AUTH_HEADER": (Category.SECRET, "HTTP basic auth header"),
    "HTTP_COOKIE": (Category.SECRET, "HTTP cookie"),
    "XSRF_TOKEN": (Category.SECRET, "XSRF token"),
}
DEFAULT_INFO_TYPES = tuple(INFO_TYPES)

_LIKELIHOOD = {
    "VERY_LIKELY": Confidence.HIGH,
    "LIKELY": Confidence.HIGH,
    "POSSIBLE": Confidence.MEDIUM,
    "UNLIKELY": Confidence.LOW,
    "VERY_UNLIKELY": Confidence.LOW,
}


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
        """POST ``body``; raise ``OSError`` (or a subclass) when no response arrives."""
        ...


def urllib3_transport() -> Transport:
    import urllib3

    pool = urllib3.PoolManager(retries=False)

    def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
        try:
            response = pool.request("POST", url, body=body, headers=dict(headers), timeout=timeout)
        except urllib3.exceptions.HTTPError as error:
            raise OSError(f"{type(error).__name__}") from None
        return HttpResult(response.status, response.data, {k.lower(): v for k, v in response.headers.items()})

    return post


@dataclass(frozen=True)
class GoogleDlpConfig:
    project: str
    endpoint: str = DEFAULT_ENDPOINT
    location: str = "global"
    info_types: tuple[str, ...] = DEFAULT_INFO_TYPES
    min_likelihood: str = "POSSIBLE"
    max_items: int = 100
    max_request_bytes: int = MAX_REQUEST_BYTES
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.min_likelihood not in _LIKELIHOOD:
            raise ValueError(f"min_likelihood must be one of {', '.join(_LIKELIHOOD)}")
        if not self.project:
            raise ValueError("the google DLP provider needs a project id")

    @property
    def url(self) -> str:
        parent = f"projects/{self.project}/locations/{self.location}"
        return f"{self.endpoint.rstrip('/')}/v2/{parent}/content:inspect"


class GoogleDlpClient:
    name = "google"

    def __init__(
        self,
        config: GoogleDlpConfig,
        *,
        fingerprinter: Fingerprinter,
        limiter: RateLimiter | None = None,
        transport: Transport | None = None,
        token: Callable[[], str | None] = lambda: None,
        on_request: Callable[[int, int], None] | None = None,
    ) -> None:
        self._config = config
        self._fingerprint = fingerprinter
        self._limiter = limiter or NoRateLimit()
        self._transport = transport or urllib3_transport()
        self._token = token
        self._on_request = on_request
        #: Rows per request: max_items, lowered when the API refuses a request as too large.
        self._max_rows = config.max_items

    @property
    def max_items(self) -> int:
        return self._config.max_items

    def warm_up(self) -> None:
        """Open the connection (TCP, TLS) before the first rate-limited request, off the quota's clock.

        A cold connection delays a request's arrival by a handshake after its slot was taken; that
        delay would eat into the limiter's margin. The request goes to the endpoint's root, which
        answers 404 and is no DLP call.
        """
        with contextlib.suppress(OSError):  # the first real request will report an unreachable API
            self._transport(self._config.endpoint.rstrip("/") + "/", b"", {}, self._config.timeout_seconds)

    def inspect(self, texts: Sequence[str], paths: Sequence[str] | None = None) -> list[ItemOutcome]:
        """``paths`` are not sent: Cloud DLP's info types do not depend on a file's name."""
        outcomes: list[ItemOutcome] = [DlpError("not inspected")] * len(texts)
        for start, end in self._chunks(texts):
            for offset, outcome in enumerate(self._inspect_rows(texts[start:end])):
                outcomes[start + offset] = outcome
        return outcomes

    # -- batching -----------------------------------------------------------------------------------

    def request_body(self, texts: Sequence[str]) -> bytes:
        config = self._config
        body = {
            "item": {
                "table": {
                    "headers": [{"name": "text"}],
                    "rows": [{"values": [{"stringValue": text}]} for text in texts],
                }
            },
            "inspectConfig": {
                "infoTypes": [{"name": name} for name in config.info_types],
                "minLikelihood": config.min_likelihood,
                "includeQuote": False,
            },
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def _chunks(self, texts: Sequence[str]) -> list[tuple[int, int]]:
        """Contiguous ranges of at most max_items texts whose requests fit the size limit."""
        ranges: list[tuple[int, int]] = []
        start = 0
        overhead = len(self.request_body([]))
        while start < len(texts):
            size, end = overhead, start
            while end < len(texts) and end - start < self._max_rows:
                row = len(json.dumps(texts[end], ensure_ascii=False).encode("utf-8")) + 32
                if end > start and size + row > self._config.max_request_bytes:
                    break
                size += row
                end += 1
            ranges.append((start, end))
            start = end
        return ranges

    def _inspect_rows(self, texts: Sequence[str]) -> list[ItemOutcome]:
        try:
            response = self._post(texts)
        except _TooLarge:
            if len(texts) == 1:
                return [DlpError("a single message is larger than the DLP API accepts", retryable=False)]
            middle = len(texts) // 2
            self._max_rows = min(self._max_rows, middle)
            return self._inspect_rows(texts[:middle]) + self._inspect_rows(texts[middle:])
        except DlpError as error:
            return [error] * len(texts)
        try:
            return self._map_findings(response, texts)
        except _TooLarge:  # findings truncated: fewer rows per request
            middle = len(texts) // 2
            if middle == 0:
                return [DlpError("DLP API truncated the findings of a single message", retryable=False)]
            return self._inspect_rows(texts[:middle]) + self._inspect_rows(texts[middle:])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as error:
            failure = DlpError(f"malformed DLP response ({type(error).__name__})")
            return [failure] * len(texts)

    # -- the wire -----------------------------------------------------------------------------------

    def _post(self, texts: Sequence[str]) -> Any:
        body = self.request_body(texts)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._limiter.acquire()
        if self._on_request is not None:
            self._on_request(len(texts), len(body))
        try:
            result = self._transport(self._config.url, body, headers, self._config.timeout_seconds)
        except OSError as error:
            raise DlpError(f"DLP API unreachable ({type(error).__name__})") from None
        finally:  # counted after the send: nothing may stand between a reserved slot and its request
            metrics.add_metric(name="DlpRequests", unit="Count", value=1)
        if result.status == 200:
            try:
                return jsonsafe.loads(result.body)
            except ValueError:
                raise DlpError("DLP API returned a body that is not JSON") from None
        message = _error_message(result.body)
        if result.status == 400 and _is_too_large(message):
            raise _TooLarge
        retryable = result.status == 429 or result.status >= 500 or result.status == 408
        if result.status == 429:
            metrics.add_metric(name="DlpRateLimited", unit="Count", value=1)
            self._limiter.throttled()  # the API allows less than the settings say: every container slows down
        retry_after = _retry_after(result.headers)
        raise DlpError(f"DLP API HTTP {result.status}: {message}", retryable=retryable, retry_after=retry_after)

    def _map_findings(self, response: Any, texts: Sequence[str]) -> list[ItemOutcome]:
        result = response["result"] if isinstance(response, dict) else None
        if not isinstance(result, dict):
            raise ValueError("no result")
        found: list[list[Finding]] = [[] for _ in texts]
        for raw in result.get("findings", []):
            location = raw.get("location", {})
            content = (location.get("contentLocations") or [{}])[0]
            row = _int(content.get("recordLocation", {}).get("tableLocation", {}).get("rowIndex"))
            if not 0 <= row < len(texts):
                raise ValueError("row index out of range")
            text = texts[row]
            span = location.get("codepointRange") or {}
            start, end = _int(span.get("start")), _int(span.get("end"))
            if not 0 <= start < end <= len(text):
                raise ValueError("finding outside its text")
            info_type = str(raw["infoType"]["name"])
            category, description = INFO_TYPES.get(info_type, (Category.SECRET, info_type.replace("_", " ").title()))
            value = text[start:end]
            found[row].append(
                Finding(
                    detector="gcp." + info_type.lower().replace("_", "-"),
                    category=category,
                    start=start,
                    end=end,
                    confidence=_LIKELIHOOD.get(str(raw.get("likelihood")), Confidence.MEDIUM),
                    masked=mask(value),
                    fingerprint=self._fingerprint(value),
                    description=description,
                )
            )
        if result.get("findingsTruncated"):
            raise _TooLarge
        return [sorted(f, key=lambda finding: finding.start) for f in found]


class _TooLarge(Exception):
    pass


def _int(value: Any) -> int:
    """int64 arrives as a string; proto3 JSON omits zeros."""
    return int(value) if value not in (None, "") else 0


def _error_message(body: bytes) -> str:
    try:
        error = jsonsafe.loads(body)["error"]
        return f"{error.get('status', '')}: {error.get('message', '')}"[:200]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "unparseable error"


def _is_too_large(message: str) -> bool:
    lowered = message.lower()
    return "too large" in lowered or "too many" in lowered or "exceed" in lowered


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
