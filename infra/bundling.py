"""Lambda asset bundling without Docker: pip installs wheels for Lambda's platform locally.

The dependencies are installed once per (requirements, Python version, platform) into a cache
under ``.venv/`` so a second synth, the infra tests and ``make synth`` run offline.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".venv" / "lambda-deps"
#: Byte code and packaging metadata never belong in the asset (developer tooling lives outside functions/).
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info", "requirements.txt")
#: The Lambda runtime brings boto3 and botocore; a dependency's own copy (aws-xray-sdk pulls botocore) would
#: shadow it and add 30 MB to every function.
RUNTIME_PROVIDED = ("boto3", "boto3-*", "botocore", "botocore-*", "s3transfer", "s3transfer-*")


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(
        self,
        source: Path,
        requirements: Path,
        *,
        python_version: str,
        platforms: tuple[str, ...],
        cache_dir: Path = DEFAULT_CACHE,
        extra_files: Mapping[str, Path] | None = None,
    ) -> None:
        self._source = source
        self._requirements = requirements
        self._python_version = python_version
        self._platforms = platforms
        self._cache_dir = cache_dir
        self._extra_files = dict(extra_files or {})

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self.dependencies(), out, dirs_exist_ok=True, ignore=_top_level(RUNTIME_PROVIDED))
        shutil.copytree(self._source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))
        for destination, source in self._extra_files.items():
            (out / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / destination)
        return True

    def dependencies(self) -> Path:
        """The installed requirements for Lambda's platform, built on first use."""
        key = hashlib.sha256(
            self._requirements.read_bytes() + f"|{self._python_version}|{','.join(self._platforms)}".encode()
        ).hexdigest()[:16]
        target = self._cache_dir / key
        if target.is_dir():
            return target
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=self._cache_dir))
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(staging), "--requirement", str(self._requirements),
            *(arg for platform in self._platforms for arg in ("--platform", platform)),
            "--implementation", "cp", "--python-version", self._python_version, "--only-binary=:all:",
        ]  # fmt: skip
        subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
        try:
            staging.rename(target)
        except OSError:
            # Another synth built the same dependencies meanwhile: keep theirs.
            shutil.rmtree(staging, ignore_errors=True)
        return target


def _top_level(patterns: tuple[str, ...]) -> Any:
    """Ignore these names only at the top of the tree (``shutil.ignore_patterns`` matches at every level)."""
    root: list[str] = []

    def ignore(directory: str, names: list[str]) -> set[str]:
        if not root:
            root.append(directory)
        if directory != root[0]:
            return set()
        return set().union(*(fnmatch.filter(names, pattern) for pattern in patterns))

    return ignore


if __name__ == "__main__":
    # `make setup` prebuilds the Lambda dependencies so later synths need no network.
    from infra.functions import PIP_PLATFORMS, PYTHON_VERSION

    built = LocalPythonBundling(
        REPO_ROOT / "functions",
        REPO_ROOT / "functions" / "requirements.txt",
        python_version=PYTHON_VERSION,
        platforms=PIP_PLATFORMS,
    ).dependencies()
    print(f"Lambda dependencies for Python {PYTHON_VERSION} ({', '.join(PIP_PLATFORMS)}): {built}")
