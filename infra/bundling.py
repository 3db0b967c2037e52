"""Lambda asset bundling without Docker: pip installs wheels for the target's platform locally.

An asset is built for one *target* (a Python version and the wheel platforms of the machine
that runs it): Lambda's Python on arm64 for a deployment, the host's Python for the local
emulator (which runs functions with the host's interpreter). The target is part of both the
asset's hash (so ``cdk.out/asset.<hash>`` of one target is never reused for the other, in
either order) and the key of the dependency cache under ``.venv/lambda-deps/`` (installed once
per requirements and target, so a second synth, the infra tests and ``make synth`` run offline).

What an asset carries is decided by the requirement files of its function group (``functions/
requirements/``), never by excluding files: every asset holds the one source tree, and only the
packages its functions import.

Its modules are compiled to byte code for the target (Lambda's file system is read-only: without
``.pyc`` files, every cold start compiles every module it imports), by the first compiler of the
target's Python version found (``byte_code_compiler``): this interpreter, ``pythonX.Y`` on PATH,
or Pyodide (CPython compiled to WebAssembly, an npm package ``make setup`` installs) run by Node.
Without one the asset ships sources only, which costs cold-start time and nothing else (Python
ignores byte code of another version). The compiler's identity is part of the asset's hash. The
dependencies are compiled once, into a cache folder of their own next to the installed ones; the
source tree once per synth process.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jsii
from aws_cdk import ILocalBundling

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".venv" / "lambda-deps"
#: Stale byte code and packaging metadata never belong in the asset (developer tooling lives outside functions/).
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info", "requirements")
#: Requirement files, one per group of functions that import the same packages.
REQUIREMENTS_DIR = REPO_ROOT / "functions" / "requirements"
#: Changes when the bundle's layout changes, so assets bundled by an older version are not reused.
BUNDLE_FORMAT = "3"
#: The Lambda runtime brings boto3 and botocore; a dependency's own copy (aws-xray-sdk pulls botocore) would
#: shadow it and add 30 MB to every function.
RUNTIME_PROVIDED = ("boto3", "boto3-*", "botocore", "botocore-*", "s3transfer", "s3transfer-*")
#: Compiles a folder with the Python that runs it; the Node script runs it in Pyodide.
COMPILE_SCRIPT = Path(__file__).resolve().with_name("compile_byte_code.py")
PYODIDE_SCRIPT = COMPILE_SCRIPT.with_suffix(".mjs")
#: Where ``npm ci`` (``make setup``) installs the pinned Pyodide (package.json).
PYODIDE_PACKAGE = REPO_ROOT / "node_modules" / "pyodide"


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

    def dependency_key(self, requirements: bytes) -> str:
        """The cache folder's name for ``requirements`` installed for this target."""
        return hashlib.sha256(requirements + f"|{self.python_version}|{','.join(self.platforms)}".encode()).hexdigest()[
            :16
        ]


@dataclass(frozen=True)
class CompileReport:
    """What ``compile_byte_code.py`` did to a folder."""

    python: str  # 3.14.2
    cache_tag: str  # cpython-314
    magic: bytes  # the first 4 bytes of each .pyc (importlib.util.MAGIC_NUMBER)
    compiled: int
    failed: tuple[str, ...]  # "path/in/folder.py: SyntaxError": left as source

    @classmethod
    def from_output(cls, stdout: str) -> CompileReport:
        report = json.loads(stdout.strip().splitlines()[-1])
        return cls(report["python"], report["cache_tag"], bytes.fromhex(report["magic"]), int(report["compiled"]),
                   tuple(report["failed"]))  # fmt: skip


class ByteCodeCompiler(Protocol):
    """Writes byte code for one Python version beside every module of a folder (``__pycache__``)."""

    @property
    def identity(self) -> str:
        """``cpython-314 via pyodide 314.0.7``: changes whenever the byte code it writes may change."""
        ...

    def compile(self, folder: Path) -> CompileReport: ...


