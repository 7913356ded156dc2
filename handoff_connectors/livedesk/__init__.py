"""EngageLab LiveDesk: hand a conversation to LiveDesk agents through an API channel, or run the bot there."""

from .connector import WEBHOOK_PATH, LiveDeskConnector

__all__ = ["LiveDeskConnector", "WEBHOOK_PATH"]
