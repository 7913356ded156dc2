"""NICE CXone Digital, bring your own channel: hand a conversation to CXone agents through a BYOC channel."""

from .connector import NiceCXoneConnector
from .wire import EVENTS_PATH, TOKEN_PATH

__all__ = ["EVENTS_PATH", "NiceCXoneConnector", "TOKEN_PATH"]
