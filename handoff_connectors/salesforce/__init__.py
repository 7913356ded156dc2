"""Salesforce Messaging for In-App and Web (Messaging API v2): hand a conversation to Omni-Channel agents."""

from .connector import SalesforceConnector

__all__ = ["SalesforceConnector"]
