"""Handoff records and the two directions a handoff's messages travel.

User -> desk: the actions call `open`, `relay` and `finish`; each pushes an
operation onto the handoff's `to_desk:` queue and tries to deliver it at once.
Desk -> user: the sidecar calls `accept` with the events a webhook carried;
each is pushed, once, onto the conversation's `to_rasa:` queue. The sidecar's
pump delivers whatever could not be delivered straight away.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from .contract import (
    AgentJoined,
    AgentMessage,
    AgentSnoozed,
    CloseReason,
    Connector,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
)
from .outbox import RetryLater, Undeliverable, dead_letter_queue, drain, new_owner
from .rasa import RasaClient
from .store import Store
from .timers import SESSION, WAITING, Timers

logger = logging.getLogger(__name__)

TO_DESK = "to_desk:"
TO_RASA = "to_rasa:"

# Intents the sidecar triggers in Rasa (declared in the shipped domain).
INTENT_AGENT_MESSAGE = "EXTERNAL_handoff_agent_message"
INTENT_AGENT_JOINED = "EXTERNAL_handoff_agent_joined"
INTENT_CLOSED = "EXTERNAL_handoff_closed"
INTENT_TIMEOUT = "EXTERNAL_handoff_timeout"
INTENT_AGENT_SNOOZED = "EXTERNAL_handoff_agent_snoozed"
# Entities those intents carry.
ENTITY_EVENT_ID = "handoff_event_id"
ENTITY_TEXT = "handoff_text"
ENTITY_AGENT = "handoff_agent"
ENTITY_TIMER = "handoff_timer"
# A list of URLs: the files or images an agent attached to a message.
ENTITY_ATTACHMENTS = "handoff_attachments"


@dataclass
class Handoff:
    handoff_id: str
    sender_id: str
    connector: str
    email: str
    language: str
    created_at: float
    desk_conversation_id: Optional[str] = None
    routing: Optional[str] = None

    @classmethod
    def from_dict(cls, data: dict) -> "Handoff":
        return cls(**data)


def _active_key(sender_id: str) -> str:
    return f"active:{sender_id}"


def _record_key(handoff_id: str) -> str:
    return f"handoff:{handoff_id}"


def _desk_key(connector: str, desk_conversation_id: str) -> str:
    return f"desk:{connector}:{desk_conversation_id}"


class HandoffService:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        rasa: Optional[RasaClient] = None,
        waiting_timeout: float = 60.0,
        session_timeout: float = 180.0,
        clock=time.time,
    ) -> None:
        self.store = store
        self.connector = connector
        self.rasa = rasa
        self.timers = Timers(store, clock)
        self.waiting_timeout = waiting_timeout
        self.session_timeout = session_timeout
        self._owner = new_owner()

    # -- lookups -------------------------------------------------------------

    async def active(self, sender_id: str) -> Optional[Handoff]:
        pointer = await self.store.get(_active_key(sender_id))
        if not pointer:
            return None
        return await self.record(pointer["handoff_id"])

    async def record(self, handoff_id: str) -> Optional[Handoff]:
        data = await self.store.get(_record_key(handoff_id))
        return Handoff.from_dict(data) if data else None

    async def by_desk_conversation(self, desk_conversation_id: str) -> Optional[Handoff]:
        pointer = await self.store.get(_desk_key(self.connector.name, desk_conversation_id))
        if not pointer:
            return None
        return await self.record(pointer["handoff_id"])

    # -- user -> desk (called by the actions) --------------------------------

    async def open(
        self,
        sender_id: str,
        email: str,
        language: str,
        transcript: list[Turn],
        latest_question: str,
        routing: Optional[str] = None,
        message_to_agent: Optional[str] = None,
    ) -> Handoff:
        handoff = Handoff(
            handoff_id=uuid.uuid4().hex,
            sender_id=sender_id,
            connector=self.connector.name,
            email=email,
            language=language,
            created_at=time.time(),
            routing=routing,
        )
        await self._save(handoff)
        # Desks that echo our id (the webhook protocol) are found by it at once,
        # even if the agent answers before `start` has returned.
        await self.store.put(
            _desk_key(handoff.connector, handoff.handoff_id), {"handoff_id": handoff.handoff_id}
        )
        await self.store.put(_active_key(sender_id), {"handoff_id": handoff.handoff_id})
        request = HandoffRequest(
            handoff_id=handoff.handoff_id,
            sender_id=sender_id,
            email=email,
            language=language,
            transcript=tuple(transcript),
            latest_question=latest_question,
            routing=routing,
            message_to_agent=message_to_agent,
            created_at=handoff.created_at,
        )
        await self.timers.arm(handoff.handoff_id, sender_id, WAITING, self.waiting_timeout)
        await self._to_desk(handoff, {"op": "start", "request": _request_to_dict(request)})
        return handoff

    async def relay(self, handoff: Handoff, text: str) -> None:
        # The user answered: the session timeout counts again from the agent's next message.
        await self.timers.disarm(handoff.handoff_id, SESSION)
        message = {"message_id": uuid.uuid4().hex, "text": text, "sent_at": time.time()}
        await self._to_desk(handoff, {"op": "send", "message": message})

    async def keep_waiting(self, handoff: Handoff) -> None:
        await self.timers.arm(handoff.handoff_id, handoff.sender_id, WAITING, self.waiting_timeout)

    async def finish(self, handoff: Handoff, reason: CloseReason, tell_desk: bool = True) -> None:
        """End the handoff on our side; the desk hears of it after every pending message."""
        await self.timers.disarm(handoff.handoff_id)
        await self.store.delete(_active_key(handoff.sender_id))
        if tell_desk:
            await self._to_desk(handoff, {"op": "close", "reason": reason.value})
        else:
            await self._forget(handoff)

    async def _to_desk(self, handoff: Handoff, operation: dict) -> None:
        operation = {"id": uuid.uuid4().hex, "handoff_id": handoff.handoff_id, **operation}
        await self.store.push(TO_DESK + handoff.handoff_id, operation)
        await self.deliver_to_desk(TO_DESK + handoff.handoff_id)

    async def deliver_to_desk(self, queue: str) -> bool:
        return await drain(self.store, queue, self._perform, self._owner)

    async def _perform(self, operation: dict) -> None:
        handoff = await self.record(operation["handoff_id"])
        if handoff is None:
            raise Undeliverable(f"handoff {operation['handoff_id']} no longer exists")
        try:
            if operation["op"] == "start":
                desk_id = await self.connector.start(_request_from_dict(operation["request"]))
                await self._connected_to(handoff, desk_id)
            elif operation["op"] == "send":
                message = UserMessage(**operation["message"])
                await self.connector.send(self._desk_id(handoff), message)
            elif operation["op"] == "close":
                await self.connector.close(self._desk_id(handoff), CloseReason(operation["reason"]))
                await self._forget(handoff)
            else:
                raise Undeliverable(f"unknown operation {operation['op']!r}")
            await self.set_status(ServiceStatus.AVAILABLE)
        except DeskError as error:
            if error.auth:
                await self.set_status(ServiceStatus.UNAVAILABLE, str(error))
            if error.retryable:
                logger.warning("%s desk unavailable, will retry: %s", self.connector.name, error)
                raise RetryLater(str(error)) from None
            if operation["op"] == "close":
                # The desk already considers it closed; nothing more to tell it.
                await self._forget(handoff)
            raise Undeliverable(f"{self.connector.name} refused {operation['op']}: {error}") from None

    async def status(self) -> Optional[ServiceStatus]:
        """What the last desk call said of the credentials (None before any)."""
        stored = await self.store.get(f"status:{self.connector.name}")
        return ServiceStatus(stored["status"]) if stored else None

    async def set_status(self, status: ServiceStatus, reason: str = "") -> None:
        previous = await self.status()
        if previous == status:
            return
        if status is ServiceStatus.UNAVAILABLE:
            # Logged once per change, and only the desk's answer: never a credential.
            logger.error("%s is Unavailable: %s", self.connector.name, reason)
        elif status is ServiceStatus.AVAILABLE and previous is not None:
            logger.info("%s is Available again", self.connector.name)
        await self.store.put(f"status:{self.connector.name}", {"status": status.value, "at": time.time()})

    async def check_status(self) -> None:
        """Run the connector's credential check and record what it says."""
        await self.set_status(await self.connector.check(), "the credential check failed")

    async def was_refused(self, handoff: Handoff) -> bool:
        """Whether the desk turned the handoff down (its start was parked)."""
        parked = await self.store.peek(dead_letter_queue(TO_DESK + handoff.handoff_id))
        return parked is not None and parked.get("op") == "start"

    def _desk_id(self, handoff: Handoff) -> str:
        return handoff.desk_conversation_id or handoff.handoff_id

    async def _connected_to(self, handoff: Handoff, desk_id: str) -> None:
        handoff = dataclasses.replace(handoff, desk_conversation_id=desk_id)
        await self._save(handoff)
        await self.store.put(_desk_key(handoff.connector, desk_id), {"handoff_id": handoff.handoff_id})

    async def _save(self, handoff: Handoff) -> None:
        await self.store.put(_record_key(handoff.handoff_id), dataclasses.asdict(handoff))

    async def _forget(self, handoff: Handoff) -> None:
        await self.store.delete(_desk_key(handoff.connector, handoff.handoff_id))
        if handoff.desk_conversation_id:
            await self.store.delete(_desk_key(handoff.connector, handoff.desk_conversation_id))
        await self.store.delete(_record_key(handoff.handoff_id))

    # -- desk -> user (called by the sidecar) --------------------------------

    async def accept(self, event: DeskEvent) -> Optional[Handoff]:
        """Queue a desk event for Rasa, once. None when no live handoff owns it."""
        handoff = await self.by_desk_conversation(event.desk_conversation_id)
        if handoff is None:
            return None
        item = _rasa_item(handoff, event, self.connector.name)
        await self.store.push(TO_RASA + handoff.sender_id, item, once=item["id"])
        if isinstance(event, ConversationClosed):
            # Nothing more goes to the desk; the loop ends when Rasa sees the event.
            await self.timers.disarm(handoff.handoff_id)
            await self.store.delete(_active_key(handoff.sender_id))
            await self._forget(handoff)
        return handoff

    async def deliver_to_rasa(self, queue: str) -> bool:
        if self.rasa is None:
            raise RuntimeError("deliver_to_rasa needs a RasaClient")
        sender_id = queue[len(TO_RASA):]

        async def push(item: dict) -> None:
            await self.rasa.trigger_intent(sender_id, item["intent"], item["entities"], item["id"])
            if item["intent"] == INTENT_AGENT_MESSAGE:
                await self._agent_spoke(item["handoff_id"])
            elif item["intent"] == INTENT_AGENT_SNOOZED:
                # The agent will come back later: neither timeout applies meanwhile.
                await self.timers.disarm(item["handoff_id"])

        return await drain(self.store, queue, push, self._owner)

    async def _agent_spoke(self, handoff_id: str) -> None:
        """The user has seen an agent message: stop waiting, start the session clock."""
        await self.timers.disarm(handoff_id, WAITING)
        handoff = await self.record(handoff_id)
        if handoff is not None and await self.active(handoff.sender_id) is not None:
            await self.timers.arm(handoff_id, handoff.sender_id, SESSION, self.session_timeout)

    async def fire_due_timers(self) -> int:
        """Fire every timer that came due, each once. Returns how many fired."""
        fired = 0
        for timer in await self.timers.due():
            if not await self.timers.claim(timer):
                continue
            handoff = await self.record(timer["handoff_id"])
            if handoff is None or await self.active(handoff.sender_id) is None:
                continue
            if timer["kind"] == SESSION:
                await self.finish(handoff, CloseReason.TIMEOUT)
            item = {
                "id": f"timer:{timer['id']}",
                "handoff_id": handoff.handoff_id,
                "intent": INTENT_TIMEOUT,
                "entities": {ENTITY_EVENT_ID: f"timer:{timer['id']}", ENTITY_TIMER: timer["kind"]},
            }
            await self.store.push(TO_RASA + handoff.sender_id, item, once=item["id"])
            fired += 1
        return fired


