"""Intercom: hand a conversation to Intercom agents, or run the bot inside Intercom Messenger."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, IntercomConnector, conversation_for, sender_for

__all__ = ["IntercomConnector", "SENDER_PREFIX", "WEBHOOK_PATH", "conversation_for", "sender_for"]
