"""SnapStart (``-c snapstart=true``): the API functions run published versions behind an alias."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import assertions

from app import build_app


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    app = build_app(context={"alert_channel": "C0ALERTS", "snapstart": "true"})
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    return dict(template.to_json()["Resources"])


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}


def test_ingest_and_interactions_publish_snapstart_versions_and_nothing_else_does(resources: dict[str, Any]) -> None:
    functions = _of_type(resources, "AWS::Lambda::Function")
    snapstarted = {k.split("Function")[0] for k, p in functions.items() if p.get("SnapStart")}
    assert snapstarted == {"Ingest", "Interactions"}
    assert all(p["SnapStart"] == {"ApplyOn": "PublishedVersions"} for p in functions.values() if p.get("SnapStart"))
    aliases = _of_type(resources, "AWS::Lambda::Alias")
    versions = _of_type(resources, "AWS::Lambda::Version")
    assert {a["FunctionName"]["Ref"].split("Function")[0] for a in aliases.values()} == snapstarted
    # A deploy deletes the version it replaces: no snapshot of an old version stays cached (and charged).
    assert all(v["DeletionPolicy"] == "Delete" for k, v in resources.items() if v["Type"] == "AWS::Lambda::Version")
    for alias in aliases.values():  # each alias points at its own function's newest version
        version = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version]["FunctionName"] == alias["FunctionName"]


def test_the_api_invokes_the_aliases_so_slack_reaches_the_snapshot(resources: dict[str, Any]) -> None:
    aliases = set(_of_type(resources, "AWS::Lambda::Alias"))
    integrations = _of_type(resources, "AWS::ApiGatewayV2::Integration")
    assert {i["IntegrationUri"]["Ref"] for i in integrations.values()} == aliases
    permitted = {
        p["FunctionName"]["Ref"]
        for p in _of_type(resources, "AWS::Lambda::Permission").values()
        if p["Principal"] == "apigateway.amazonaws.com"
    }
    assert permitted == aliases


def test_the_functions_know_to_register_their_restore_hooks(resources: dict[str, Any]) -> None:
    for name, function in _of_type(resources, "AWS::Lambda::Function").items():
        if function.get("SnapStart"):
            assert function["Environment"]["Variables"]["SLACK_DLP_SNAPSTART"] == "True", name
