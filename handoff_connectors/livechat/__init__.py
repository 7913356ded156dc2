"""LiveChat (text.com, API v3.5): hand a chat to LiveChat agents, or run the bot as a LiveChat bot agent."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, LiveChatConnector

__all__ = ["LiveChatConnector", "SENDER_PREFIX", "WEBHOOK_PATH"]
