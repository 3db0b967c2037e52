"""Assets per function group and per target.

Per target: the local emulator's bundles (host Python) and Lambda's (Python 3.14 on arm64) never
share a folder of one cdk.out, whichever is synthesized first. Per group: a function's asset
carries the packages its group's requirement files name, and no other group's.

Synthesizes the app three times into one directory, as a user's checkout sees it: ``make run``
(emulator), ``make synth`` (Lambda), ``make run`` again; then reads the compiled extensions' file
name tags and ELF machine field, the packages and the byte code (cache tags and headers) in each asset.
"""

from __future__ import annotations

import importlib.util
import json
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import AssetStaging

from app import build_app
from infra.bundling import (
    DEFAULT_CACHE,
    REPO_ROOT,
    BundleTarget,
    CompileReport,
    LocalPythonBundling,
    byte_code_compiler,
)
from infra.functions import DETECT, FUNCTION_GROUPS, LAMBDA_TARGET

CONTEXT = {"alert_channel": "C0ALERTS"}
#: ELF e_machine values.
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
HOST_SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))  # e.g. .cpython-311-x86_64-linux-gnu.so
HOST_MACHINE = sysconfig.get_platform().rsplit("-", 1)[-1]  # linux-x86_64 -> x86_64
HOST_CACHE_TAG = f"cpython-{sysconfig.get_python_version().replace('.', '')}"
LAMBDA_SUFFIX = ".cpython-314-aarch64-linux-gnu.so"
#: What only the inspector (detection, Google credentials) or the fetcher (file extraction) imports.
DETECT_ONLY = {"re2", "google", "cryptography"}
FILES_ONLY = {"pypdf", "defusedxml"}
FUNCTIONS = ("Ingest", "Interactions", "Reporter", "Inspector", "Fetcher")


def synth(outdir: Path, *, local: bool) -> dict[str, Path]:
    """Synthesize into ``outdir`` like a separate ``cdk`` run; return each function's asset folder."""
    AssetStaging.clear_asset_hash_cache()  # each cdk command is a new process: no in-memory reuse
    build_app(context={**CONTEXT, "local_emulator": str(local).lower()}, outdir=str(outdir)).synth()
    manifest = json.loads((outdir / "SlackDlp.assets.json").read_text())
    folders = {f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"}
    template = json.loads((outdir / "SlackDlp.template.json").read_text())
    assets = {
        name: outdir / ("asset." + resource["Properties"]["Code"]["S3Key"].removesuffix(".zip"))
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        for name in FUNCTIONS
        if logical.startswith(name + "Function")
    }
    assert set(assets) == set(FUNCTIONS)
    assert {folder.name for folder in assets.values()} == folders  # the template deploys these very folders
    return assets


def extensions(asset: Path) -> dict[str, str]:
    """Compiled extension -> the CPU its ELF header names."""
    found = {}
    for library in asset.rglob("*.so"):
        header = library.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", library
        found[str(library.relative_to(asset))] = ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "other")
    return found


def assert_built_for(asset: Path, *, suffix: str, machine: str) -> None:
    libraries = extensions(asset)
    assert any(name.startswith("re2/_re2") for name in libraries), "RE2's extension is missing"
    assert set(libraries.values()) == {machine}, libraries
    tagged = [name for name in libraries if ".cpython-" in name]
    assert tagged and all(name.endswith(suffix) for name in tagged), tagged


