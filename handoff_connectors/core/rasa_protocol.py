"""The vocabulary the sidecar and the actions share with the bot's domain.

Every desk event reaches Rasa as an `EXTERNAL_handoff_*` intent pushed with
`trigger_intent`, its facts as entities; the handoff action that shows it
sets the `handoff_event_id` slot to the event's id, which is how both sides
know it was handled: the sidecar counts a push delivered only once that slot
is in the tracker Rasa returns, and the action skips an id it already set.
The names must match `domain.yml` (the suite checks Rasa accepts it).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .events import (
    AgentJoined,
    AgentMessage,
    AgentSnoozed,
    AgentTyping,
    ConversationClosed,
    DeskEvent,
    MessagesRead,
    QueuePosition,
    RoutingFailed,
    Transferred,
)

INTENT_AGENT_MESSAGE = "EXTERNAL_handoff_agent_message"
INTENT_AGENT_JOINED = "EXTERNAL_handoff_agent_joined"
INTENT_CLOSED = "EXTERNAL_handoff_closed"
INTENT_TIMEOUT = "EXTERNAL_handoff_timeout"
INTENT_AGENT_SNOOZED = "EXTERNAL_handoff_agent_snoozed"
INTENT_AGENT_TYPING = "EXTERNAL_handoff_agent_typing"
INTENT_MESSAGES_READ = "EXTERNAL_handoff_messages_read"
INTENT_TRANSFERRED = "EXTERNAL_handoff_transferred"
INTENT_ROUTING_FAILED = "EXTERNAL_handoff_routing_failed"
INTENT_QUEUE_POSITION = "EXTERNAL_handoff_queue_position"

#: Every intent the sidecar pushes; the handoff loop handles each.
DESK_INTENTS = (
    INTENT_AGENT_MESSAGE,
    INTENT_AGENT_JOINED,
    INTENT_AGENT_SNOOZED,
    INTENT_CLOSED,
    INTENT_TIMEOUT,
    INTENT_AGENT_TYPING,
    INTENT_MESSAGES_READ,
    INTENT_TRANSFERRED,
    INTENT_ROUTING_FAILED,
    INTENT_QUEUE_POSITION,
)

ENTITY_EVENT_ID = "handoff_event_id"
ENTITY_TEXT = "handoff_text"
ENTITY_AGENT = "handoff_agent"
ENTITY_TIMER = "handoff_timer"
#: A list of URLs: the files or images an agent attached to a message.
ENTITY_ATTACHMENTS = "handoff_attachments"
#: Why the desk side ended a handoff ("refused": the desk turned the request down).
ENTITY_REASON = "handoff_reason"
REASON_REFUSED = "refused"
#: typing: "on" or "off"; read: the message id read up to; transferred: the queue.
ENTITY_STATE = "handoff_state_change"
ENTITY_QUEUE = "handoff_queue"
ENTITY_POSITION = "handoff_position"
ENTITY_WAIT = "handoff_wait_seconds"

#: The slot every handoff action sets to the id of the desk event it handled.
EVENT_ID_SLOT = "handoff_event_id"


def acknowledged(events: Optional[Iterable[Any]], event_id: str) -> bool:
    """Whether a tracker's events hold the acknowledgement of `event_id`."""
    return any(
        isinstance(event, dict)
        and event.get("event") == "slot"
        and event.get("name") == EVENT_ID_SLOT
        and event.get("value") == event_id
        for event in events or ()
    )


def intent_for(event: DeskEvent) -> tuple[str, dict[str, Any]]:
    """The intent and entities (besides the event id) that carry `event` into Rasa."""
    entities: dict[str, Any] = {}
    agent = getattr(event, "agent_name", None)
    if agent:
        entities[ENTITY_AGENT] = agent
    if isinstance(event, AgentMessage):
        entities[ENTITY_TEXT] = event.text
        if event.attachments:
            entities[ENTITY_ATTACHMENTS] = list(event.attachments)
        return INTENT_AGENT_MESSAGE, entities
    if isinstance(event, AgentJoined):
        return INTENT_AGENT_JOINED, entities
    if isinstance(event, ConversationClosed):
        return INTENT_CLOSED, entities
    if isinstance(event, AgentSnoozed):
        return INTENT_AGENT_SNOOZED, entities
    if isinstance(event, AgentTyping):
        entities[ENTITY_STATE] = "on" if event.typing else "off"
        return INTENT_AGENT_TYPING, entities
    if isinstance(event, MessagesRead):
        if event.message_id:
            entities[ENTITY_STATE] = event.message_id
        return INTENT_MESSAGES_READ, entities
    if isinstance(event, Transferred):
        if event.to_agent:
            entities[ENTITY_AGENT] = event.to_agent
        if event.to_queue:
            entities[ENTITY_QUEUE] = event.to_queue
        return INTENT_TRANSFERRED, entities
    if isinstance(event, RoutingFailed):
        if event.reason:
            entities[ENTITY_REASON] = event.reason
        return INTENT_ROUTING_FAILED, entities
    if isinstance(event, QueuePosition):
        entities[ENTITY_POSITION] = event.position
        if event.wait_seconds is not None:
            entities[ENTITY_WAIT] = event.wait_seconds
        return INTENT_QUEUE_POSITION, entities
    raise TypeError(f"no Rasa intent for {type(event).__name__}")
