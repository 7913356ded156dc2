"""Genesys Cloud, Open Messaging: hand a conversation to Genesys Cloud agents through an Open Messaging integration."""

from .connector import WEBHOOK_PATH, GenesysConnector
from .settings import GenesysSettings

__all__ = ["GenesysConnector", "GenesysSettings", "WEBHOOK_PATH"]
