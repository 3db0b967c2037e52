"""``slack-dlp status``: is the deployed pipeline healthy? Queues, alarms, recent alerts, running backfills."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_dlp_tools.cli import backfill
from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, StackTarget, add_stack_arguments
from slack_dlp_tools.cli.redrive import QUEUES

DAY = 86400
#: How far back the last alert is looked for.
LAST_ALERT_LOOKBACK_DAYS = 7


def register(commands: Any) -> None:
    status = commands.add_parser(
        "status", help="queues and DLQs, alarms firing, recent alerts, running backfills (exit 1 if unhealthy)"
    )
    status.add_argument("--json", action="store_true")
    add_stack_arguments(status)
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stack = StackTarget.from_args(args)
    report = collect(stack)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(report))
    unhealthy = report["alarms"] or any(q["dlq_waiting"] for q in report["queues"])
    return EXIT_FOUND if unhealthy else EXIT_CLEAN


def collect(stack: StackTarget) -> dict[str, Any]:
    sqs, cloudwatch = stack.client("sqs"), stack.client("cloudwatch")
    queues = []
    for name, (queue_key, dlq_key) in QUEUES.items():
        if queue_key not in stack.outputs or dlq_key not in stack.outputs:
            continue
        queue, dlq = _counts(sqs, stack.output(queue_key)), _counts(sqs, stack.output(dlq_key))
        queues.append(
            {
                "queue": name,
                "waiting": queue["visible"],
                "in_flight": queue["in_flight"],
                "oldest_seconds": _oldest_age(cloudwatch, stack.output(queue_key)),
                "dlq_waiting": dlq["visible"],
                "dlq_oldest_seconds": _oldest_age(cloudwatch, stack.output(dlq_key)),
            }
        )
    return {
        "stack": stack.stack_name,
        "queues": queues,
        "alarms": _alarms(cloudwatch, stack.stack_name),
        **_activity(stack),
        # A stack deployed before backfills has no table to read.
        "backfills": backfill.running(stack) if "BackfillTableName" in stack.outputs else [],
    }


def _counts(sqs: Any, url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {"visible": int(attributes[names[0]]), "in_flight": int(attributes[names[1]])}


def _oldest_age(cloudwatch: Any, url: str) -> float | None:
    """SQS's own ApproximateAgeOfOldestMessage (receiving a message to look would count as a delivery)."""
    now = datetime.now(UTC)
    try:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": url.rstrip("/").rsplit("/", 1)[-1]}],
            StartTime=now - timedelta(minutes=15),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        ).get("Datapoints", [])
    except Exception:  # a missing metric is no reason to fail the status
        return None
    latest = max(points, key=lambda p: p["Timestamp"], default=None)
    return float(latest["Maximum"]) if latest else None


def _alarms(cloudwatch: Any, stack_name: str) -> list[dict[str, str]]:
    """The stack's alarms in ALARM (CloudFormation names them after the stack)."""
    firing = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        StateValue="ALARM", AlarmNamePrefix=f"{stack_name}-"
    ):
        for alarm in page.get("MetricAlarms", []):
            firing.append(
                {
                    "alarm": alarm["AlarmName"],
                    "description": alarm.get("AlarmDescription", ""),
                    "since": str(alarm.get("StateUpdatedTimestamp", "")),
                }
            )
    return firing


def _activity(stack: StackTarget) -> dict[str, Any]:
    """From the audit trail: the last alert, and what happened in the last 24 hours."""
    from slack_dlp.triage import DynamoDbTriageStore

    store = DynamoDbTriageStore(stack.client("dynamodb"), stack.output("TriageTableName"), retention_days=0)
    events = store.since(LAST_ALERT_LOOKBACK_DAYS * DAY)
    alerts = [e for e in events if e["kind"] == "alert"]
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = [e for e in events if str(e["at"]) >= day_ago]
    recent_alerts = [e for e in recent if e["kind"] == "alert"]
    return {
        "last_alert": alerts[-1]["at"] if alerts else None,
        "last_24h": {
            "alerts": len(recent_alerts),
            "findings": sum(len(e.get("masked", [])) for e in recent_alerts),
            "triaged": sum(e["kind"] in ("acknowledged", "false_positive", "deleted") for e in recent),
            "triage_refused": sum(e["kind"] == "triage_refused" for e in recent),
            "files_skipped": sum(e["kind"] == "file_skipped" for e in recent),
        },
    }


def render(report: dict[str, Any]) -> str:
    def age(seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds:.0f} s"

    lines = [
        f"Stack {report['stack']}",
        "",
        f"{'QUEUE':10} {'WAITING':>8} {'IN FLIGHT':>10} {'OLDEST':>8}   {'DLQ':>6} {'DLQ OLDEST':>10}",
    ]
    for q in report["queues"]:
        lines.append(
            f"{q['queue']:10} {q['waiting']:>8} {q['in_flight']:>10} {age(q['oldest_seconds']):>8}   "
            f"{q['dlq_waiting']:>6} {age(q['dlq_oldest_seconds']):>10}"
        )
    lines.append("")
    if report["alarms"]:
        lines.append("Alarms firing:")
        lines += [f"  {a['alarm']}: {a['description']}" for a in report["alarms"]]
    else:
        lines.append("Alarms firing: none")
    day = report["last_24h"]
    lines.append(f"Last alert: {report['last_alert'] or f'none in {LAST_ALERT_LOOKBACK_DAYS} days'}")
    lines.append(
        f"Last 24 h: {day['alerts']} alerts, {day['findings']} findings, {day['triaged']} triaged, "
        f"{day['triage_refused']} refused, {day['files_skipped']} files not inspected"
    )
    lines.append(f"Backfills running: {len(report['backfills']) or 'none'}")
    lines += [
        f"  {run['run_id']} (team {run['team_id']}): {backfill.progress_line(run)}" for run in report["backfills"]
    ]
    if any(q["dlq_waiting"] for q in report["queues"]):
        lines.append("Messages wait in a DLQ: fix the cause, then `slack-dlp redrive --queue NAME`.")
    return "\n".join(lines)
