"""One factory for the pipeline's Lambda functions: runtime, architecture, logs, least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import REQUIREMENTS_DIR, BundleTarget
from slack_dlp.config import ENV_PREFIX

#: Where a function's environment states its ``log_level`` setting (``Settings.to_env``).
LOG_LEVEL_ENV = f"{ENV_PREFIX}LOG_LEVEL"

#: Lambda's newest Python; the asset's wheels are built for the same version.
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
ARCHITECTURE = lambda_.Architecture.ARM_64
#: pip accepts several; RE2 publishes manylinux_2_28 wheels (Lambda's Amazon Linux 2023 has glibc 2.34).
PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
#: What a deployment's asset is built for (the local emulator's is ``BundleTarget.host()``).
LAMBDA_TARGET = BundleTarget(PYTHON_VERSION, PIP_PLATFORMS)


@dataclass(frozen=True)
class FunctionGroup:
    """Functions that share one asset: the whole source tree, and the packages their imports need
    (requirement files under ``functions/requirements/``). A function imports nothing outside its
    group's packages; ``tests/unit/test_import_boundaries.py`` checks what each handler pulls in."""

    name: str
    requirements: tuple[str, ...]

    @property
    def requirement_files(self) -> tuple[Path, ...]:
        return tuple(REQUIREMENTS_DIR / name for name in self.requirements)


#: ingest, interactions, reporter: Powertools and slack_sdk, nothing that extracts files or detects.
CORE = FunctionGroup("core", ("core.txt",))
#: The inspector: + RE2 for the engine, google-auth for dlp_provider=google.
DETECT = FunctionGroup("detect", ("core.txt", "detect.txt"))
#: The fetcher: + pypdf, python-docx, openpyxl.
FILES = FunctionGroup("files", ("core.txt", "files.txt"))
FUNCTION_GROUPS = (CORE, DETECT, FILES)


def application_log_level(log_level: str) -> lambda_.ApplicationLogLevel:
    """The level Lambda filters application logs at (advanced logging controls): ``log_level``, but
    never above INFO. Powertools' metric documents carry no ``level`` and Lambda files them as INFO:
    a stricter filter would drop every custom metric. Powertools itself still logs at ``log_level``
    (``wiring.configure_logging``), so WARNING and above hold back the INFO lines all the same."""
    return lambda_.ApplicationLogLevel.DEBUG if log_level.upper() == "DEBUG" else lambda_.ApplicationLogLevel.INFO


class PipelineFunction(Construct):
    """A Python function with its own role (no managed policies) and a log group with retention.

    Logs are JSON with Lambda's system logs at WARN: the START, END and REPORT lines (about 360
    bytes per invocation, most of the log bill of a function invoked once per Slack event) are not
    written; durations come from the free ``AWS/Lambda`` metrics instead. Powertools writes JSON
    itself, so its lines and metric documents are unchanged."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_size: int = 512,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        snapstart: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        #: Powertools' service name: the ``service`` dimension of this function's metrics.
        self.service_name = f"slack-dlp-{construct_id.lower()}"
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"slack-dlp {construct_id}: only what this function needs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            description=description,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            # The level the function is told (its settings, in its environment) is the level Lambda keeps.
            application_log_level_v2=application_log_level(environment.get(LOG_LEVEL_ENV, "INFO")),
            environment={"POWERTOOLS_SERVICE_NAME": self.service_name, **environment},
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapstart else None,
            # A deploy publishes a new version; the one it replaces is deleted, and its cached snapshot
            # (charged while the version exists) with it.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY) if snapstart else None,
        )
        #: What callers invoke: with SnapStart an alias of the newest published version (SnapStart
        #: applies to published versions only), else the function itself ($LATEST).
        self.entry: lambda_.IFunction = self.function
        if snapstart:
            self.entry = lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)

    @property
    def timeout(self) -> Duration:
        timeout = self.function.timeout
        assert timeout is not None
        return timeout
