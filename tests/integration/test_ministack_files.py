"""MiniStack (``make run``, the e2e tests, the benches) leaves nothing behind in the system's /tmp."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from slack_dlp_tools.local.ministack import MiniStack

HANDLER = "import tempfile\n\ndef handler(event, context):\n    return {'tmp': tempfile.gettempdir()}\n"


def _code() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("probe.py", HANDLER)
    return out.getvalue()


def _system_lambda_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ministack-lambda-*")}


def test_the_functions_unzipped_code_stays_in_the_state_folder_and_goes_with_ministack(tmp_path: Path) -> None:
    # GIVEN MiniStack running a function (each worker unzips the function's code to a folder)
    before = _system_lambda_folders()
    stack = MiniStack(tmp_path).start()
    try:
        client = stack.client("lambda")
        client.create_function(
            FunctionName="probe", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/probe",
            Handler="probe.handler", Code={"ZipFile": _code()},
        )  # fmt: skip
        # WHEN it is invoked
        answer = json.loads(client.invoke(FunctionName="probe")["Payload"].read())
        # THEN the code was unzipped under the state folder, not the system's /tmp
        assert list(stack.temp_dir.glob("ministack-lambda-*"))
        assert Path(answer["tmp"]).is_relative_to(stack.temp_dir)
    finally:
        stack.stop()
    # AND once MiniStack stops, nothing of it is left anywhere
    assert not stack.temp_dir.exists()
    assert _system_lambda_folders() - before == set()
