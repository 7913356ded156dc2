"""The connector contract: what a help desk offers the core, in small optional parts.

Every desk is a `Connector`: it can open a conversation, relay a user
message, close, and check its credentials. Everything else is a part a desk
implements only if it works that way, and the core finds out by type
(`isinstance`), never by a flag:

- `ReportsAvailability`: it can tell whether agents are there;
- `TakesWebhooks`: the desk calls us; a pure verify-and-parse step turns
  each call into events plus the reply the desk expects;
- `HasEventSources`: the desk is read from streams (SSE, websocket) or
  polled, per app or per conversation; the sidecar runs each source once
  across replicas and resumes it from a cursor kept in the store;
- `FetchesTokens`: short-lived tokens, fetched and refreshed once for every
  process through the store (`self.tokens`), a 401 refreshing and retrying once;
- `ServesRoutes`: HTTP routes of its own on the sidecar (an agent inbox, a
  token endpoint the desk calls);
- `HostsTheBot`: the bot also answers inside the desk's own chat, and the
  desk's routing takes over on handoff (the core's `desk_bot` does the rest).

Everything a connector receives or returns is a plain dataclass from here
or from `events`.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Mapping, Optional, Protocol, Sequence, Union

from .events import (  # noqa: F401  (re-exported: the contract's one import)
    AgentJoined,
    AgentMessage,
    AgentSnoozed,
    AgentTyping,
    Attachment,
    ConversationClosed,
    DeskEvent,
    MessagesRead,
    QueuePosition,
    RoutingFailed,
    Transferred,
    UserWroteInDesk,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .credentials import SharedToken
    from .store import Store


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
    #: Per-handoff facts for the desk's routing (`escalation.attributes`: name -> slot).
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserMessage:
    """A user message relayed to the desk while the handoff is active."""

    message_id: str
    text: str
    sent_at: float
    attachments: tuple[Attachment, ...] = ()

    def text_with_links(self) -> str:
        """The text, then one line per file: for desks that take no files."""
        lines = [self.text] if self.text.strip() else []
        return "\n".join(lines + [attachment.url for attachment in self.attachments])


class CloseReason(str, enum.Enum):
    USER_CLOSED = "user_closed"
    TIMEOUT = "timeout"
    BOT_ENDED = "bot_ended"


class ServiceStatus(str, enum.Enum):
    NOT_CONFIGURED = "Not configured"
    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"


class DeskError(Exception):
    """A desk call failed.

    `retryable` tells the outbox whether to try again later (the desk is down,
    overloaded or timed out) or to park the operation (the desk refused it).
    `auth` marks credential failures: a desk that fetches tokens refreshes
    and retries once; after that the service counts as Unavailable.
    """

    def __init__(self, message: str, *, retryable: bool, auth: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.auth = auth


# --- inbound HTTP ---------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    """An inbound HTTP call, as the desk made it.

    `url` is the full URL the desk called (scheme and host from
    `sidecar.public_url`, else the proxy's X-Forwarded-Proto/Host, else the
    request): what a desk that signs its URL (Twilio) signed. `query` and
    `form` keep every value of a repeated field, in order.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    url: str = ""
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    form: Mapping[str, Sequence[str]] = field(default_factory=dict)


Body = Union[dict, list, str, bytes, None]


@dataclass(frozen=True)
class HttpReply:
    """An HTTP answer: a dict or list is sent as JSON, a str as text, None as an empty body."""

    status: int = 200
    body: Body = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookReply:
    """What a verified call carried, and what the desk expects back.

    `reply` answers the call. When every event is for a conversation with no
    live handoff, `when_unknown` answers instead (None: `reply` as well), so
    a desk that retries anything but its success reply stops retrying.
    """

    events: list[DeskEvent] = field(default_factory=list)
    reply: HttpReply = HttpReply()
    when_unknown: Optional[HttpReply] = None


class WebhookRejected(Exception):
    """A forged or malformed call: answered with a 4xx naming what is wrong, reaches nobody."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- what the core offers a connector --------------------------------------------


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector is built with besides its settings."""

    store: "Store"
    #: The sidecar's public base URL when configured (`sidecar.public_url`).
    public_url: Optional[str] = None


class DeskHost(Protocol):
    """What a desk's own routes may use in the sidecar (`ServesRoutes`).

    Routes are added before the server starts; `connector` and `store` are
    there from the first request on.
    """

    @property
    def connector(self) -> "Connector": ...

    @property
    def store(self) -> "Store": ...

    async def accept(self, event: DeskEvent) -> bool:
        """Queue an event for its handoff, once; False when no live handoff owns it."""


# --- the required part ---------------------------------------------------------------


