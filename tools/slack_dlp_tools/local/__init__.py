"""Local development: a Slack Web API stand-in and the stack deployed into MiniStack."""
