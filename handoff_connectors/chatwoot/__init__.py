"""Chatwoot: hand a conversation to Chatwoot agents through an API inbox, or run the bot as an Agent Bot."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, ChatwootConnector

__all__ = ["ChatwootConnector", "SENDER_PREFIX", "WEBHOOK_PATH"]