class Connector(abc.ABC):
    """One help desk: opens a conversation, relays, closes, checks its credentials."""

    #: The name `connector:` and `connectors.<name>` use (the entry point's name).
    name: ClassVar[str]
    #: The pydantic model that validates `connectors.<name>` in handoff.yml.
    Settings: ClassVar[type["BaseModel"]]

    @classmethod
    def from_settings(cls, settings: Any, context: ConnectorContext) -> "Connector":
        """Build the connector from its validated section of handoff.yml."""
        return cls(settings)  # type: ignore[call-arg]

    @abc.abstractmethod
    async def start(self, request: HandoffRequest) -> str:
        """Open the desk conversation; return the desk's conversation id."""

    @abc.abstractmethod
    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        """Relay one user message (text and attachments) to the agent."""

    @abc.abstractmethod
    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        """Tell the desk the conversation ended on our side."""

    @abc.abstractmethod
    async def check(self) -> ServiceStatus:
        """Verify the credentials without side effects."""

    async def aclose(self) -> None:
        """Release network resources."""


# --- optional parts ----------------------------------------------------------------


class ReportsAvailability(abc.ABC):
    """The desk can tell whether agents are there for a routing target."""

    #: True when the answer is read from the store (no desk call), so the
    #: actions may ask directly; otherwise the sidecar asks and caches it.
    answers_from_store: ClassVar[bool] = False

    @abc.abstractmethod
    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """True/False when the desk can tell, None when it cannot."""


class TakesWebhooks(abc.ABC):
    """The desk calls the sidecar."""

    #: (method, path) pairs the sidecar routes to `parse_webhook`.
    webhook_routes: ClassVar[tuple[tuple[str, str], ...]] = ()

    @abc.abstractmethod
    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        """Verify the call (WebhookRejected when forged or malformed) and read its events.

        Writes nothing: the core queues the events and answers the desk.
        """


@dataclass(frozen=True)
class SourceBatch:
    """Events read from a source, and the cursor to resume after them."""

    events: Sequence[DeskEvent]
    cursor: Optional[str] = None


class EventSource(abc.ABC):
    """A stream or a poll the sidecar keeps running (one replica at a time)."""

    #: Unique among the connector's sources: names its lease and its stored cursor.
    key: str

    @abc.abstractmethod
    def read(self, cursor: Optional[str]) -> AsyncIterator[SourceBatch]:
        """Yield batches from `cursor` on (None: from now). Raise to be restarted after a pause."""


class HasEventSources(abc.ABC):
    """The desk is read from streams or polls instead of (or besides) webhooks."""

    def event_sources(self) -> Sequence[EventSource]:
        """Sources for the whole app, run while the sidecar runs."""
        return ()

    def conversation_source(self, desk_conversation_id: str) -> Optional[EventSource]:
        """The source of one desk conversation, run while its handoff lives."""
        return None


@dataclass(frozen=True)
class IssuedToken:
    value: str
    #: Epoch seconds; refreshed a little before.
    expires_at: float


class FetchesTokens(abc.ABC):
    """Short-lived credentials shared by every process through the store.

    The core sets `self.tokens` when it builds the connector; the connector
    calls `await self.tokens.call(lambda token: ...)` around each desk call.
    """

    tokens: "SharedToken"

    @abc.abstractmethod
    async def fetch_token(self) -> IssuedToken:
        """Fetch a new token from the desk (the core makes sure one process does, once)."""


class ServesRoutes(abc.ABC):
    """HTTP routes of the desk's own on the sidecar (an agent inbox, a token endpoint the desk calls)."""

    @classmethod
    @abc.abstractmethod
    def attach_routes(cls, app: Any, host: DeskHost) -> None:
        """Add routes to the sidecar's Sanic `app` before it starts; handlers reach the
        running connector, the store and the event queue through `host`."""


class HostsTheBot(abc.ABC):
    """The bot also answers inside the desk's own chat (the desk-to-desk mode).

    The connector's webhooks (or sources) report the user's messages as
    `UserWroteInDesk`; the core sends them to Rasa as the sender
    `bot_sender(conversation)` and hands each of the bot's answers to
    `post_bot_message`. A handoff of such a sender keeps that same desk
    conversation (`start` gives it to the desk's routing), the bot stays quiet
    in it until the desk ends it, and `send` is never asked to relay.
    """

    #: Whether desk conversations are answered by the bot (a setting's choice, often).
    hosts_the_bot: bool = True

    def bot_sender(self, desk_conversation_id: str) -> str:
        """The Rasa sender id of a desk conversation the bot answers."""
        return f"{self.name}-{desk_conversation_id}"  # type: ignore[attr-defined]

    def desk_conversation_of(self, sender_id: str) -> Optional[str]:
        """The desk conversation a sender id stands for, when it is one of `bot_sender`'s."""
        prefix = self.bot_sender("")
        rest = sender_id[len(prefix):] if sender_id.startswith(prefix) else ""
        return rest or None

    @abc.abstractmethod
    async def post_bot_message(self, desk_conversation_id: str, message: dict) -> None:
        """One message of the bot (Rasa's REST channel shape: text, image, buttons, ...) into the desk."""
