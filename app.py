#!/usr/bin/env python3
"""CDK entry point: settings from cdk context (cdk.json or -c key=value), one stack, cdk-nag on."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stack import SlackDlpStack
from slack_dlp.config import APP_CONTEXT_KEYS, Settings, SettingsError


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=context, outdir=outdir)
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        # Synthesized in this process only (tests, `slack-dlp cost`): the CDK writes the assembly and
        # its assets (~90 MB) to a temporary folder of its own, and never removes it.
        atexit.register(shutil.rmtree, app.outdir, True)
    Settings.check_names(app.node.get_all_context(), also=APP_CONTEXT_KEYS)
    settings = Settings.from_lookup(app.node.try_get_context)
    stack_name = str(app.node.try_get_context("stack_name") or "SlackDlp")
    SlackDlpStack(
        app,
        stack_name,
        settings=settings,
        for_local_emulator=str(app.node.try_get_context("local_emulator") or "").lower() == "true",
        description="slack-dlp: data loss prevention for Slack",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    """A setting the pipeline cannot run with is one line on stderr and exit 2, not a traceback."""
    try:
        build_app().synth()
    except SettingsError as error:
        print(f"slack-dlp: invalid configuration: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
