"""Server-sent events as Salesforce's event router sends them, and what each entry tells the user.

`SseParser` reads the stream line by line (the WHATWG event-stream format:
`id:`, `event:`, `data:` fields, a blank line ends an event, a line starting
with `:` is a comment such as a heartbeat). `events_of` turns one event into
the neutral events of the contract:

| SSE event | entry | event |
| --- | --- | --- |
| CONVERSATION_MESSAGE | from an Agent, Chatbot or System | AgentMessage (text; files as URLs) |
| CONVERSATION_PARTICIPANT_CHANGED | an Agent added | AgentJoined |
| CONVERSATION_ROUTING_RESULT | a failureType other than None | RoutingFailed |
| CONVERSATION_ROUTING_RESULT | routingType Transfer | Transferred |
| CONVERSATION_TYPING_STARTED/STOPPED_INDICATOR | from an Agent | AgentTyping |
| CONVERSATION_READ_ACKNOWLEDGEMENT | from an Agent | MessagesRead |
| CONVERSATION_CLOSE_CONVERSATION | | ConversationClosed |

Everything else (the end user's own messages coming back, delivery
acknowledgements, other conversations) tells the user nothing. An entry
that cannot be read is logged and skipped: the stream goes on past it.
Each event's id is the entry's `identifier` (the SSE id where there is
none), so an entry read twice is queued once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentTyping,
    ConversationClosed,
    DeskEvent,
    MessagesRead,
    RoutingFailed,
    Transferred,
)

logger = logging.getLogger(__name__)

MESSAGE = "CONVERSATION_MESSAGE"
PARTICIPANT_CHANGED = "CONVERSATION_PARTICIPANT_CHANGED"
ROUTING_RESULT = "CONVERSATION_ROUTING_RESULT"
TYPING_STARTED = "CONVERSATION_TYPING_STARTED_INDICATOR"
TYPING_STOPPED = "CONVERSATION_TYPING_STOPPED_INDICATOR"
DELIVERY_ACKNOWLEDGEMENT = "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
READ_ACKNOWLEDGEMENT = "CONVERSATION_READ_ACKNOWLEDGEMENT"
CLOSE_CONVERSATION = "CONVERSATION_CLOSE_CONVERSATION"

# Whose messages the user reads: people and bots on Salesforce's side (a supervisor's whisper is not for them).
_SPEAKING_ROLES = ("Agent", "Chatbot", "System")


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str
    #: The event's own `id:` (None when the event carried none).
    id: Optional[str] = None


@dataclass
class SseParser:
    """Feed it the stream's lines (without their line ends); it returns each event as it completes."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: Optional[str] = None

    def feed(self, line: str) -> Optional[ServerEvent]:
        if line == "":
            if not self._data:
                self._event, self._id = "", None
                return None
            done = ServerEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = "", [], None
            return done
        if line.startswith(":"):
            return None  # a comment: the heartbeat
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None


def parse_stream(text: str) -> list[ServerEvent]:
    """Every complete event of a piece of stream text (fixtures, tests)."""
    parser = SseParser()
    found = [parser.feed(line) for line in text.splitlines()]
    last = parser.feed("")
    return [event for event in [*found, last] if event is not None]


