"""Which results have been alerted, and in which Slack message, whatever group they were posted in.

The reporter posts a lone result as an alert and several as a digest, under an idempotency key of
the group. SQS may deliver the same results again in other groups (a redelivery after a failed
author notice, a second backfill, a standard queue's duplicate), even to two invocations at once,
so the group's key alone cannot keep them from being posted twice: before posting, each result's
alert key is claimed for a short lease with a conditional write that only one invocation wins;
the winner records the ``ts`` of its post under the same key as soon as the post succeeds (or
releases the claim when it fails), and marks it followed-up once the audit record, the author
notice and the event-bus publication are done.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from slack_dlp.batches import batch_get, batch_write

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: How long a claim holds outside Lambda (local runs, the chaos harness), where no invocation ends:
#: the reporter's timeout in the stack. In Lambda a claim holds for the time its invocation has left.
DEFAULT_LEASE_SECONDS = 30.0
#: TransactWriteItems takes at most this many actions.
TRANSACTION_LIMIT = 100


@dataclass(frozen=True)
class AlertRecord:
    alert_ts: str
    followed_up: bool
    #: Claimed by an invocation that has not recorded a post yet: it may be posting it right now.
    pending: bool = False
    #: For a claim: seconds until its lease ends (0 when unknown), when a retry finds it posted or free.
    retry_after: float = 0.0


#: The record of a key another invocation holds a claim on.
PENDING = AlertRecord("", followed_up=False, pending=True)


class AlertLog(Protocol):
    def lookup(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        """The records of the keys among ``keys`` that were posted, or are claimed by an invocation now."""
        ...

    def claim(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        """Claims the keys for this invocation to post: the records of the keys it could not claim
        (posted, or claimed by another invocation); every other key is this invocation's until it
        marks or releases it, or until the lease runs out."""
        ...

    def release(self, keys: Sequence[str]) -> None:
        """Gives up this invocation's claims (its post failed), so that a retry can post."""
        ...

    def mark(self, keys: Sequence[str], alert_ts: str, *, followed_up: bool) -> None: ...