def _rasa_item(handoff: Handoff, event: DeskEvent, connector: str) -> dict:
    event_id = f"{connector}:{event.event_id}"
    entities = {ENTITY_EVENT_ID: event_id}
    if isinstance(event, AgentMessage):
        intent = INTENT_AGENT_MESSAGE
        entities[ENTITY_TEXT] = event.text
        if event.agent_name:
            entities[ENTITY_AGENT] = event.agent_name
        if event.attachments:
            entities[ENTITY_ATTACHMENTS] = list(event.attachments)
    elif isinstance(event, AgentJoined):
        intent = INTENT_AGENT_JOINED
        if event.agent_name:
            entities[ENTITY_AGENT] = event.agent_name
    elif isinstance(event, ConversationClosed):
        intent = INTENT_CLOSED
    elif isinstance(event, AgentSnoozed):
        intent = INTENT_AGENT_SNOOZED
        if event.agent_name:
            entities[ENTITY_AGENT] = event.agent_name
    else:
        raise TypeError(f"no Rasa intent for {type(event).__name__}")
    return {"id": event_id, "handoff_id": handoff.handoff_id, "intent": intent, "entities": entities}


def _request_to_dict(request: HandoffRequest) -> dict:
    data = dataclasses.asdict(request)
    data["transcript"] = [{"speaker": turn.speaker.value, "text": turn.text} for turn in request.transcript]
    return data


def _request_from_dict(data: dict) -> HandoffRequest:
    turns = tuple(Turn(Speaker(turn["speaker"]), turn["text"]) for turn in data["transcript"])
    return HandoffRequest(**{**data, "transcript": turns})
