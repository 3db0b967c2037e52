"""Shared fixtures. The Lambda handlers live in functions/, importable as top-level modules."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for path in (REPO_ROOT, REPO_ROOT / "functions"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
