"""Twilio Flex: hand a conversation to Flex agents through Conversations and the Interactions API."""

from .connector import WEBHOOK_PATH, TwilioFlexConnector, identity_for

__all__ = ["TwilioFlexConnector", "WEBHOOK_PATH", "identity_for"]
