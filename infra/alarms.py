"""Every alarm of the stack is made by :func:`alarm`; :class:`NotifyOnAlarms` gives each one the
alarm topic as AlarmAction and OKAction (``infra.monitoring`` applies it to the whole stack, so an
alarm added anywhere later notifies too)."""

from __future__ import annotations

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct


def alarm(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    description: str,
    threshold: float = 1,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
) -> cloudwatch.Alarm:
    """An alarm on a plain metric (no metric math, which MiniStack cannot deploy); missing data is fine.
    Its actions come from the stack's :class:`NotifyOnAlarms` aspect."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


@jsii.implements(IAspect)
class NotifyOnAlarms:
    """Gives every alarm in a scope the topic as AlarmAction and OKAction."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._action = cw_actions.SnsAction(topic)
        self._done: set[str] = set()

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cloudwatch.Alarm) and node.node.path not in self._done:
            self._done.add(node.node.path)
            node.add_alarm_action(self._action)
            node.add_ok_action(self._action)
