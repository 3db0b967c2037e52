"""The interactions function: the alert's buttons (signature, allowlist, audit, the alert updated)."""

from __future__ import annotations

from slack_dlp.config import Resources, Settings
from slack_dlp.triage import TriagePolicy, TriageService
from slack_dlp.wiring import event_publisher, prepare, signing_verifier, slack_notifier, triage_store


def build_triage(settings: Settings, resources: Resources) -> TriageService:
    prepare(settings)
    resources.require("signing_secret_arn", "bot_token_secret_arn", "triage_table")
    store = triage_store(settings, resources)
    notifier = slack_notifier(settings, resources)
    return TriageService(
        verifier=signing_verifier(resources.signing_secret_arn),
        updater=notifier,
        allowlist=store,
        audit=store,
        deleter=notifier if notifier.can_delete else None,
        policy=TriagePolicy(settings.triage_users, settings.triage_usergroup, notifier.usergroup_members),
        users=notifier,
        events=event_publisher(resources),
    )