class DynamoDbAlertLog:
    """Items ``reported#<alert key>`` in the dedup table, expiring with its TTL attribute: one
    BatchGetItem per group to look up, one BatchWriteItem per mark. An item written before the
    ``ts`` was recorded counts as followed up (it was only written once everything was done).

    A claim is an item ``{id, expiration: now + lease, claimed_by: <token>}`` (about 100 bytes, no
    value), written only where no unexpired item exists: one conditional PutItem for a lone result,
    one TransactWriteItems of conditional puts for a digest (all or none: the keys whose condition
    fails are left out and the rest written again, so a partial claim never writes what it lost).
    The old item of a key lost comes back with the failure (``ALL_OLD``): a posted record or a claim.
    A mark overwrites the claim; a release deletes it, only if it is still this claim (its token).
    The lease is the time the invocation has left (:meth:`register_lambda_context`): no post of it
    can outlast it, and the results queue's visibility timeout is six times the function's timeout,
    so a record failed because of a claim comes back once that claim was recorded or has expired."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds
        self._clock = clock
        self._lease: Callable[[], float] = lambda: lease_seconds
        self._claims: dict[str, str] = {}  # key -> the token of this invocation's claim on it

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Claims made in this invocation hold for the time it has left."""
        self._lease = lambda: context.get_remaining_time_in_millis() / 1000
        self._claims.clear()

    def lookup(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        found: dict[str, AlertRecord] = {}
        unique = sorted(set(keys))
        for first in range(0, len(unique), 100):
            keys_attr = [{"id": {"S": f"reported#{k}"}} for k in unique[first : first + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys_attr, "ConsistentRead": True}}
            for response in batch_get(self._client, request):
                now = self._clock()
                for item in response.get("Responses", {}).get(self._table, []):
                    record = self._record(item, now)
                    if record is not None:
                        found[item["id"]["S"].removeprefix("reported#")] = record
        return found

    def claim(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        now = self._clock()
        expiration = {"N": str(math.ceil(now + max(1.0, self._lease())))}
        token = uuid.uuid4().hex
        operations = {
            key: {
                "Put": {
                    "TableName": self._table,
                    "Item": {"id": {"S": f"reported#{key}"}, "expiration": expiration, "claimed_by": {"S": token}},
                    # TTL deletes expired items up to days late: an expired claim or record is no record
                    # (expired as lookup has it: expiration <= now, both whole seconds here).
                    "ConditionExpression": "attribute_not_exists(id) OR expiration <= :now",
                    "ExpressionAttributeValues": {":now": {"N": str(math.floor(now))}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for key in sorted(set(keys))
        }
        lost = self._write_all(operations)
        self._claims.update((key, token) for key in operations if key not in lost)
        # A failed condition found an unexpired item; a concurrent transaction's claim returns none.
        return {key: self._record(item, now) or PENDING for key, item in lost.items()}

    def release(self, keys: Sequence[str]) -> None:
        operations = {
            key: {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"id": {"S": f"reported#{key}"}},
                    "ConditionExpression": "claimed_by = :token",
                    "ExpressionAttributeValues": {":token": {"S": token}},
                }
            }
            for key in sorted(set(keys))
            if (token := self._claims.pop(key, None)) is not None
        }
        self._write_all(operations)  # a claim that ran out and was taken over is not ours to delete

    def mark(self, keys: Sequence[str], alert_ts: str, *, followed_up: bool) -> None:
        fields = {
            "expiration": {"N": str(int(self._clock()) + self._ttl)},
            "alert_ts": {"S": alert_ts},
            "followed_up": {"BOOL": followed_up},
        }
        unique = sorted(set(keys))
        for first in range(0, len(unique), 25):
            items = [{"id": {"S": f"reported#{k}"}, **fields} for k in unique[first : first + 25]]
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": item}} for item in items]}
            batch_write(self._client, request)
        for key in unique:
            self._claims.pop(key, None)

    @staticmethod
    def _record(item: dict[str, Any], now: float) -> AlertRecord | None:
        expires = float(item.get("expiration", {}).get("N", "inf"))
        if expires <= now:  # TTL deletes late
            return None
        if "claimed_by" in item:
            return replace(PENDING, retry_after=max(1.0, expires - now))
        followed_up = item.get("followed_up", {}).get("BOOL", "alert_ts" not in item)
        return AlertRecord(item.get("alert_ts", {}).get("S", ""), bool(followed_up))

    def _write_all(self, operations: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each key's conditional write, up to a hundred in one transaction; a key whose condition
        fails is left out and the others written again. Returns the keys left out, with the item
        DynamoDB returned for each (empty when it returned none: another transaction on it)."""
        lost: dict[str, dict[str, Any]] = {}
        keys = list(operations)
        for first in range(0, len(keys), TRANSACTION_LIMIT):
            pending = keys[first : first + TRANSACTION_LIMIT]
            while pending:
                failed = self._write([operations[key] for key in pending])
                if failed is None:
                    break
                lost.update((pending[i], item) for i, item in failed.items())
                pending = [key for i, key in enumerate(pending) if i not in failed]
        return lost

    def _write(self, operations: list[dict[str, Any]]) -> dict[int, dict[str, Any]] | None:
        """One write (a transaction for several): None when done, else the positions whose
        condition failed (or whose item another transaction held) with the old item, if any."""
        from botocore.exceptions import ClientError

        try:
            if len(operations) > 1:
                self._client.transact_write_items(TransactItems=operations)
            elif "Put" in operations[0]:
                self._client.put_item(**operations[0]["Put"])
            else:
                self._client.delete_item(**operations[0]["Delete"])
        except ClientError as error:
            response = error.response
            if response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return {0: response.get("Item") or {}}
            reasons = response.get("CancellationReasons") or []
            failed = {
                i: reason.get("Item") or {}
                for i, reason in enumerate(reasons)
                if reason.get("Code") in ("ConditionalCheckFailed", "TransactionConflict")
            }
            if not failed:
                raise
            return failed
        return None
