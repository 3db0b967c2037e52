"""``python -m slack_dlp_tools.cli``: the same as the ``slack-dlp`` command."""

import sys

from slack_dlp_tools.cli import main

sys.exit(main())
