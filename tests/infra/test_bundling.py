"""Which compiler writes an asset's byte code: chosen from what is installed, without running Node.

The compilers themselves run in ``test_assets.py`` (Pyodide on a folder, and every asset's headers)."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.bundling import BundleTarget, InterpreterCompiler, PyodideCompiler, byte_code_compiler

LAMBDA = BundleTarget("3.14", ("manylinux2014_aarch64",))
NODE = "/usr/bin/node"


def pyodide_package(folder: Path, *, python: str = "3.14.2", version: str = "314.0.7") -> Path:
    """What ``npm ci`` installs: the package's version and its CPython's (``pyodide-lock.json``)."""
    package = folder / "node_modules" / "pyodide"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "pyodide", "version": version}))
    (package / "pyodide-lock.json").write_text(json.dumps({"info": {"python": python, "arch": "wasm32"}}))
    return package


def interpreter(folder: Path, *, prints: str, exit_code: int = 0) -> str:
    """A ``python3.14`` on PATH: a script answering the version probe (a pyenv shim exits nonzero)."""
    script = folder / "python3.14"
    script.write_text(f"#!/bin/sh\necho {prints}\nexit {exit_code}\n")
    script.chmod(0o755)
    return str(script)


def on_path(**found: str) -> Callable[[str], str | None]:
    """``shutil.which`` on a PATH holding these programs."""
    return found.get


def test_the_host_target_is_compiled_by_this_interpreter(tmp_path: Path) -> None:
    # GIVEN the local emulator's target (this Python), and Pyodide installed too
    compiler = byte_code_compiler(
        BundleTarget.host(), which=on_path(node=NODE), pyodide_package=pyodide_package(tmp_path)
    )
    # THEN this interpreter compiles, whatever else is installed
    assert compiler == InterpreterCompiler(sys.executable, platform.python_version())
    assert (
        compiler.identity
        == f"cpython-{sys.version_info.major}{sys.version_info.minor} via python {platform.python_version()}"
    )


def test_a_python_of_the_targets_version_on_path_comes_before_pyodide(tmp_path: Path) -> None:
    python = interpreter(tmp_path, prints="3.14.1")
    compiler = byte_code_compiler(
        LAMBDA, which=on_path(node=NODE, **{"python3.14": python}), pyodide_package=pyodide_package(tmp_path)
    )
    assert compiler == InterpreterCompiler(python, "3.14.1")
    assert compiler.identity == "cpython-314 via python 3.14.1"


def test_pyodide_of_the_targets_version_when_no_such_python_runs(tmp_path: Path) -> None:
    # GIVEN a python3.14 on PATH that does not run (a pyenv shim of a version not installed)
    shim = interpreter(tmp_path, prints="pyenv: python3.14: command not found", exit_code=127)
    compiler = byte_code_compiler(
        LAMBDA, which=on_path(node=NODE, **{"python3.14": shim}), pyodide_package=pyodide_package(tmp_path)
    )
    # THEN Pyodide compiles, and its identity (part of the asset's hash) names the package's version
    assert compiler == PyodideCompiler(NODE, "314.0.7", "3.14.2")
    assert compiler.identity == "cpython-314 via pyodide 314.0.7"


@pytest.mark.parametrize(
    ("found", "python", "why"),
    [
        ({"node": NODE}, "3.13.2", "Pyodide's Python is another version: its byte code would be ignored"),
        ({}, "3.14.2", "no Node to run Pyodide"),
        ({"node": NODE}, None, "Pyodide not installed (no `make setup`)"),
    ],
)
def test_no_compiler_means_sources_only(tmp_path: Path, found: dict[str, str], python: str | None, why: str) -> None:
    package = pyodide_package(tmp_path, python=python) if python else tmp_path / "node_modules" / "pyodide"
    assert byte_code_compiler(LAMBDA, which=on_path(**found), pyodide_package=package) is None, why
