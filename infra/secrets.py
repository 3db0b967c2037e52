"""Secrets the functions read at run time. Created empty-ish by the stack, filled in by the user."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

_NOT_ROTATABLE = (
    "Slack issues this value; it is rotated in Slack's app settings and pasted here (see README), "
    "so Secrets Manager cannot rotate it automatically."
)


class SlackSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="slack-dlp: the Slack app's signing secret (Basic Information > App Credentials)",
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.bot_token = secretsmanager.Secret(
            self,
            "BotToken",
            description="slack-dlp: the Slack app's bot token, xoxb-... (OAuth & Permissions)",
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.fingerprint_key = secretsmanager.Secret(
            self,
            "FingerprintKey",
            description="slack-dlp: key of the keyed hash that fingerprints findings (never leaves AWS)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.DESTROY,
        )
        for secret in (self.signing_secret, self.bot_token):
            acknowledge(secret, "AwsSolutions-SMG4", _NOT_ROTATABLE)
        acknowledge(
            self.fingerprint_key,
            "AwsSolutions-SMG4",
            "Rotating the fingerprint key would silently invalidate every stored allowlist fingerprint.",
        )
