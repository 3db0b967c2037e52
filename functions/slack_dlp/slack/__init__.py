"""Everything Slack: request verification, event normalization, alerts."""
