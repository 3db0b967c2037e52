"""MiniStack (a local AWS emulator, PyPI ``ministack``) as a subprocess on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REGION = "us-east-1"


class MiniStackError(RuntimeError):
    """MiniStack is missing or did not start; the message says where its log is."""


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise MiniStackError("no free TCP port on 127.0.0.1")


class MiniStack:
    def __init__(self, state_dir: Path, port: int = 0) -> None:
        self.state_dir = state_dir
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "ministack.log"

    @property
    def temp_dir(self) -> Path:
        """MiniStack's temporary files: every function's code, unzipped per worker (tens of MB each),
        which its workers do not remove when MiniStack stops. Removed by ``stop``."""
        return self.state_dir / "tmp"

    def start(self, timeout: float = 60) -> MiniStack:
        self.port = free_port(self.port)
        binary = shutil.which("ministack", path=str(Path(sys.executable).parent)) or shutil.which("ministack")
        if binary is None:
            raise MiniStackError("the ministack command is not installed; run `make setup`")
        workdir = self.state_dir / "ministack"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.temp_dir, ignore_errors=True)  # left by a MiniStack that was killed
        self.temp_dir.mkdir(parents=True)
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "MINISTACK_HOST": "127.0.0.1", "LAMBDA_EXECUTOR": "local",
               "TMPDIR": str(self.temp_dir)}  # fmt: skip
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(name, None)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [binary], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MiniStackError(f"MiniStack exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise MiniStackError(f"MiniStack did not become healthy within {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> MiniStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint)


def aws_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


def create_rate_limit_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
