"""An encrypted SQS queue with its dead-letter queue and an alarm on the DLQ."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import alarm

#: How long SQS reuses a data key before asking KMS for another (per queue and principal): the
#: longest SQS allows. Each GenerateDataKey/Decrypt is a billed KMS request; a longer period means one
#: data key encrypts more messages, which live minutes here and stay under the stack's rotated key.
DATA_KEY_REUSE = Duration.hours(24)


class QueueWithDlq(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        visibility_timeout: Duration,
        max_receive_count: int,
        retention_days: int = 4,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            data_key_reuse=DATA_KEY_REUSE,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            data_key_reuse=DATA_KEY_REUSE,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=Duration.days(retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
        )
        self._key = key
        self.dlq_alarm = alarm(
            self,
            "DlqNotEmpty",
            description=f"Messages of {construct_id} failed {max_receive_count} times and wait in its DLQ",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)),
        )

    def grant_send(self, grantee: iam.IGrantable) -> None:
        """SendMessage plus exactly the two KMS actions an encrypted send needs (no wildcards)."""
        self.queue.grant(grantee, "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        self._key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")

    def grant_send_to_dead_letter_queue(self, grantee: iam.IGrantable) -> None:
        """For a consumer that parks messages it knows no retry can fix."""
        self.dead_letter_queue.grant(grantee, "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        self._key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
