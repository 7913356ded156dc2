"""What a desk tells us, as neutral events every desk shares.

A connector turns its desk's webhooks, stream entries or polled changes into
these; the core queues each (once, by `event_id`) for the Rasa conversation
that owns `desk_conversation_id`, and the actions show it. A desk sends only
the events it has: the actions show what arrives and miss nothing that never
does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Attachment:
    """A file either side sent: where to fetch it, and what it is when the desk says."""

    url: str
    name: Optional[str] = None
    content_type: Optional[str] = None


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
    """The desk ended the conversation (an agent closed it, or the desk gave it back to the bot)."""


@dataclass(frozen=True)
class AgentSnoozed(DeskEvent):
    """The agent set the conversation aside for later; the handoff stays open."""

    agent_name: Optional[str] = None


@dataclass(frozen=True)
class AgentTyping(DeskEvent):
    """The agent started (or stopped) typing."""

    agent_name: Optional[str] = None
    typing: bool = True


@dataclass(frozen=True)
class MessagesRead(DeskEvent):
    """The agent read the user's messages (up to `message_id`, when the desk says which)."""

    agent_name: Optional[str] = None
    message_id: Optional[str] = None


@dataclass(frozen=True)
class Transferred(DeskEvent):
    """The conversation moved to another agent or queue; the handoff stays open."""

    to_agent: Optional[str] = None
    to_queue: Optional[str] = None


@dataclass(frozen=True)
class RoutingFailed(DeskEvent):
    """Nobody took the conversation (a missed chat): the user gets the offline message, the handoff ends."""

    reason: Optional[str] = None


@dataclass(frozen=True)
class QueuePosition(DeskEvent):
    """Where the user stands in the desk's queue, and the wait the desk estimates."""

    position: int = 0
    wait_seconds: Optional[float] = None


@dataclass(frozen=True)
class UserWroteInDesk(DeskEvent):
    """Bot inside the desk: the user wrote in the desk's own chat, for the bot to answer.

    `payload` is set when the user picked a button the bot itself offered:
    that goes to the bot even while an agent has the conversation (its "End
    chat" button). `email` is what the desk knows of the user.
    """

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    payload: Optional[str] = None
    email: Optional[str] = None
    metadata: Optional[dict] = None


# The events that end a handoff when they reach it.
ENDING_EVENTS = (ConversationClosed, RoutingFailed)