def events_of(event: ServerEvent, conversation_id: Optional[str] = None) -> list[DeskEvent]:
    """What one stream event tells the user of `conversation_id` (any conversation when None)."""
    try:
        data = json.loads(event.data)
    except ValueError:
        logger.warning("Salesforce stream event %s (%s): data is not JSON; skipped", event.id, event.event)
        return []
    if not isinstance(data, dict) or not isinstance(data.get("conversationId"), str) or not data["conversationId"]:
        logger.warning("Salesforce stream event %s (%s): no conversationId; skipped", event.id, event.event)
        return []
    conversation = data["conversationId"]
    if conversation_id is not None and conversation.lower() != conversation_id.lower():
        return []
    conversation = conversation_id or conversation
    if event.event == CLOSE_CONVERSATION:
        # Once per conversation, however often it is sent.
        return [ConversationClosed(event_id=f"close:{conversation}", desk_conversation_id=conversation)]
    entry = data.get("conversationEntry")
    payload = _payload(entry)
    if payload is None:
        if event.event not in (DELIVERY_ACKNOWLEDGEMENT,):
            logger.warning("Salesforce stream event %s (%s): no readable conversationEntry; skipped", event.id, event.event)
        return []
    assert isinstance(entry, dict)
    entry_id = _text(entry.get("identifier")) or event.id or ""
    if not entry_id:
        logger.warning("Salesforce stream event (%s) has neither an entry identifier nor an id; skipped", event.event)
        return []
    role = _text((entry.get("sender") or {}).get("role") if isinstance(entry.get("sender"), dict) else None)
    name = _text(entry.get("senderDisplayName"))
    kind = payload.get("entryType")
    if event.event == MESSAGE or kind == "Message":
        if role not in _SPEAKING_ROLES:
            return []  # the user's own message coming back, or a supervisor's whisper
        text, files = _message(payload)
        if not text and not files:
            return []
        return [AgentMessage(event_id=entry_id, desk_conversation_id=conversation, text=text, agent_name=name, attachments=files)]
    if event.event == PARTICIPANT_CHANGED or kind == "ParticipantChanged":
        return _joined(payload, entry_id, conversation)
    if event.event == ROUTING_RESULT or kind == "RoutingResult":
        return _routing(payload, entry_id, conversation)
    if event.event in (TYPING_STARTED, TYPING_STOPPED) or kind in ("TypingStartedIndicator", "TypingStoppedIndicator"):
        if role != "Agent":
            return []
        typing = event.event == TYPING_STARTED or kind == "TypingStartedIndicator"
        return [AgentTyping(event_id=entry_id, desk_conversation_id=conversation, agent_name=name, typing=typing)]
    if event.event == READ_ACKNOWLEDGEMENT or kind == "ReadAcknowledgement":
        if role != "Agent":
            return []
        related = entry.get("relatedRecords")
        message_id = _text(related[0]) if isinstance(related, list) and related else None
        return [MessagesRead(event_id=entry_id, desk_conversation_id=conversation, agent_name=name, message_id=message_id)]
    return []


def _payload(entry: Any) -> Optional[dict]:
    """The entry's payload: a JSON string on the stream (an object in the entries listing)."""
    if not isinstance(entry, dict):
        return None
    payload = entry.get("entryPayload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    return payload if isinstance(payload, dict) else None


def _message(payload: dict) -> tuple[str, tuple[str, ...]]:
    message = payload.get("abstractMessage")
    if not isinstance(message, dict):
        return "", ()
    content = message.get("staticContent")
    if not isinstance(content, dict):
        # Choices (buttons, quick replies) from an agent: what they say, without the options.
        choices = message.get("choices")
        return (_text(choices.get("text")) or "" if isinstance(choices, dict) else ""), ()
    text = _text(content.get("text")) or ""
    files = tuple(
        url
        for attachment in content.get("attachments") or []
        if isinstance(attachment, dict) and (url := _text(attachment.get("url")))
    )
    return text, files


def _joined(payload: dict, entry_id: str, conversation: str) -> list[DeskEvent]:
    changes = [c for c in payload.get("entries") or [] if isinstance(c, dict)]
    joined = []
    for change in changes:
        participant = change.get("participant") if isinstance(change.get("participant"), dict) else {}
        if change.get("operation") == "add" and participant.get("role") == "Agent":
            joined.append(_text(change.get("displayName")) or _text(participant.get("displayName")))
    if len(joined) == 1:
        return [AgentJoined(event_id=entry_id, desk_conversation_id=conversation, agent_name=joined[0])]
    return [
        AgentJoined(event_id=f"{entry_id}:{index}", desk_conversation_id=conversation, agent_name=name)
        for index, name in enumerate(joined)
    ]


def _routing(payload: dict, entry_id: str, conversation: str) -> list[DeskEvent]:
    failure = _text(payload.get("failureType"))
    if failure and failure != "None":
        return [RoutingFailed(event_id=entry_id, desk_conversation_id=conversation, reason=failure)]
    if payload.get("routingType") == "Transfer":
        return [Transferred(event_id=entry_id, desk_conversation_id=conversation)]
    return []  # Routed (or waiting for an agent): the agent joining tells the user.


def _text(value: Any) -> Optional[str]:
    return value.strip() if isinstance(value, str) and value.strip() else None
