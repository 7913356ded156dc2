"""Zendesk: hand a conversation to Zendesk agents through Sunshine Conversations, or run the bot as a switchboard integration."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, ZendeskConnector, conversation_for, sender_for

__all__ = ["SENDER_PREFIX", "WEBHOOK_PATH", "ZendeskConnector", "conversation_for", "sender_for"]
