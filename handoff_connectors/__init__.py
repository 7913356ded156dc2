"""rasa-handoff: hand a Rasa conversation to a human in a help desk, and back.

Public surface: the connector contract and the config loader. The Rasa
actions live in `rasa_handoff_actions`; the sidecar runs as `rasa-handoff sidecar`.
"""

from .core.config import ConfigError, HandoffConfig, load_config
from .core.contract import (
    AgentJoined,
    AgentMessage,
    Capabilities,
    CloseReason,
    Connector,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    ServiceStatus,
    Turn,
    UserMessage,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
)

__all__ = [
    "AgentJoined",
    "AgentMessage",
    "Capabilities",
    "CloseReason",
    "ConfigError",
    "Connector",
    "ConversationClosed",
    "DeskError",
    "DeskEvent",
    "HandoffConfig",
    "HandoffRequest",
    "ServiceStatus",
    "Turn",
    "UserMessage",
    "WebhookRejected",
    "WebhookReply",
    "WebhookRequest",
    "load_config",
]
