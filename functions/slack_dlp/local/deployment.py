"""The real stack, deployed with the real CDK app into MiniStack (a local AWS emulator).

Used by ``make run`` (``slack-dlp local``) and by the end-to-end tests, so both exercise the
same path a user's ``cdk deploy`` takes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "000000000000"
REGION = "us-east-1"


class LocalDeploymentError(RuntimeError):
    """A step of the local deployment failed; the message says which and where its log is."""


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LocalDeploymentError("no free TCP port on 127.0.0.1")


@dataclass
class LocalDeployment:
    repo_root: Path
    state_dir: Path
    signing_secret: str
    bot_token: str
    slack_api_url: str
    alert_channel: str = "#dlp-alerts"
    stack_name: str = "SlackDlp"
    ministack_port: int = 0
    extra_context: Mapping[str, str] = field(default_factory=dict)
    #: Where `cdk` writes the cloud assembly; tests use their own so they never clobber cdk.out/.
    cdk_out: Path | None = None
    log: Callable[[str], None] = print
    outputs: dict[str, str] = field(default_factory=dict)
    _ministack: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ministack_port}"

    @property
    def request_url(self) -> str:
        """Path-style URL of the HTTP API's $default stage (``*.execute-api.localhost`` does not resolve)."""
        return f"{self.endpoint}/_aws/execute-api/{self.outputs['HttpApiId']}/slack/events"

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> LocalDeployment:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.start_ministack()
        self.deploy()
        self.configure_secrets()
        return self

    def stop(self) -> None:
        process, self._ministack = self._ministack, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LocalDeployment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- steps --------------------------------------------------------------------------------------

    def start_ministack(self) -> None:
        self.ministack_port = free_port(self.ministack_port)
        binary = shutil.which("ministack", path=str(Path(sys.executable).parent)) or shutil.which("ministack")
        if binary is None:
            raise LocalDeploymentError("the ministack command is not installed; run `make setup`")
        workdir = self.state_dir / "ministack"
        workdir.mkdir(parents=True, exist_ok=True)
        log_file = (self.state_dir / "ministack.log").open("wb")
        env = {**os.environ, "GATEWAY_PORT": str(self.ministack_port), "MINISTACK_HOST": "127.0.0.1",
               "LAMBDA_EXECUTOR": "local"}  # fmt: skip
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(name, None)
        self._ministack = subprocess.Popen(
            [binary], cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.log(f"MiniStack starting on {self.endpoint} (log: {self.state_dir / 'ministack.log'})")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._ministack.poll() is not None:
                raise LocalDeploymentError(f"MiniStack exited; see {self.state_dir / 'ministack.log'}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise LocalDeploymentError("MiniStack did not become healthy within 60 s")

    def _cdk(self, *args: str, log_name: str) -> None:
        cdk = self.repo_root / "node_modules" / ".bin" / "cdk"
        if not cdk.exists():
            raise LocalDeploymentError("the CDK CLI is not installed in node_modules; run `make setup`")
        env = {**os.environ, **self.aws_env()}
        log_path = self.state_dir / log_name
        output = ["--output", str(self.cdk_out)] if self.cdk_out else []
        with log_path.open("wb") as log_file:
            result = subprocess.run(
                [str(cdk), *args, "--no-notices", "--ci", *output],
                cwd=self.repo_root, env=env, stdout=log_file, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if result.returncode != 0:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise LocalDeploymentError(f"`cdk {args[0]}` failed (log: {log_path}):\n{tail}")

    def deploy(self) -> dict[str, str]:
        outputs_file = self.state_dir / "outputs.json"
        context = {
            "slack_api_url": self.slack_api_url,
            "alert_channel": self.alert_channel,
            "stack_name": self.stack_name,
            "local_emulator": "true",
            **self.extra_context,
        }
        self.log("Bootstrapping CDK in MiniStack…")
        self._cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}", log_name="cdk-bootstrap.log")
        self.log(f"Deploying stack {self.stack_name} with `cdk deploy`…")
        context_args = [arg for key, value in context.items() for arg in ("-c", f"{key}={value}")]
        self._cdk(
            "deploy", self.stack_name, "--require-approval", "never", "--outputs-file", str(outputs_file),
            *context_args, log_name="cdk-deploy.log",
        )  # fmt: skip
        self.outputs = dict(json.loads(outputs_file.read_text())[self.stack_name])
        return self.outputs

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def configure_secrets(self) -> None:
        """What a user does after ``cdk deploy``: put Slack's values into the stack's secrets."""
        secrets = self.client("secretsmanager")
        secrets.put_secret_value(SecretId=self.outputs["SigningSecretArn"], SecretString=self.signing_secret)
        secrets.put_secret_value(SecretId=self.outputs["BotTokenSecretArn"], SecretString=self.bot_token)

    def post_event(self, body: bytes, headers: Mapping[str, str], timeout: float = 30) -> tuple[int, str]:
        request = urllib.request.Request(self.request_url, data=body, method="POST", headers=dict(headers))  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local URL
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def queue_depths(self) -> dict[str, int]:
        """Visible + in-flight messages of every queue in the stack (DLQs included)."""
        sqs = self.client("sqs")
        depths: dict[str, int] = {}
        for name in ("InspectQueueUrl", "ResultsQueueUrl", "InspectDlqUrl", "ResultsDlqUrl"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.outputs[name],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths
