"""The slack-dlp CDK app: one stack composed of constructs, each building one concern."""
