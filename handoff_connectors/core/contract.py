"""The connector contract: what every help-desk connector offers the core.

The actions and the sidecar only ever talk to these types, never to a desk's
own API. A connector is a small class with async methods; everything it
receives or returns is one of the plain dataclasses below.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Sequence


class Speaker(str, enum.Enum):
    USER = "user"
    BOT = "bot"


@dataclass(frozen=True)
class Turn:
    """One line of the transcript the bot hands over."""

    speaker: Speaker
    text: str


@dataclass(frozen=True)
class HandoffRequest:
    """Everything a desk needs to open a conversation for the user."""

    handoff_id: str
    sender_id: str
    email: str
    language: str
    transcript: Sequence[Turn]
    latest_question: str
    routing: Optional[str] = None
    message_to_agent: Optional[str] = None
    created_at: float = 0.0


@dataclass(frozen=True)
class UserMessage:
    """A user message relayed to the desk while the handoff is active."""

    message_id: str
    text: str
    sent_at: float


class CloseReason(str, enum.Enum):
    USER_CLOSED = "user_closed"
    TIMEOUT = "timeout"
    BOT_ENDED = "bot_ended"


class ServiceStatus(str, enum.Enum):
    NOT_CONFIGURED = "Not configured"
    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do, so the actions adapt instead of guessing."""

    availability: bool = False
    routing: bool = False
    attachments: bool = False
    typing: bool = False
    desk_to_desk: bool = False


# --- Neutral events parsed from a desk's webhooks ---------------------------


@dataclass(frozen=True)
class DeskEvent:
    """Base of everything a desk tells us. `event_id` identifies duplicates."""

    event_id: str
    desk_conversation_id: str


@dataclass(frozen=True)
class AgentMessage(DeskEvent):
    text: str = ""
    agent_name: Optional[str] = None
    #: URLs of the files or images the agent attached (shown after the text).
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentJoined(DeskEvent):
    agent_name: Optional[str] = None


@dataclass(frozen=True)
class ConversationClosed(DeskEvent):
    pass


@dataclass(frozen=True)
class AgentSnoozed(DeskEvent):
    """The agent set the conversation aside for later; the handoff stays open."""

    agent_name: Optional[str] = None


@dataclass(frozen=True)
class WebhookRequest:
    """A raw inbound HTTP call, as the sidecar received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookReply:
    """What the sidecar answers a desk: parsed events plus the HTTP reply."""

    events: list[DeskEvent] = field(default_factory=list)
    status: int = 200
    body: dict = field(default_factory=lambda: {"code": 0, "message": "ok"})


class WebhookRejected(Exception):
    """A forged or malformed webhook: answered with a 4xx, reaches nobody."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class DeskError(Exception):
    """A desk call failed.

    `retryable` tells the outbox whether to try again later (the desk is down,
    overloaded or timed out) or to park the operation (the desk refused it).
    `auth` marks credential failures, which make the service Unavailable.
    """

    def __init__(self, message: str, *, retryable: bool, auth: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.auth = auth


class Connector(abc.ABC):
    """One help desk behind the contract."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: True when `agents_available` only reads the store (no desk call), so
    #: the actions may ask it directly; otherwise the sidecar asks the desk
    #: and the actions read what it found.
    availability_in_store: ClassVar[bool] = False
    #: (method, path) pairs the sidecar routes to `parse_webhook`.
    webhook_routes: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def from_settings(cls, settings, store) -> "Connector":
        """Build the connector from its section of handoff.yml."""
        return cls(settings)

    @abc.abstractmethod
    async def start(self, request: HandoffRequest) -> str:
        """Open the desk conversation; return the desk's conversation id."""

    @abc.abstractmethod
    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        """Relay one user message to the agent."""

    @abc.abstractmethod
    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        """Tell the desk the conversation ended on our side."""

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """True/False when the desk can tell, None when it cannot."""
        return None

    @abc.abstractmethod
    async def check(self) -> ServiceStatus:
        """Verify the credentials without side effects."""

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        """Verify an inbound call and turn it into neutral events."""
        raise WebhookRejected(404, f"connector {self.name!r} takes no webhooks")

    async def attach_sidecar(self, service: Any, config: Any) -> None:
        """Called once by the sidecar at start with its HandoffService and HandoffConfig.

        For connectors that do background work in the sidecar (a desk-to-desk
        mode relaying the desk's messenger to the bot); the default does nothing.
        """

    async def aclose(self) -> None:
        """Release network resources."""
