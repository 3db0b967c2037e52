"""slack-dlp: data loss prevention for Slack, serverless in your own AWS account."""

__version__ = "0.1.0"