def _cache_tag(python_version: str) -> str:
    major, minor = python_version.split(".")[:2]
    return f"cpython-{major}{minor}"


@dataclass(frozen=True)
class InterpreterCompiler:
    """A CPython of the target's version installed here: this interpreter or ``pythonX.Y`` on PATH."""

    executable: str
    version: str  # 3.14.1

    @property
    def identity(self) -> str:
        return f"{_cache_tag(self.version)} via python {self.version}"

    def compile(self, folder: Path) -> CompileReport:
        return _run_compiler([self.executable, str(COMPILE_SCRIPT)], folder)


@dataclass(frozen=True)
class PyodideCompiler:
    """Pyodide's CPython (WebAssembly) run by Node: the target's byte code without its interpreter."""

    node: str
    version: str  # the npm package's, 314.0.7
    python: str  # its CPython's, 3.14.2

    @property
    def identity(self) -> str:
        return f"{_cache_tag(self.python)} via pyodide {self.version}"

    def compile(self, folder: Path) -> CompileReport:
        return _run_compiler([self.node, str(PYODIDE_SCRIPT)], folder)


def _run_compiler(command: list[str], folder: Path) -> CompileReport:
    done = subprocess.run([*command, str(folder)], capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    if done.returncode != 0:
        # Found and of the right version, yet not running (modules that do not compile are no error):
        # say so rather than ship a bundle whose hash claims byte code it lacks.
        raise RuntimeError(f"{command[0]} could not compile {folder} (`make setup`?): {done.stderr.strip()[-500:]}")
    return CompileReport.from_output(done.stdout)


def _probe_version(executable: str) -> str | None:
    """The Python version ``executable`` runs, or None if it does not run (a pyenv shim of a
    version that is not installed)."""
    probe = subprocess.run(  # noqa: S603 - fixed argv
        [executable, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return probe.stdout.strip() if probe.returncode == 0 else None


def byte_code_compiler(
    target: BundleTarget,
    *,
    which: Callable[[str], str | None] = shutil.which,
    pyodide_package: Path = PYODIDE_PACKAGE,
) -> ByteCodeCompiler | None:
    """The first of: this interpreter, ``pythonX.Y`` on PATH, Pyodide (installed, of the target's
    Python version, and Node on PATH) that writes byte code for ``target``; None if none does."""
    if platform.python_version().startswith(f"{target.python_version}."):
        return InterpreterCompiler(sys.executable, platform.python_version())
    found = which(f"python{target.python_version}")
    version = _probe_version(found) if found else None
    if found and version and version.startswith(f"{target.python_version}."):
        return InterpreterCompiler(found, version)
    lock, package = pyodide_package / "pyodide-lock.json", pyodide_package / "package.json"
    node = which("node")
    if node is None or not lock.is_file() or not package.is_file():
        return None
    python = str(json.loads(lock.read_text())["info"]["python"])
    if not python.startswith(f"{target.python_version}."):
        return None
    return PyodideCompiler(node, str(json.loads(package.read_text())["version"]), python)


def _excluded(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in ASSET_EXCLUDES)


def _source_files(source: Path) -> Iterator[Path]:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not _excluded(path.relative_to(source)):
            yield path


#: The source tree with its byte code, per (files, compiler): compiled once per synth process
#: (the infra tests synthesize many times), deleted when the process ends.
_COMPILED_SOURCES: dict[str, tempfile.TemporaryDirectory[str]] = {}


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
        self._compiler = byte_code_compiler(target)
        self._target = target
        self._cache_dir = cache_dir
        self._extra_files = dict(extra_files or {})

    @property
    def target(self) -> BundleTarget:
        return self._target

    @property
    def compiler(self) -> ByteCodeCompiler | None:
        """What writes the asset's byte code; None: the asset ships sources only."""
        return self._compiler

    def requirements_text(self) -> bytes:
        """The group's requirement files, each under its name: what the dependency cache is keyed by."""
        return b"".join(f"# {path.name}\n".encode() + path.read_bytes() for path in self._requirements)

    def asset_hash(self) -> str:
        """What the bundle is made of: the sources, the extra files, the requirements, the target and
        the byte-code compiler.

        CDK skips bundling when ``asset.<hash>`` exists, so everything that changes the bundle's
        bytes must be in here; in particular the target, whose wheels differ for the same sources.
        """
        digest = hashlib.sha256(f"slack-dlp-asset|{BUNDLE_FORMAT}|{self._target.label}|".encode())
        digest.update(self._target.dependency_key(self.requirements_text()).encode())
        digest.update(f"|byte code={self._compiler.identity if self._compiler else 'none'}|".encode())
        digest.update(self._source_digest)
        for name, path in sorted(self._extra_files.items()):
            digest.update(f"|{name}|".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self.compiled_dependencies(), out, dirs_exist_ok=True, ignore=_top_level(RUNTIME_PROVIDED))
        if self._compiler is None:
            self._copy_source(out)
        else:
            shutil.copytree(self._compiled_source(self._compiler), out, dirs_exist_ok=True)
        for destination, source in self._extra_files.items():
            (out / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / destination)
        return True

    @functools.cached_property
    def _source_digest(self) -> bytes:
        """The source tree's files and contents, read once: the asset's hash and the compiled tree's
        key are the same tree (a synth hashes at construction and bundles after)."""
        digest = hashlib.sha256()
        for path in _source_files(self._source):
            digest.update(f"|{path.relative_to(self._source)}|".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.digest()

    def _copy_source(self, into: Path) -> None:
        shutil.copytree(self._source, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))

    def _compiled_source(self, compiler: ByteCodeCompiler) -> Path:
        """The source tree with its byte code: one compiler run per synth for every group's asset."""
        key = hashlib.sha256(f"{self._source}|{compiler.identity}|".encode() + self._source_digest).hexdigest()
        if key not in _COMPILED_SOURCES:
            folder = tempfile.TemporaryDirectory(prefix="slack-dlp-source-")
            self._copy_source(Path(folder.name))
            compiler.compile(Path(folder.name))
            _COMPILED_SOURCES[key] = folder
        return Path(_COMPILED_SOURCES[key].name)

    def compiled_dependencies(self) -> Path:
        """The dependencies as the asset carries them: without what the runtime provides, with byte
        code when there is a compiler. Compiled once per requirements, target and compiler, into a
        cache folder of their own (the installed one is never changed)."""
        installed = self.dependencies()
        if self._compiler is None:
            return installed
        compiler = hashlib.sha256(self._compiler.identity.encode()).hexdigest()[:8]
        compiled = installed.with_name(f"{installed.name}.pyc-{compiler}")
        if compiled.is_dir():
            return compiled
        staging = Path(tempfile.mkdtemp(prefix=f"{compiled.name}-", dir=self._cache_dir))
        shutil.copytree(installed, staging, dirs_exist_ok=True, ignore=_top_level(RUNTIME_PROVIDED))
        self._compiler.compile(staging)
        _publish(staging, compiled)
        return compiled

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
        _publish(staging, target)
        return target


def _publish(staging: Path, target: Path) -> None:
    """Move a finished cache folder into place in one step (readers never see half of one)."""
    try:
        staging.rename(target)
    except OSError:
        # Another synth built the same folder meanwhile: keep theirs.
        shutil.rmtree(staging, ignore_errors=True)


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
    # `make setup` prebuilds the Lambda dependencies of every function group so later synths need no
    # network (and compiles them, when a compiler is already installed, so later synths need not).
    from infra.functions import FUNCTION_GROUPS, LAMBDA_TARGET

    for group in FUNCTION_GROUPS:
        built = LocalPythonBundling(
            REPO_ROOT / "functions", group.requirement_files, target=LAMBDA_TARGET
        ).compiled_dependencies()
        print(f"Lambda dependencies of {group.name} for {LAMBDA_TARGET.label}: {built}")
