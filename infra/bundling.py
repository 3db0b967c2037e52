"""Lambda asset bundling without Docker: pip installs wheels for the target's platform locally.

An asset is built for one *target* (a Python version and the wheel platforms of the machine
that runs it): Lambda's Python on arm64 for a deployment, the host's Python for the local
emulator (which runs functions with the host's interpreter). The target is part of both the
asset's hash (so ``cdk.out/asset.<hash>`` of one target is never reused for the other, in
either order) and the key of the dependency cache under ``.venv/lambda-deps/`` (installed once
per requirements and target, so a second synth, the infra tests and ``make synth`` run offline).

What an asset carries is decided by the requirement files of its function group (``functions/
requirements/``), never by excluding files: every asset holds the one source tree, and only the
packages its functions import. The modules are compiled to byte code for the target when an
interpreter of its version is at hand (Lambda's file system is read-only: without ``.pyc`` files,
every cold start compiles every module it imports).
"""

from __future__ import annotations

import fnmatch
import hashlib
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".venv" / "lambda-deps"
#: Stale byte code and packaging metadata never belong in the asset (developer tooling lives outside functions/).
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info", "requirements")
#: Requirement files, one per group of functions that import the same packages.
REQUIREMENTS_DIR = REPO_ROOT / "functions" / "requirements"
#: Changes when the bundle's layout changes, so assets bundled by an older version are not reused.
BUNDLE_FORMAT = "2"
#: The Lambda runtime brings boto3 and botocore; a dependency's own copy (aws-xray-sdk pulls botocore) would
#: shadow it and add 30 MB to every function.
RUNTIME_PROVIDED = ("boto3", "boto3-*", "botocore", "botocore-*", "s3transfer", "s3transfer-*")


@dataclass(frozen=True)
class BundleTarget:
    """The interpreter an asset's compiled extensions are built for: a CPython version and the
    wheel platforms pip may choose from (several: some projects publish only newer manylinux tags)."""

    python_version: str
    platforms: tuple[str, ...]

    @classmethod
    def host(cls) -> BundleTarget:
        """The interpreter running this synth (MiniStack runs functions with it)."""
        machine = platform.machine()
        return cls(
            f"{sys.version_info.major}.{sys.version_info.minor}",
            (f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"),
        )

    @property
    def label(self) -> str:
        """``cp314-manylinux2014_aarch64``: what a reader of the hash inputs sees."""
        return f"cp{self.python_version.replace('.', '')}-{'+'.join(self.platforms)}"

    def interpreter(self) -> str | None:
        """An interpreter of the target's Python version on this machine (for byte code), if any."""
        if f"{sys.version_info.major}.{sys.version_info.minor}" == self.python_version:
            return sys.executable
        found = shutil.which(f"python{self.python_version}")
        if found is None:
            return None
        probe = subprocess.run([found, "-c", "pass"], capture_output=True, check=False)  # noqa: S603 - fixed argv
        return found if probe.returncode == 0 else None  # a pyenv shim of a version not installed

    def dependency_key(self, requirements: bytes) -> str:
        """The cache folder's name for ``requirements`` installed for this target."""
        return hashlib.sha256(requirements + f"|{self.python_version}|{','.join(self.platforms)}".encode()).hexdigest()[
            :16
        ]


def _excluded(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in ASSET_EXCLUDES)


def _source_files(source: Path) -> Iterator[Path]:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not _excluded(path.relative_to(source)):
            yield path


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(
        self,
        source: Path,
        requirements: Path | Sequence[Path],
        *,
        target: BundleTarget,
        cache_dir: Path = DEFAULT_CACHE,
        extra_files: Mapping[str, Path] | None = None,
    ) -> None:
        self._source = source
        self._requirements = (requirements,) if isinstance(requirements, Path) else tuple(requirements)
        self._interpreter = target.interpreter()
        self._target = target
        self._cache_dir = cache_dir
        self._extra_files = dict(extra_files or {})

    @property
    def target(self) -> BundleTarget:
        return self._target

    @property
    def compiles_byte_code(self) -> bool:
        return self._interpreter is not None

    def requirements_text(self) -> bytes:
        """The group's requirement files, each under its name: what the dependency cache is keyed by."""
        return b"".join(f"# {path.name}\n".encode() + path.read_bytes() for path in self._requirements)

    def asset_hash(self) -> str:
        """What the bundle is made of: the sources, the extra files, the requirements and the target.

        CDK skips bundling when ``asset.<hash>`` exists, so everything that changes the bundle's
        bytes must be in here; in particular the target, whose wheels differ for the same sources.
        """
        digest = hashlib.sha256(f"slack-dlp-asset|{BUNDLE_FORMAT}|{self._target.label}|".encode())
        digest.update(self._target.dependency_key(self.requirements_text()).encode())
        digest.update(f"|pyc={self.compiles_byte_code}|".encode())
        files = [(str(p.relative_to(self._source)), p) for p in _source_files(self._source)]
        files += sorted(self._extra_files.items())
        for name, path in files:
            digest.update(f"|{name}|".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self.dependencies(), out, dirs_exist_ok=True, ignore=_top_level(RUNTIME_PROVIDED))
        shutil.copytree(self._source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))
        for destination, source in self._extra_files.items():
            (out / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / destination)
        if self._interpreter is not None:
            # unchecked-hash: used as they are, whatever the files' times after zip and unzip.
            command = [self._interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
            # A dependency's file that does not compile (test data, another Python's syntax) stays source only.
            subprocess.run([*command, str(out)], stdout=subprocess.DEVNULL, check=False)  # noqa: S603 - fixed argv
        return True

    def dependencies(self) -> Path:
        """The installed requirements for the target, built on first use."""
        requirements = self.requirements_text()
        key = self._target.dependency_key(requirements)
        target = self._cache_dir / key
        if target.is_dir():
            return target
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=self._cache_dir))
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(staging),
            *(arg for path in self._requirements for arg in ("--requirement", str(path))),
            *(arg for tag in self._target.platforms for arg in ("--platform", tag)),
            "--implementation", "cp", "--python-version", self._target.python_version, "--only-binary=:all:",
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
    # `make setup` prebuilds the Lambda dependencies of every function group so later synths need no network.
    from infra.functions import FUNCTION_GROUPS, LAMBDA_TARGET

    for group in FUNCTION_GROUPS:
        built = LocalPythonBundling(
            REPO_ROOT / "functions", group.requirement_files, target=LAMBDA_TARGET
        ).dependencies()
        print(f"Lambda dependencies of {group.name} for {LAMBDA_TARGET.label}: {built}")
