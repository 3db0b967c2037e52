from __future__ import annotations

import pytest

from slack_dlp.config import Resources, Settings, SettingsError


def test_defaults_match_the_documented_design() -> None:
    # GIVEN no configuration WHEN settings are built THEN the documented defaults apply
    settings = Settings.from_lookup(lambda _: None)
    assert settings.batch_size == 100
    assert settings.batching_window_seconds >= 1
    assert settings.max_concurrency == 10
    assert settings.dlp_requests_per_second == 10
    assert settings.dlp_provider == "builtin"


def test_cdk_context_strings_are_coerced() -> None:
    # GIVEN values as `cdk -c key=value` passes them (strings)
    context = {
        "batch_size": "50",
        "max_concurrency": "4",
        "disabled_detectors": "jwt, iban",
        "alert_channel": "C1",
    }
    # WHEN
    settings = Settings.from_lookup(context.get)
    # THEN
    assert settings.batch_size == 50
    assert settings.max_concurrency == 4
    assert settings.disabled_detectors == ("jwt", "iban")
    assert settings.alert_channel == "C1"


def test_env_round_trip_gives_the_same_settings_the_stack_was_built_with() -> None:
    original = Settings(alert_channel="C0ALERTS", batch_size=25, disabled_detectors=("jwt",), min_confidence="high")
    assert Settings.from_env(original.to_env()) == original


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": "0"}, "batch_size"),
        ({"batch_size": "100", "batching_window_seconds": "0"}, "batching_window_seconds"),
        ({"max_concurrency": "1"}, "max_concurrency"),
        ({"dlp_provider": "acme"}, "dlp_provider"),
        ({"batch_size": "lots"}, "batch_size"),
        ({"min_confidence": "certain"}, "min_confidence"),
        ({"auto_delete_min_confidence": "extreme"}, "auto_delete_min_confidence"),
        ({"dlp_timeout_seconds": "120"}, "dlp_timeout_seconds"),
        ({"dedup_ttl_seconds": "0"}, "dedup_ttl_seconds"),
        ({"audit_retention_days": "0"}, "audit_retention_days"),
        ({"alarm_topic_arn": "ops-alarms"}, "alarm_topic_arn"),
        ({"alarm_email": "secops"}, "alarm_email"),
        ({"snapstart": "maybe"}, "'snapstart' must be true or false, not 'maybe'"),
    ],
)
def test_invalid_settings_fail_with_a_message_naming_the_setting(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_lookup(changes.get)


def test_missing_resources_are_named_at_cold_start() -> None:
    resources = Resources.from_env({"INSPECT_QUEUE_URL": "https://sqs/q"})
    with pytest.raises(SettingsError, match="DEDUP_TABLE_NAME"):
        resources.require("inspect_queue_url", "dedup_table")


def test_list_settings_accept_json_arrays_so_regexes_may_contain_commas() -> None:
    settings = Settings.from_lookup({"allow_patterns": '["^test_[a-z]{2,4}$", "x"]'}.get)
    assert settings.allow_patterns == ("^test_[a-z]{2,4}$", "x")
    assert Settings.from_env(settings.to_env()) == settings


def test_automatic_deletion_without_an_admin_token_is_refused_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match="admin_user_token=true"):
        Settings.from_lookup({"auto_delete_categories": "secret"}.get)
    assert Settings.from_lookup({"auto_delete_categories": "secret", "admin_user_token": "true"}.get).admin_user_token


def test_a_misspelt_setting_is_refused_with_the_name_it_resembles_not_ignored() -> None:
    # GIVEN cdk context with a typo, the app's own keys, and the CDK's own keys
    names = ["dlp_request_per_second", "stack_name", "batch_size", "@aws-cdk/core:checkSecretUsage", "aws:cdk:x"]
    # WHEN the names are checked THEN only the typo is refused, and the real name is suggested
    with pytest.raises(SettingsError, match=r"'dlp_request_per_second' \(did you mean 'dlp_requests_per_second'\?\)"):
        Settings.check_names(names, also=("stack_name",))
    Settings.check_names(names[1:], also=("stack_name",))


def test_a_lower_case_log_level_reaches_every_function_as_its_level_name() -> None:
    settings = Settings.from_lookup({"log_level": "debug"}.get)
    assert settings.to_env()["SLACK_DLP_LOG_LEVEL"] == "DEBUG"
