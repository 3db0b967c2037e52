"""One asset per target: the local emulator's bundle (host Python) and Lambda's (Python 3.14 on
arm64) never share a folder of one cdk.out, whichever is synthesized first.

Synthesizes the app three times into one directory, as a user's checkout sees it: ``make run``
(emulator), ``make synth`` (Lambda), ``make run`` again; then reads the compiled extensions'
file name tags and ELF machine field in each asset.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import AssetStaging

from app import build_app
from infra.bundling import DEFAULT_CACHE, REPO_ROOT, BundleTarget
from infra.functions import LAMBDA_TARGET

CONTEXT = {"alert_channel": "C0ALERTS"}
#: ELF e_machine values.
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
HOST_SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))  # e.g. .cpython-311-x86_64-linux-gnu.so
HOST_MACHINE = sysconfig.get_platform().rsplit("-", 1)[-1]  # linux-x86_64 -> x86_64
LAMBDA_SUFFIX = ".cpython-314-aarch64-linux-gnu.so"


def synth(outdir: Path, *, local: bool) -> Path:
    """Synthesize into ``outdir`` like a separate ``cdk`` run; return the functions' asset folder."""
    AssetStaging.clear_asset_hash_cache()  # each cdk command is a new process: no in-memory reuse
    build_app(context={**CONTEXT, "local_emulator": str(local).lower()}, outdir=str(outdir)).synth()
    manifest = json.loads((outdir / "SlackDlp.assets.json").read_text())
    folders = {f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"}
    assert len(folders) == 1, folders
    template = json.loads((outdir / "SlackDlp.template.json").read_text())
    keys = {
        r["Properties"]["Code"]["S3Key"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    }
    folder = folders.pop()
    assert keys == {folder.removeprefix("asset.") + ".zip"}  # the template deploys this very folder
    return outdir / folder


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


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    first_local = synth(outdir, local=True)  # make run
    deploy = synth(outdir, local=False)  # Ctrl-C, make synth (cdk deploy reads the same cdk.out)
    second_local = synth(outdir, local=True)  # make run again
    return {"first_local": first_local, "deploy": deploy, "second_local": second_local}


def test_synth_after_a_local_run_ships_only_lambda_binaries(cdk_out: dict[str, Path]) -> None:
    assert cdk_out["deploy"] != cdk_out["first_local"]
    assert_built_for(cdk_out["deploy"], suffix=LAMBDA_SUFFIX, machine="aarch64")


def test_a_local_run_after_synth_deploys_host_binaries(cdk_out: dict[str, Path]) -> None:
    assert cdk_out["second_local"] == cdk_out["first_local"]  # reused: same sources, same target
    assert_built_for(cdk_out["second_local"], suffix=HOST_SUFFIX, machine=HOST_MACHINE)


def test_the_dependency_cache_is_keyed_by_target_too() -> None:
    requirements = (REPO_ROOT / "functions" / "requirements.txt").read_bytes()
    host, deploy = BundleTarget.host().dependency_key(requirements), LAMBDA_TARGET.dependency_key(requirements)
    assert host != deploy
    assert_built_for(DEFAULT_CACHE / deploy, suffix=LAMBDA_SUFFIX, machine="aarch64")
    assert_built_for(DEFAULT_CACHE / host, suffix=HOST_SUFFIX, machine=HOST_MACHINE)
