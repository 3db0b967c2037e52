"""The real stack, deployed with the real CDK app into MiniStack (a local AWS emulator).

Used by ``make run`` (``slack-dlp local``) and by the end-to-end tests, so both exercise the
same path a user's ``cdk deploy`` takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_dlp_tools.local.ministack import MiniStack, MiniStackError, aws_client

ACCOUNT = "000000000000"
REGION = "us-east-1"


class LocalDeploymentError(RuntimeError):
    """A step of the local deployment failed; the message says which and where its log is."""


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
    _ministack: MiniStack | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ministack_port}"

    @property
    def request_url(self) -> str:
        """Path-style URL of the HTTP API's $default stage (``*.execute-api.localhost`` does not resolve)."""
        return f"{self.endpoint}/_aws/execute-api/{self.outputs['HttpApiId']}/slack/events"

    @property
    def interactions_url(self) -> str:
        return f"{self.endpoint}/_aws/execute-api/{self.outputs['HttpApiId']}/slack/interactions"

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
        ministack, self._ministack = self._ministack, None
        if ministack is not None:
            ministack.stop()

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
        ministack = MiniStack(self.state_dir, self.ministack_port)
        self._ministack = ministack
        self.log(f"MiniStack starting (log: {ministack.log_path})")
        try:
            ministack.start()
        except MiniStackError as error:
            raise LocalDeploymentError(str(error)) from None
        self.ministack_port = ministack.port

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
        return aws_client(service, self.endpoint)

    def configure_secrets(self) -> None:
        """What a user does after ``cdk deploy``: put Slack's values into the stack's secrets."""
        secrets = self.client("secretsmanager")
        secrets.put_secret_value(SecretId=self.outputs["SigningSecretArn"], SecretString=self.signing_secret)
        secrets.put_secret_value(SecretId=self.outputs["BotTokenSecretArn"], SecretString=self.bot_token)

    def post_event(
        self, body: bytes, headers: Mapping[str, str], timeout: float = 30, *, url: str | None = None
    ) -> tuple[int, str]:
        target = url or self.request_url
        request = urllib.request.Request(target, data=body, method="POST", headers=dict(headers))  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local URL
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def queue_depths(self) -> dict[str, int]:
        """Visible + in-flight messages of every queue in the stack (DLQs included)."""
        sqs = self.client("sqs")
        depths: dict[str, int] = {}
        for name in ("InspectQueueUrl", "ResultsQueueUrl", "InspectDlqUrl", "ResultsDlqUrl", "FilesQueueUrl",
                     "FilesDlqUrl", "BackfillQueueUrl", "BackfillDlqUrl"):  # fmt: skip
            if name not in self.outputs:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.outputs[name],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths
