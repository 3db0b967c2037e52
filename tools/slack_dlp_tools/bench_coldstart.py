"""``make bench-coldstart``: what a cold start costs each function, measured from what is deployed.

1. Deploys the stack into MiniStack (as ``make run`` does) with a Slack stand-in.
2. First requests, while every function is still cold: a signed event with a leak to the ingest
   endpoint (its answer is what Slack's 3 seconds apply to) and the time until the leak's alert
   reaches the stand-in (ingest, inspector and reporter all starting cold); once the queues are
   empty, a second event (warm); then a button press to the interactions endpoint, cold and warm.
3. Cold imports: each function's handler module imported from its synthesized asset (the folder
   ``cdk deploy`` zipped) in N fresh interpreters, with the function's deployed environment and
   only what Lambda's runtime adds on the path (boto3, botocore and their dependencies; not the
   venv's site-packages). The time covers the module's init work too (clients, settings). For the
   API functions the same interpreter then handles one signed request against the deployed stack
   (ingest: a message, enqueued on a queue of its own so that no other function starts;
   interactions: a button press): import + init + first request, which is what a cold start costs
   the first request, whatever work init leaves to it.
4. Without byte code: the API functions' cold import again, from a copy of their asset with every
   ``__pycache__`` removed: what a Lambda deployment ran before its asset carried byte code for
   Python 3.14 (Lambda's file system is read-only, so such a function compiles every module it
   imports at every cold start). The difference is what the byte code saves.

Every probe first imports what Lambda's Python runtime has imported before it imports the handler
(``RUNTIME_BOOTSTRAP``: awslambdaric's bootstrap, marshaller and log utilities), outside the clock:
on Lambda those modules are loaded when the handler's import begins.

The machine is shared and loaded: absolute numbers move with the load, ratios within one run do
not. ``--baseline-asset DIR`` imports the handlers from another asset (e.g. an older one-asset
build) in the same run, and a reference (boto3 imported, two clients built: the floor of any
function that calls AWS) shows the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import event_envelope, fake_aws_access_key_id, message_event
from slack_dlp_tools.local.signing import signed_headers
from slack_dlp_tools.local.slack_standin import SlackStandIn

#: What Lambda's Python runtime puts on the path next to the function's code (not in the asset).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3", "snapshot_restore_py")
#: Modules a function should not load unless it needs them: reported per function.
HEAVY = ("slack_sdk.web", "re2", "slack_dlp.detect", "google.auth", "cryptography", "pypdf", "docx", "openpyxl", "lxml")
#: The functions behind Slack's Request URLs (its 3 seconds): also imported without byte code.
API_FUNCTIONS = ("Ingest", "Interactions")
#: What Lambda's Python runtime (aws-lambda-python-runtime-interface-client: ``bootstrap.py``,
#: ``lambda_runtime_marshaller.py``, ``lambda_runtime_log_utils.py``, ``lambda_runtime_client.py``)
#: imports before the handler module; its HTTP client is native, so ``http.client`` is not among them.
RUNTIME_BOOTSTRAP = ("importlib", "json", "logging", "os", "sys", "time", "traceback", "decimal", "math", "enum",
                     "concurrent.futures")  # fmt: skip
_BOOTSTRAP_IMPORTS = f"import {', '.join(RUNTIME_BOOTSTRAP)}\n"
TOKEN = "xoxb-bench-coldstart-standin"  # noqa: S105 - the stand-in's own token

_PROBE = """
started = time.perf_counter()
module = importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - started
heavy = [m for m in json.loads(sys.argv[2]) if m in sys.modules]
first, status = None, None
if len(sys.argv) > 3:
    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench-1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    status = module.handler(json.loads(sys.argv[3]), Context())["statusCode"]
    first = (time.perf_counter() - started) * 1000
print(json.dumps({"ms": elapsed * 1000, "modules": len(sys.modules), "heavy": heavy, "first_ms": first,
                  "status": status}))
"""


@dataclass(frozen=True)
class DeployedFunction:
    name: str  # Ingest, Inspector, …
    handler_module: str
    asset: Path
    environment: Mapping[str, str]


@dataclass
class ImportResult:
    runs_ms: list[float] = field(default_factory=list)
    #: Import + init + the first request, in the same interpreters (API functions only).
    first_ms: list[float] = field(default_factory=list)
    modules: int = 0
    heavy: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms) if self.runs_ms else float("nan")

    @property
    def first_median(self) -> float:
        return statistics.median(self.first_ms) if self.first_ms else float("nan")


def runtime_path(into: Path) -> Path:
    """A folder holding what Lambda's runtime provides, linked from this interpreter's packages."""
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (into / source.name).symlink_to(source)
    return into


def _run_probe(
    script: str, args: list[str], path: list[Path], environment: Mapping[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter as Lambda's runtime starts a handler's import: ``-S`` (no
    site-packages), only ``path`` importable, no byte code written by the run (the asset is measured
    as shipped), and what the runtime's bootstrap has already imported (``RUNTIME_BOOTSTRAP``)
    imported before the script's clock starts."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        **environment,
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-S", "-c", _BOOTSTRAP_IMPORTS + script, *args],
        capture_output=True, text=True, env=env, check=check, timeout=120,
    )  # fmt: skip


def cold_import(
    module: str,
    code: Path,
    runtime: Path,
    environment: Mapping[str, str],
    runs: int,
    request: Callable[[], dict[str, object]] | None = None,
) -> ImportResult:
    """Import ``module`` from ``code`` in ``runs`` fresh interpreters (``-S``: no site-packages);
    with ``request``, each then handles the event it builds (made just before the interpreter
    starts, as API Gateway receives a request before Lambda starts a cold environment)."""
    result = ImportResult()
    for _ in range(runs):
        event = [json.dumps(request())] if request is not None else []
        done = _run_probe(_PROBE, [module, json.dumps(HEAVY), *event], [code, runtime], environment, check=False)
        if done.returncode != 0:
            result.error = (done.stderr.strip().splitlines() or ["failed"])[-1][:160]
            return result
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        if request is not None and probe["status"] != 200:
            result.error = f"first request answered HTTP {probe['status']}"
            return result
        result.runs_ms.append(float(probe["ms"]))
        if probe["first_ms"] is not None:
            result.first_ms.append(float(probe["first_ms"]))
        result.modules, result.heavy = int(probe["modules"]), list(probe["heavy"])
    return result


def without_byte_code(asset: Path, into: Path) -> Path:
    """A copy of ``asset`` with no byte code: its modules compile at each cold start."""
    shutil.copytree(asset, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def http_api_request(path: str, body: bytes, headers: Mapping[str, str]) -> dict[str, object]:
    """An HTTP API (payload format 2.0) event received now."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {"http": {"method": "POST", "path": path}, "routeKey": f"POST {path}",
                           "timeEpoch": int(time.time() * 1000)},
        "body": body.decode(),
        "isBase64Encoded": False,
    }  # fmt: skip


def first_request_events(secret: str) -> dict[str, Callable[[], dict[str, object]]]:
    """Per API function, a signed request to handle after the cold import (a new message each time)."""
    import itertools

    counter = itertools.count()

    def message() -> dict[str, object]:
        event = message_event(f"cold start {next(counter)}", channel="C0BENCHCOLD", ts=f"{time.time():.6f}")
        body = json.dumps(event_envelope(event)).encode()
        return http_api_request("/slack/events", body, signed_headers(secret, body))

    def press() -> dict[str, object]:
        body = urlencode({"payload": json.dumps(_button_press())}).encode()
        headers = signed_headers(secret, body, content_type="application/x-www-form-urlencoded")
        return http_api_request("/slack/interactions", body, headers)

    return {"Ingest": message, "Interactions": press}


def _button_press() -> dict[str, object]:
    return {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": "U0SECOPS"},
        "container": {"channel_id": "C0ALERTS", "message_ts": "1700000000.000001"},
        "message": {"blocks": []},
        "actions": [{"action_id": "dlp_acknowledge", "value": json.dumps({"t": "T0LOCAL", "i": "bench", "f": []})}],
    }


#: Ingest's cold import in stages, each timed in the same fresh interpreter: what the floor is made of.
_STAGES = """
marks = [time.perf_counter()]
import botocore.session
marks.append(time.perf_counter())
from aws_lambda_powertools import Logger, Metrics
marks.append(time.perf_counter())
import slack_dlp.config, slack_dlp.http, slack_dlp.ingest, slack_dlp.dedup, slack_dlp.queues, slack_dlp.wiring.ingest
marks.append(time.perf_counter())
import ingest
marks.append(time.perf_counter())
print(json.dumps([(b - a) * 1000 for a, b in zip(marks, marks[1:])]))
"""
STAGE_NAMES = (
    "import botocore",
    "import Powertools Logger + Metrics",
    "import slack_dlp (ingest's modules)",
    "init: settings, SQS + Secrets Manager clients, service",
)


def ingest_stages(code: Path, runtime: Path, environment: Mapping[str, str], runs: int) -> dict[str, float]:
    """Median ms of each stage of ingest's cold import (see ``_STAGES``)."""
    runs_ms = []
    for _ in range(runs):
        done = _run_probe(_STAGES, [], [code, runtime], environment)
        runs_ms.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(run[i] for run in runs_ms) for i, name in enumerate(STAGE_NAMES)}


def reference(statement: str, runtime: Path, environment: Mapping[str, str], runs: int) -> float:
    """Median time of ``statement`` in fresh interpreters, under the same load."""
    probe = f"t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    times = []
    for _ in range(runs):
        times.append(float(_run_probe(probe, [], [runtime], environment).stdout))
    return statistics.median(times)


def deployed_functions(deployment: LocalDeployment, cdk_out: Path) -> list[DeployedFunction]:
    """Each function's handler, asset folder (from the template) and environment (from the emulator)."""
    template = json.loads((cdk_out / f"{deployment.stack_name}.template.json").read_text())
    physical: dict[str, str] = {}
    pages = deployment.client("cloudformation").get_paginator("list_stack_resources")
    for page in pages.paginate(StackName=deployment.stack_name):
        for resource in page.get("StackResourceSummaries", []):
            physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
    lambda_client = deployment.client("lambda")
    found = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or logical not in physical:
            continue
        properties = resource["Properties"]
        key = str(properties["Code"]["S3Key"])
        configuration = lambda_client.get_function_configuration(FunctionName=physical[logical])
        found.append(
            DeployedFunction(
                name=str(resource.get("Metadata", {}).get("aws:cdk:path", logical)).split("/")[1],
                handler_module=str(properties["Handler"]).rsplit(".", 1)[0],
                asset=cdk_out / f"asset.{key.removesuffix('.zip')}",
                environment=dict(configuration.get("Environment", {}).get("Variables", {})),
            )
        )
    return sorted(found, key=lambda f: f.name)


def wait_for_published_versions(deployment: LocalDeployment, timeout: float = 300) -> None:
    """With SnapStart, AWS's deploy ends once each version's snapshot is taken; MiniStack publishes
    at once and initializes in the background (State Pending): wait for that, as a deploy would."""
    lambda_client = deployment.client("lambda")
    deadline = time.monotonic() + timeout
    for function in lambda_client.list_functions()["Functions"]:
        for alias in lambda_client.list_aliases(FunctionName=function["FunctionName"])["Aliases"]:
            while time.monotonic() < deadline:
                state = lambda_client.get_function_configuration(
                    FunctionName=function["FunctionName"], Qualifier=alias["Name"]
                ).get("State")
                if state != "Pending":
                    break
                time.sleep(0.5)


def timed(call: Callable[[], tuple[int, str]]) -> tuple[int, float]:
    started = time.perf_counter()
    status, _ = call()
    return status, (time.perf_counter() - started) * 1000


def settle(deployment: LocalDeployment, timeout: float = 60) -> None:
    """Wait until every queue is empty, so no other function is starting or running."""
    deadline = time.monotonic() + timeout
    while sum(deployment.queue_depths().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)


def first_requests(deployment: LocalDeployment, standin: SlackStandIn, secret: str) -> dict[str, float]:
    """Cold, then warm: the ingest endpoint, the time to the first alert, the interactions endpoint."""
    import random

    measured: dict[str, float] = {}
    leak = fake_aws_access_key_id(random.Random(12))  # noqa: S311 - look-alike test data

    def post_leak() -> tuple[int, str]:
        body = json.dumps(event_envelope(message_event(f"key {leak}", channel="C0BENCH"))).encode()
        return deployment.post_event(body, signed_headers(secret, body))

    started = time.perf_counter()
    status, measured["ingest cold"] = timed(post_leak)
    if status != 200:
        raise RuntimeError(f"ingest answered HTTP {status}")
    deadline = time.monotonic() + 120
    while not standin.alerts() and time.monotonic() < deadline:
        time.sleep(0.05)
    measured["first alert"] = (time.perf_counter() - started) * 1000 if standin.alerts() else float("nan")
    settle(deployment)  # the first alert's reporter finished: nothing else starts while we measure
    _, measured["ingest warm"] = timed(post_leak)
    settle(deployment)

    body = urlencode({"payload": json.dumps(_button_press())}).encode()

    def press() -> tuple[int, str]:
        headers = signed_headers(secret, body, content_type="application/x-www-form-urlencoded")
        return deployment.post_event(body, headers, url=deployment.interactions_url)

    status, measured["interactions cold"] = timed(press)
    if status != 200:
        raise RuntimeError(f"interactions answered HTTP {status}")
    _, measured["interactions warm"] = timed(press)
    return measured


def _mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _median_range(result: ImportResult) -> str:
    if not result.runs_ms:
        return f"failed: {result.error}"
    return f"{result.median:.0f} ({min(result.runs_ms):.0f}–{max(result.runs_ms):.0f})"


