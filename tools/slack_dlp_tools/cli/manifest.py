"""``slack-dlp manifest``: the Slack app manifest the configured features need.

Scopes, user scopes, events and interactivity come from ``slack_dlp.slack.scopes`` (one table of
Web API method -> scope and feature -> methods); settings from ``cdk.json`` and ``-c key=value``
as the CDK app reads them; request URLs from the deployed stack when it can be read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from slack_dlp.config import APP_CONTEXT_KEYS, Settings, SettingsError
from slack_dlp_tools.cli.common import EXIT_CLEAN, StackTarget, UsageError, add_stack_arguments, api_url

PLACEHOLDER = "https://REPLACE-AFTER-DEPLOY.execute-api.REGION.amazonaws.com"


def register(commands: Any) -> None:
    manifest = commands.add_parser("manifest", help="the Slack app manifest for the configured features (YAML)")
    manifest.add_argument("--json", action="store_true", help="JSON instead of YAML")
    manifest.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="a setting, as for cdk deploy"
    )
    manifest.add_argument(
        "--cdk-json", default="cdk.json", help="settings file read first (default: cdk.json in this directory)"
    )
    manifest.add_argument("--name", default="slack-dlp", help="the app's and the bot's display name")
    manifest.add_argument(
        "--org-deploy",
        action="store_true",
        help="Enterprise Grid: org_deploy_enabled, for one org-wide install that sees every workspace",
    )
    add_stack_arguments(manifest)
    manifest.add_argument("--no-stack", action="store_true", help="do not read the stack: placeholder URLs")
    manifest.set_defaults(func=run)


def settings_from(cdk_json: Path, overrides: list[str]) -> Settings:
    """The settings the CDK app would use: cdk.json's context, then ``-c`` overrides."""
    context: dict[str, Any] = {}
    if cdk_json.is_file():
        context.update(json.loads(cdk_json.read_text()).get("context", {}))
    for pair in overrides:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"-c takes KEY=VALUE, not {pair!r}")
        context[key.strip()] = value
    try:
        Settings.check_names(context, also=APP_CONTEXT_KEYS)  # as `cdk deploy` would refuse it
        return Settings.from_lookup(context.get)
    except SettingsError as error:
        raise UsageError(str(error)) from None


def build_manifest(
    settings: Settings, *, events_url: str, interactions_url: str, name: str = "slack-dlp", org_deploy: bool = False
) -> dict[str, Any]:
    from slack_dlp.slack.scopes import requirements

    needs = requirements(settings)
    scopes: dict[str, list[str]] = {"bot": list(needs.bot_scopes)}
    if needs.user_scopes:
        scopes["user"] = list(needs.user_scopes)
    app_settings: dict[str, Any] = {
        "event_subscriptions": {"request_url": events_url, "bot_events": list(needs.bot_events)},
    }
    if needs.interactivity:
        app_settings["interactivity"] = {"is_enabled": True, "request_url": interactions_url}
    app_settings |= {"org_deploy_enabled": org_deploy, "socket_mode_enabled": False, "token_rotation_enabled": False}
    return {
        "display_information": {"name": name, "description": "Alerts the security team when sensitive data is posted"},
        "features": {"bot_user": {"display_name": name, "always_online": False}},
        "oauth_config": {"scopes": scopes},
        "settings": app_settings,
    }


_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@-]*")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if _PLAIN.fullmatch(text) and text not in ("true", "false", "null", "yes", "no") else json.dumps(text)


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for nested mappings and lists of scalars (all a manifest holds)."""
    pad = "  " * indent
    lines: list[str] = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            lines.append(to_yaml(item, indent + 1))
        elif isinstance(item, list):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  - {_scalar(element)}" for element in item)
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(Path(args.cdk_json), args.context)
    events_url, interactions_url = f"{PLACEHOLDER}/slack/events", f"{PLACEHOLDER}/slack/interactions"
    note = "request URLs are placeholders: deploy, then run this again (or paste RequestUrl and InteractionsUrl)"
    if not args.no_stack:
        stack = StackTarget.from_args(args)
        try:
            events_url = api_url(stack, "RequestUrl", "/slack/events")
            interactions_url = api_url(stack, "InteractionsUrl", "/slack/interactions")
            note = f"request URLs from stack {stack.stack_name}"
        except UsageError as error:
            note = f"request URLs are placeholders ({error})"
    manifest = build_manifest(
        settings, events_url=events_url, interactions_url=interactions_url, name=args.name, org_deploy=args.org_deploy
    )
    if args.json:
        json.dump(manifest, sys.stdout, indent=2)
        sys.stdout.write("\n")
        print(f"slack-dlp manifest: {note}", file=sys.stderr)  # JSON has no comments
    else:
        sys.stdout.write(f"# Slack app manifest from slack-dlp settings; {note}\n{to_yaml(manifest)}\n")
    return EXIT_CLEAN
