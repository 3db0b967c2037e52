"""DLP providers behind one interface, chosen by ``Settings.dlp_provider``."""

from slack_dlp.dlp.base import DlpClient, DlpError, ItemOutcome

__all__ = ["DlpClient", "DlpError", "ItemOutcome"]