def packages(asset: Path) -> set[str]:
    return {p.name for p in asset.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")}


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    first_local = synth(outdir, local=True)  # make run
    deploy = synth(outdir, local=False)  # Ctrl-C, make synth (cdk deploy reads the same cdk.out)
    second_local = synth(outdir, local=True)  # make run again
    return {"first_local": first_local, "deploy": deploy, "second_local": second_local}


def test_synth_after_a_local_run_ships_only_lambda_binaries(cdk_out: dict[str, dict[str, Path]]) -> None:
    assert not set(cdk_out["deploy"].values()) & set(cdk_out["first_local"].values())
    assert_built_for(cdk_out["deploy"]["Inspector"], suffix=LAMBDA_SUFFIX, machine="aarch64")
    for asset in cdk_out["deploy"].values():
        assert set(extensions(asset).values()) <= {"aarch64"}, asset


def test_a_local_run_after_synth_deploys_host_binaries(cdk_out: dict[str, dict[str, Path]]) -> None:
    assert cdk_out["second_local"] == cdk_out["first_local"]  # reused: same sources, same target
    assert_built_for(cdk_out["second_local"]["Inspector"], suffix=HOST_SUFFIX, machine=HOST_MACHINE)


def test_the_api_functions_carry_neither_detection_nor_file_extraction(cdk_out: dict[str, dict[str, Path]]) -> None:
    for target in ("first_local", "deploy"):
        assets = cdk_out[target]
        # One asset per group: ingest, interactions and the reporter share the smallest.
        assert assets["Ingest"] == assets["Interactions"] == assets["Reporter"]
        assert len(set(assets.values())) == len(FUNCTION_GROUPS)
        core = packages(assets["Ingest"])
        assert {"aws_lambda_powertools", "slack_sdk", "slack_dlp"} <= core
        assert not core & (DETECT_ONLY | FILES_ONLY), core & (DETECT_ONLY | FILES_ONLY)
        assert packages(assets["Inspector"]) >= DETECT_ONLY
        assert not packages(assets["Inspector"]) & FILES_ONLY
        assert packages(assets["Fetcher"]) >= FILES_ONLY
        assert not packages(assets["Fetcher"]) & DETECT_ONLY
        # The source tree is whole in each: what a function may import is not decided by deleting files.
        assert (assets["Ingest"] / "slack_dlp" / "files" / "extract.py").is_file()
        assert not (assets["Ingest"] / "requirements").exists()


def byte_code(asset: Path) -> dict[Path, Path | None]:
    """Each module of the asset -> its byte code (``__pycache__/<name>.<tag>.pyc``), None if it has none."""
    found: dict[Path, Path | None] = {}
    for module in asset.rglob("*.py"):
        compiled = list((module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"))
        assert len(compiled) <= 1, compiled  # one target's byte code, never two
        found[module.relative_to(asset)] = compiled[0] if compiled else None
    return found


def assert_byte_code_for(asset: Path, *, cache_tag: str, magic: bytes) -> None:
    modules = byte_code(asset)
    # Every module compiles: slack_dlp, the handlers and every dependency (none needs to stay source only).
    assert not [str(m) for m, pyc in modules.items() if pyc is None]
    assert {"slack_dlp/config.py", "ingest.py", "aws_lambda_powertools/logging/logger.py"} <= {str(m) for m in modules}
    for pyc in modules.values():
        assert pyc is not None
        assert pyc.name.split(".")[-2] == cache_tag, pyc
        header = pyc.read_bytes()[:8]
        assert header[:4] == magic, pyc
        assert int.from_bytes(header[4:8], "little") == 0b01, pyc  # hash-based, source never checked (PEP 552)
    assert not [p for p in asset.rglob("*.pyc") if p.parent.name != "__pycache__"]  # no stray byte code


@pytest.fixture(scope="module")
def lambda_compiler(tmp_path_factory: pytest.TempPathFactory) -> CompileReport:
    """The compiler a deployment's byte code comes from (Pyodide here), run on a module and a file
    of another Python's syntax."""
    compiler = byte_code_compiler(LAMBDA_TARGET)
    assert compiler is not None, "no compiler for Python 3.14: run `make setup` (installs Pyodide)"
    folder = tmp_path_factory.mktemp("compile") / "pkg"
    folder.mkdir()
    (folder / "module.py").write_text("VALUE = 1\n")
    (folder / "python2.py").write_text("print 'hello'\n")
    report = compiler.compile(folder.parent)
    assert report.cache_tag in compiler.identity
    return report


def test_the_lambda_compiler_writes_314_byte_code_and_leaves_what_does_not_compile_as_source(
    lambda_compiler: CompileReport,
) -> None:
    assert (lambda_compiler.python.rsplit(".", 1)[0], lambda_compiler.cache_tag) == ("3.14", "cpython-314")
    assert (lambda_compiler.compiled, lambda_compiler.failed) == (1, ("pkg/python2.py: SyntaxError",))


def test_deploy_assets_carry_lambdas_byte_code_for_every_module(
    cdk_out: dict[str, dict[str, Path]], lambda_compiler: CompileReport
) -> None:
    for asset in set(cdk_out["deploy"].values()):
        assert_byte_code_for(asset, cache_tag="cpython-314", magic=lambda_compiler.magic)


def test_local_assets_carry_only_the_hosts_byte_code(cdk_out: dict[str, dict[str, Path]]) -> None:
    for asset in set(cdk_out["second_local"].values()):
        assert_byte_code_for(asset, cache_tag=HOST_CACHE_TAG, magic=importlib.util.MAGIC_NUMBER)


def test_the_dependency_cache_is_keyed_by_target_and_group() -> None:
    source = REPO_ROOT / "functions"
    host, deploy = (LocalPythonBundling(source, DETECT.requirement_files, target=t) for t in (BundleTarget.host(),
                                                                                              LAMBDA_TARGET))  # fmt: skip
    requirements = host.requirements_text()
    assert BundleTarget.host().dependency_key(requirements) != LAMBDA_TARGET.dependency_key(requirements)
    assert_built_for(deploy.dependencies(), suffix=LAMBDA_SUFFIX, machine="aarch64")
    assert_built_for(host.dependencies(), suffix=HOST_SUFFIX, machine=HOST_MACHINE)
    keys = {
        LocalPythonBundling(source, g.requirement_files, target=LAMBDA_TARGET).dependencies() for g in FUNCTION_GROUPS
    }
    assert len(keys) == len(FUNCTION_GROUPS)
    assert keys <= set(DEFAULT_CACHE.iterdir())
