"""Generic webhook help desk (the GPTBots human-service protocol)."""

from .connector import CLOSE_PATH, RECEIVE_PATH, WebhookConnector

__all__ = ["WebhookConnector", "RECEIVE_PATH", "CLOSE_PATH"]
