"""Sobot (智齿): the bot inside Sobot's own chat widget, handing visitors to Sobot's human groups."""

from .connector import SENDER_PREFIX, WEBHOOK_PATH, SobotConnector, sender_for
from .settings import SobotSettings

__all__ = ["SENDER_PREFIX", "SobotConnector", "SobotSettings", "WEBHOOK_PATH", "sender_for"]
