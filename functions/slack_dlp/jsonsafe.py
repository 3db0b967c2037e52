"""JSON from outside (Slack, queues, the DLP API): anything that is not plain, finite JSON is a
``ValueError``, so callers that already reject malformed JSON reject these too.

The standard parser accepts ``1e400`` (infinity, which ``int()`` then refuses with OverflowError),
``NaN`` and ``Infinity``, and raises RecursionError on deep nesting: none of them a ValueError.
"""

from __future__ import annotations

import json
import math
from typing import Any


def loads(data: str | bytes | bytearray) -> Any:
    try:
        return json.loads(data, parse_float=_finite, parse_constant=_reject)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _reject(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