def render(
    functions: list[DeployedFunction],
    imports: Mapping[str, ImportResult],
    baseline: Mapping[str, ImportResult],
    sources_only: Mapping[str, ImportResult],
    requests: Mapping[str, float],
    references: Mapping[str, float],
    runs: int,
    stages: Mapping[str, float] | None = None,
) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Cold start on this machine ({os.cpu_count()} cores, load average {load:.1f}); "
        f"import = median of {runs} fresh interpreters (min–max)",
        "",
        "| function | asset MB | modules | cold import ms | cold import without byte code ms "
        "| import + init + first request ms | heavy modules loaded | first request through MiniStack ms (warm) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for function in functions:
        result = imports[function.name]
        key = function.name.lower()
        first = f"{requests[key + ' cold']:.0f} ({requests[key + ' warm']:.0f})" if key + " cold" in requests else "–"
        cold = _median_range(result)
        if function.name in baseline and baseline[function.name].runs_ms:
            cold += f" · one asset: {baseline[function.name].median:.0f}"
        heavy = ", ".join(result.heavy) or "none"
        with_request = (
            f"{result.first_median:.0f} ({min(result.first_ms):.0f}–{max(result.first_ms):.0f})"
            if result.first_ms
            else "–"
        )
        source = _median_range(sources_only[function.name]) if function.name in sources_only else "–"
        lines.append(f"| {function.name} | {_mb(function.asset):.1f} | {result.modules} | {cold} | {source} "
                     f"| {with_request} | {heavy} | {first} |")  # fmt: skip
    lines += [
        "",
        f"First alert after the first event (ingest, inspector, reporter all cold): {requests['first alert']:.0f} ms",
        "Reference under the same load: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in references.items()),
    ]
    if stages:
        lines.append(
            "Ingest's cold import in stages (medians): " + ", ".join(f"{k} {v:.0f} ms" for k, v in stages.items())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-coldstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per function")
    parser.add_argument("--baseline-asset", type=Path, help="also import every handler from this asset folder")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE", help="cdk context")
    args = parser.parse_args(argv)

    repo_root = Path.cwd()
    state = Path(tempfile.mkdtemp(prefix="bench-coldstart-", dir=repo_root / ".local" if (repo_root / ".local").is_dir()
                                  else None))  # fmt: skip
    secret = secrets.token_hex(16)
    with SlackStandIn(token=TOKEN) as standin:
        deployment = LocalDeployment(
            repo_root=repo_root,
            state_dir=state,
            signing_secret=secret,
            bot_token=TOKEN,
            slack_api_url=standin.api_url,
            alert_channel="C0ALERTS",
            cdk_out=state / "cdk.out",
            extra_context=dict(item.split("=", 1) for item in args.context),
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
        with deployment:
            wait_for_published_versions(deployment)
            time.sleep(5)  # the deployment's own processes (cdk, node) finish first
            requests = first_requests(deployment, standin, secret)
            functions = deployed_functions(deployment, state / "cdk.out")
            aws = {k: v for k, v in deployment.aws_env().items() if k.startswith("AWS_")}
            # Ingest's first requests go to a queue of their own: no inspector starts while we measure.
            sink = deployment.client("sqs").create_queue(QueueName="bench-coldstart-sink")["QueueUrl"]
            overrides = {"Ingest": {"INSPECT_QUEUE_URL": sink}}
            events = first_request_events(secret)
            with tempfile.TemporaryDirectory() as folder:
                runtime = runtime_path(Path(folder))
                imports = {
                    f.name: cold_import(
                        f.handler_module,
                        f.asset,
                        runtime,
                        {**f.environment, **overrides.get(f.name, {}), **aws},
                        args.runs,
                        request=events.get(f.name),
                    )
                    for f in functions
                }
                baseline: dict[str, ImportResult] = {}
                if args.baseline_asset:
                    baseline = {
                        f.name: cold_import(
                            f.handler_module, args.baseline_asset, runtime, {**f.environment, **aws}, args.runs
                        )
                        for f in functions
                    }
                # What the API functions' cold import cost while Lambda's asset had no byte code.
                api = [f for f in functions if f.name in API_FUNCTIONS]
                stripped = {
                    asset: without_byte_code(asset, Path(folder) / f"sources-{i}")
                    for i, asset in enumerate(sorted({f.asset for f in api}))
                }
                sources_only = {
                    f.name: cold_import(
                        f.handler_module,
                        stripped[f.asset],
                        runtime,
                        {**f.environment, **overrides.get(f.name, {}), **aws},
                        args.runs,
                    )
                    for f in api
                }
                references = {
                    "import boto3 + 2 clients": reference(
                        "import boto3; boto3.client('sqs'); boto3.client('dynamodb')", runtime, aws, args.runs
                    ),
                    # What every ingest request needs: the floor of its cold import.
                    "import botocore + SQS and Secrets Manager clients": reference(
                        "import botocore.session as b; s = b.get_session(); s.create_client('sqs'); "
                        "s.create_client('secretsmanager')",
                        runtime,
                        aws,
                        args.runs,
                    ),
                }
                ingest = next((f for f in functions if f.name == "Ingest"), None)
                stages = (
                    ingest_stages(ingest.asset, runtime, {**ingest.environment, **aws}, args.runs) if ingest else None
                )
    print(render(functions, imports, baseline, sources_only, requests, references, args.runs, stages))
    # The deployment's assets and MiniStack's log (~110 MB) are kept only when a run failed, to read.
    completed = all(r.runs_ms for r in imports.values())
    if completed:
        shutil.rmtree(state, ignore_errors=True)
    return 0 if completed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
