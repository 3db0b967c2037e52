"""Files shared in Slack: extraction of their text and its cutting into inspectable chunks."""
