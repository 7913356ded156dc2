"""Zoho SalesIQ: hand a conversation to SalesIQ operators, or run the bot as a SalesIQ Zobot."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, ZOBOT_PATH, ZohoSalesIQConnector, sender_for

__all__ = ["SENDER_PREFIX", "WEBHOOK_PATH", "ZOBOT_PATH", "ZohoSalesIQConnector", "sender_for"]
