"""The Slack app asks for exactly what the code uses: one table, checked against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from slack_sdk import WebClient

from slack_dlp.config import Settings
from slack_dlp.slack.scopes import EVENTS, FEATURES, METHODS, requirements
from slack_dlp_tools.cli import main
from tests.conftest import REPO_ROOT

#: Calls through slack_sdk's WebClient (``client.chat_postMessage(``), whatever the receiver is called.
_CLIENT_CALL = re.compile(r"\.([a-z]+(?:_[a-zA-Z]+)+)\(")
#: Calls by method name: ``api_call("chat.postMessage"``, or a URL ending in ``/api/<method>``.
_NAMED_CALL = re.compile(r"""api_call\(\s*["']([a-z]+(?:\.[a-zA-Z]+)+)["']|/api/([a-z]+(?:\.[a-zA-Z]+)+)\b""")
#: Methods of WebClient that call a Web API method of the same name (``api_call`` names it instead).
_WEB_CLIENT_METHODS = {name for name in dir(WebClient) if not name.startswith("_") and "_" in name} - {"api_call"}


def called_methods(root: Path = REPO_ROOT / "functions") -> dict[str, list[str]]:
    """Slack Web API methods the deployed code calls -> where; stand-ins and tools are not scanned."""
    calls: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        names = [m for m in _CLIENT_CALL.findall(source) if m in _WEB_CLIENT_METHODS]
        methods = [name.replace("_", ".") for name in names]
        methods += [a or b for a, b in _NAMED_CALL.findall(source)]
        for method in methods:
            calls.setdefault(method, []).append(str(path.relative_to(root)))
    return calls


def everything_on() -> Settings:
    return Settings(admin_user_token=True, notify_author=True, inspect_files=True)


def test_the_scan_finds_every_way_of_calling_a_method(tmp_path: Path) -> None:
    # A scanner that finds nothing would make the next tests pass vacuously.
    (tmp_path / "a.py").write_text(
        "self._web().conversations_join(channel=c)\n"
        "client.api_call('auth.test')\n"
        'requests.post(base + "/api/conversations.history", data=d)\n'
        "helper.format_text(x)\n"  # not a WebClient method
    )
    assert set(called_methods(tmp_path)) == {"conversations.join", "auth.test", "conversations.history"}
    assert {"chat.postMessage", "chat.update", "chat.delete", "files.info"} <= set(called_methods())


def test_every_slack_method_the_code_calls_is_in_the_scope_table() -> None:
    unmapped = {method: where for method, where in called_methods().items() if method not in METHODS}
    assert not unmapped, f"add these Slack methods to slack_dlp/slack/scopes.py METHODS: {unmapped}"


def test_every_method_a_feature_names_is_mapped_and_called() -> None:
    calls = called_methods()
    for feature in FEATURES:
        for method in (*feature.bot_methods, *feature.user_methods):
            assert method in METHODS, f"{feature.name}: {method} has no scopes row"
            assert method in calls, f"{feature.name}: {method} is never called, so its scope would be unused"
        for event in feature.events:
            assert event in EVENTS


def test_no_requested_scope_is_unused() -> None:
    # GIVEN every feature switched on
    needs = requirements(everything_on())
    # THEN each requested scope is needed by a method the code calls or an event it handles
    calls = called_methods()
    used = {s for m in calls if m in METHODS for s in METHODS[m]} | {EVENTS[e] for e in needs.bot_events}
    assert set(needs.bot_scopes) <= used
    assert set(needs.user_scopes) <= used
    # AND the scope the old hand-kept manifest requested for nothing is gone (channels:read and
    # groups:read are back: the history backfill lists the channels the bot is in)
    assert "users:read" not in needs.bot_scopes
    # AND auto-join brings channels:join and its events
    assert "channels:join" in needs.bot_scopes


def test_features_switched_off_take_their_scopes_and_events_with_them() -> None:
    needs = requirements(Settings(inspect_files=False, notify_author=False, auto_join_public_channels=False))
    assert "files:read" not in needs.bot_scopes
    assert "file_shared" not in needs.bot_events
    assert "channels:join" not in needs.bot_scopes
    assert not {"channel_created", "channel_unarchive"} & set(needs.bot_events)
    assert needs.user_scopes == ()


def _manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> dict[str, object]:
    assert main(["manifest", "--no-stack", "--cdk-json", str(tmp_path / "none.json"), *args]) == 0
    return dict(yaml.safe_load(capsys.readouterr().out))


def test_manifest_with_and_without_an_admin_user_token_differs_exactly_by_the_user_scope(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = _manifest(capsys, tmp_path)
    admin = _manifest(capsys, tmp_path, "-c", "admin_user_token=true")
    scopes = admin["oauth_config"]["scopes"]  # type: ignore[index]
    assert scopes.pop("user") == ["chat:write"]
    assert admin == plain


def test_manifest_is_valid_yaml_and_json_with_placeholder_urls_without_a_stack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = _manifest(capsys, tmp_path)
    assert main(["manifest", "--no-stack", "--json", "--cdk-json", str(tmp_path / "none.json")]) == 0
    assert json.loads(capsys.readouterr().out) == manifest
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")  # type: ignore[index]
    assert "REPLACE-AFTER-DEPLOY" in settings["interactivity"]["request_url"]  # type: ignore[index]
    assert manifest["oauth_config"]["scopes"]["bot"] == sorted(  # type: ignore[index]
        [
            "app_mentions:read",
            "channels:history",
            "channels:join",
            "channels:read",
            "chat:write",
            "files:read",
            "groups:history",
            "groups:read",
            "im:history",
            "mpim:history",
        ]
    )


def test_manifest_reads_settings_from_cdk_json_like_the_app(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"inspect_files": False}}))
    assert main(["manifest", "--no-stack", "--json", "--cdk-json", str(cdk_json)]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert "files:read" not in manifest["oauth_config"]["scopes"]["bot"]
    assert main(["manifest", "--no-stack", "--cdk-json", str(cdk_json), "-c", "nonsense"]) == 2


def test_auto_join_asks_for_channels_join_and_the_channel_events_and_org_deploy_is_an_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = _manifest(capsys, tmp_path)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]  # type: ignore[index]
    assert {"channel_created", "channel_unarchive"} <= set(events)
    assert manifest["settings"]["org_deploy_enabled"] is False  # type: ignore[index]
    grid = _manifest(capsys, tmp_path, "--org-deploy")
    assert grid["settings"]["org_deploy_enabled"] is True  # type: ignore[index]
    off = _manifest(capsys, tmp_path, "-c", "auto_join_public_channels=false")
    assert "channels:join" not in off["oauth_config"]["scopes"]["bot"]  # type: ignore[index]


def test_manifest_refuses_a_misspelt_setting_as_cdk_deploy_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a setting name with a typo, which would otherwise leave the default scopes in place
    code = main(["manifest", "--no-stack", "--cdk-json", str(tmp_path / "none.json"), "-c", "admin_user_tokn=true"])
    # THEN it is one line naming the closest setting, and exit 2
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "admin_user_token" in err and "\n" not in err
