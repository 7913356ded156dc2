"""Handoff records and the two directions a handoff's messages travel.

User -> desk: the actions call `open`, `relay` and `finish`; each writes the
handoff's records and pushes an operation onto its `to_desk:` queue in one
store write, and returns: the action never waits on the desk. The sidecar's
pump, woken by the push, delivers the operation within milliseconds.
Desk -> user: the sidecar calls `accept` with the events a webhook carried;
each is pushed, once, onto the conversation's `to_rasa:` queue and delivered
by the same pump.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Optional, Protocol

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
from .outbox import Attempts, Drained, RetryLater, Undeliverable, drain, new_owner
from ..observability.logs import log_context
from ..observability.metrics import classify_desk_error
from .rasa import RasaClient
from .store import Change, Delete, Push, Put, Store
from .text import repair_text, repaired
from .timers import SESSION, WAITING, Timers

logger = logging.getLogger(__name__)

TO_DESK = "to_desk:"
TO_RASA = "to_rasa:"
# Requests for the sidecar to ask the desk whether agents are there.
ASK_AVAILABILITY = "availability:"
# How long the sidecar's answer is used as it is; older, it is used while a fresh one is asked for.
AVAILABILITY_FRESH = 30.0
AVAILABILITY_USABLE = 600.0

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
# Why the desk side ended a handoff ("refused": the desk turned the request down).
ENTITY_REASON = "handoff_reason"
REASON_REFUSED = "refused"


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
    # When the user first saw an agent's message (the session officially began).
    first_reply_at: Optional[float] = None

    @classmethod
    def from_dict(cls, data: dict) -> "Handoff":
        return cls(**data)


def _active_key(sender_id: str) -> str:
    return f"active:{sender_id}"


def _record_key(handoff_id: str) -> str:
    return f"handoff:{handoff_id}"


def _desk_key(connector: str, desk_conversation_id: str) -> str:
    return f"desk:{connector}:{desk_conversation_id}"


def _availability_key(connector: str, routing: Optional[str]) -> str:
    return f"available:{connector}:{routing or ''}"


class Metrics(Protocol):
    """What the service reports as it works (the sidecar's Prometheus metrics implement it)."""

    def handoff_started(self, desk: str) -> None: ...
    def handoff_ended(self, desk: str, reason: str) -> None: ...
    def first_agent_reply(self, desk: str, seconds: float) -> None: ...
    def queued_for(self, direction: str, seconds: float) -> None: ...
    def message(self, direction: str, desk: str) -> None: ...
    def delivered(self, direction: str, seconds: float) -> None: ...
    def desk_error(self, desk: str, kind: str) -> None: ...
    def desk_status(self, desk: str, status: str) -> None: ...
    def parked(self, queue: str) -> None: ...


class _NoMetrics:
    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


NO_METRICS: Metrics = _NoMetrics()  # type: ignore[assignment]


class HandoffService:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        rasa: Optional[RasaClient] = None,
        waiting_timeout: float = 60.0,
        session_timeout: float = 180.0,
        clock=time.time,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.store = store
        self.connector = connector
        self.rasa = rasa
        self.timers = Timers(store, clock)
        self.waiting_timeout = waiting_timeout
        self.session_timeout = session_timeout
        self.metrics = metrics
        self._owner = new_owner()
        self._attempts = Attempts()
        self._status: Optional[ServiceStatus] = None

    # -- lookups -------------------------------------------------------------

    async def active(self, sender_id: str) -> Optional[Handoff]:
        """The sender's live handoff, in one read (its desk id may lag: `record` has it)."""
        data = await self.store.get(_active_key(sender_id))
        return Handoff.from_dict(data) if data and "sender_id" in data else None

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
        request = repaired(
            HandoffRequest(
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
        )
        record = dataclasses.asdict(handoff)
        pointer = {"handoff_id": handoff.handoff_id, "sender_id": sender_id}
        await self.store.write(
            Put(_record_key(handoff.handoff_id), record),
            # Desks that echo our id (the webhook protocol) are found by it at once,
            # even if the agent answers before `start` has returned.
            Put(_desk_key(handoff.connector, handoff.handoff_id), pointer),
            Put(_active_key(sender_id), record),
            self.timers.arming(handoff.handoff_id, sender_id, WAITING, self.waiting_timeout),
            self._to_desk(handoff, {"op": "start", "request": _request_to_dict(request)}),
        )
        return handoff

    async def relay(self, handoff: Handoff, text: str) -> None:
        message = {"message_id": uuid.uuid4().hex, "text": repair_text(text), "sent_at": time.time()}
        await self.store.write(
            # The user answered: the session timeout counts again from the agent's next message.
            *self.timers.disarming(handoff.handoff_id, SESSION),
            self._to_desk(handoff, {"op": "send", "message": message}),
        )

    async def keep_waiting(self, handoff: Handoff) -> None:
        await self.timers.arm(handoff.handoff_id, handoff.sender_id, WAITING, self.waiting_timeout)

    async def finish(self, handoff: Handoff, reason: CloseReason) -> None:
        """End the handoff on our side; the desk hears of it after every pending message."""
        await self.store.write(*self._closing(handoff, reason))

    def _closing(self, handoff: Handoff, reason: CloseReason) -> list[Change]:
        return [*self._ended(handoff), self._to_desk(handoff, {"op": "close", "reason": reason.value})]

    def _ended(self, handoff: Handoff) -> list[Change]:
        """No timer fires and no message is relayed for the handoff any more."""
        return [*self.timers.disarming(handoff.handoff_id), Delete(_active_key(handoff.sender_id))]

    def _to_desk(self, handoff: Handoff, operation: dict) -> Push:
        operation = {"id": uuid.uuid4().hex, "handoff_id": handoff.handoff_id, "queued_at": time.time(), **operation}
        return Push(TO_DESK + handoff.handoff_id, operation)

    async def deliver_to_desk(self, queue: str) -> Drained:
        return await drain(self.store, queue, self._perform, self._owner, self._attempts, self.metrics.parked)

    async def _perform(self, operation: dict) -> list[Change]:
        with log_context(handoff_id=operation.get("handoff_id")):
            return await self._perform_logged(operation)

    async def _perform_logged(self, operation: dict) -> list[Change]:
        handoff = await self.record(operation["handoff_id"])
        if handoff is None:
            raise Undeliverable(f"handoff {operation['handoff_id']} no longer exists")
        _observe_queue_time(self.metrics, "to_desk", operation)
        started = time.perf_counter()
        try:
            follow_up = await self._call_desk(handoff, operation)
        except DeskError as error:
            return await self._desk_failed(handoff, operation, error)
        self.metrics.delivered("to_desk", time.perf_counter() - started)
        await self.set_status(ServiceStatus.AVAILABLE)
        return follow_up

    async def _call_desk(self, handoff: Handoff, operation: dict) -> list[Change]:
        # Counted here, in the sidecar, where /metrics is served (the action servers serve none).
        if operation["op"] == "start":
            desk_id = await self.connector.start(_request_from_dict(operation["request"]))
            self.metrics.handoff_started(self.connector.name)
            return self._connected_to(handoff, desk_id)
        if operation["op"] == "send":
            await self.connector.send(self._desk_id(handoff), UserMessage(**operation["message"]))
            self.metrics.message("user_to_agent", self.connector.name)
            return []
        if operation["op"] == "close":
            await self.connector.close(self._desk_id(handoff), CloseReason(operation["reason"]))
            self.metrics.handoff_ended(self.connector.name, operation["reason"])
            return self._forgetting(handoff)
        raise Undeliverable(f"unknown operation {operation['op']!r}")

    async def _desk_failed(self, handoff: Handoff, operation: dict, error: DeskError) -> list[Change]:
        self.metrics.desk_error(self.connector.name, classify_desk_error(error))
        if error.auth:
            await self.set_status(ServiceStatus.UNAVAILABLE, str(error))
        if error.retryable:
            logger.warning("%s desk unavailable, will retry: %s", self.connector.name, error)
            raise RetryLater(str(error)) from None
        if operation["op"] == "close":
            # The desk already considers it closed; nothing more to tell it.
            await self.store.write(*self._forgetting(handoff))
        elif operation["op"] == "start":
            # The user is still waiting for a person: tell them, through Rasa.
            await self.store.write(*self._refused(handoff))
            self.metrics.handoff_ended(self.connector.name, "refused")
        raise Undeliverable(f"{self.connector.name} refused {operation['op']}: {error}") from None

    def _refused(self, handoff: Handoff) -> list[Change]:
        event_id = f"refused:{handoff.handoff_id}"
        item = {
            "id": event_id,
            "handoff_id": handoff.handoff_id,
            "intent": INTENT_CLOSED,
            "entities": {ENTITY_EVENT_ID: event_id, ENTITY_REASON: REASON_REFUSED},
            "queued_at": time.time(),
        }
        return [Push(TO_RASA + handoff.sender_id, item, once=event_id), *self._ended(handoff), *self._forgetting(handoff)]

    async def status(self) -> Optional[ServiceStatus]:
        """What the last desk call said of the credentials (None before any)."""
        stored = await self.store.get(f"status:{self.connector.name}")
        return ServiceStatus(stored["status"]) if stored else None

    async def set_status(self, status: ServiceStatus, reason: str = "") -> None:
        if status is self._status:
            return  # this process wrote it last: no store round trip per desk call
        previous = await self.status()
        self._status = status
        self.metrics.desk_status(self.connector.name, status.value)
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
        self._status = None  # another process may have changed it meanwhile
        await self.set_status(await self.connector.check(), "the credential check failed")

    def _desk_id(self, handoff: Handoff) -> str:
        return handoff.desk_conversation_id or handoff.handoff_id

    def _connected_to(self, handoff: Handoff, desk_id: str) -> list[Change]:
        handoff = dataclasses.replace(handoff, desk_conversation_id=desk_id)
        pointer = {"handoff_id": handoff.handoff_id, "sender_id": handoff.sender_id}
        return [
            Put(_record_key(handoff.handoff_id), dataclasses.asdict(handoff)),
            Put(_desk_key(handoff.connector, desk_id), pointer),
        ]

    def _forgetting(self, handoff: Handoff) -> list[Change]:
        changes: list[Change] = [
            Delete(_desk_key(handoff.connector, handoff.handoff_id)),
            Delete(_record_key(handoff.handoff_id)),
        ]
        if handoff.desk_conversation_id:
            changes.append(Delete(_desk_key(handoff.connector, handoff.desk_conversation_id)))
        return changes

    # -- are agents there? (asked by the actions, answered by the sidecar) ----

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """Whether agents are there for `routing`, without calling the desk from here.

        The sidecar asks the desk and keeps the answer in the store. Until it
        has one (the first request for a routing), this is None: unknown, so
        the handoff goes ahead and the desk's own routing decides.
        """
        if self.connector.availability_in_store:
            return await self.connector.agents_available(routing)
        key = _availability_key(self.connector.name, routing)
        cached = await self.store.get(key)
        now = time.time()
        age = now - cached["at"] if cached else None
        if age is None or age > AVAILABILITY_FRESH:
            ask = {"id": uuid.uuid4().hex, "routing": routing}
            # Once per routing and freshness period, however many users ask meanwhile.
            once = f"{key}:{int(now // AVAILABILITY_FRESH)}"
            await self.store.push(ASK_AVAILABILITY + self.connector.name, ask, once=once)
        if age is None or age > AVAILABILITY_USABLE:
            return None
        return cached["available"]

    async def answer_availability(self, queue: str) -> Drained:
        """The sidecar's side: ask the desk, keep what it says."""

        async def ask(item: dict) -> list[Change]:
            available = await self.connector.agents_available(item.get("routing"))
            answer = {"available": available, "at": time.time()}
            return [Put(_availability_key(self.connector.name, item.get("routing")), answer)]

        return await drain(self.store, queue, ask, self._owner, self._attempts, self.metrics.parked)

    # -- desk -> user (called by the sidecar) --------------------------------

    async def accept(self, event: DeskEvent) -> Optional[Handoff]:
        """Queue a desk event for Rasa, once. None when no live handoff owns it."""
        event = repaired(event)
        handoff = await self.by_desk_conversation(event.desk_conversation_id)
        if handoff is None:
            return None
        item = _rasa_item(handoff, event, self.connector.name)
        changes: list[Change] = [Push(TO_RASA + handoff.sender_id, item, once=item["id"])]
        if isinstance(event, AgentMessage) and handoff.first_reply_at is None:
            changes += self._first_reply(handoff)
        if isinstance(event, ConversationClosed):
            # Nothing more goes to the desk; the loop ends when Rasa sees the event.
            changes += [*self._ended(handoff), *self._forgetting(handoff)]
        results = await self.store.write(*changes)
        if isinstance(event, ConversationClosed) and results[0]:
            self.metrics.handoff_ended(self.connector.name, "agent_closed")
        return handoff

    def _first_reply(self, handoff: Handoff) -> list[Change]:
        now = time.time()
        self.metrics.first_agent_reply(self.connector.name, now - handoff.created_at)
        return [Put(_record_key(handoff.handoff_id), dataclasses.asdict(dataclasses.replace(handoff, first_reply_at=now)))]

    async def deliver_to_rasa(self, queue: str) -> Drained:
        if self.rasa is None:
            raise RuntimeError("deliver_to_rasa needs a RasaClient")
        sender_id = queue[len(TO_RASA):]
        return await drain(
            self.store,
            queue,
            lambda item: self._push_to_rasa(sender_id, item),
            self._owner,
            self._attempts,
            self.metrics.parked,
        )

    async def _push_to_rasa(self, sender_id: str, item: dict) -> list[Change]:
        with log_context(handoff_id=item.get("handoff_id"), sender_id=sender_id):
            return await self._push_logged(sender_id, item)

    async def _push_logged(self, sender_id: str, item: dict) -> list[Change]:
        _observe_queue_time(self.metrics, "to_rasa", item)
        started = time.perf_counter()
        await self.rasa.trigger_intent(sender_id, item["intent"], item["entities"], item["id"])
        self.metrics.delivered("to_rasa", time.perf_counter() - started)
        if item["intent"] == INTENT_AGENT_MESSAGE:
            self.metrics.message("agent_to_user", self.connector.name)
            return self._agent_spoke(sender_id, item["handoff_id"])
        if item["intent"] == INTENT_AGENT_SNOOZED:
            # The agent will come back later: neither timeout applies meanwhile.
            return self.timers.disarming(item["handoff_id"])
        return []

    def _agent_spoke(self, sender_id: str, handoff_id: str) -> list[Change]:
        """The user has seen an agent message: stop waiting, start the session clock.

        Written with the item's removal. Should the handoff have ended
        meanwhile, the session timer finds no live handoff and does nothing.
        """
        return [
            *self.timers.disarming(handoff_id, WAITING),
            self.timers.arming(handoff_id, sender_id, SESSION, self.session_timeout),
        ]

    async def fire_due_timers(self) -> int:
        """Fire every timer that came due, each once. Returns how many fired."""
        fired = 0
        for timer in await self.timers.due():
            if not await self.timers.claim(timer):
                continue
            handoff = await self.active(timer["sender_id"])
            if handoff is None or handoff.handoff_id != timer["handoff_id"]:
                continue
            item = {
                "id": f"timer:{timer['id']}",
                "handoff_id": handoff.handoff_id,
                "intent": INTENT_TIMEOUT,
                "entities": {ENTITY_EVENT_ID: f"timer:{timer['id']}", ENTITY_TIMER: timer["kind"]},
                "queued_at": time.time(),
            }
            # A session timeout also ends the handoff: one write for both.
            ending = self._closing(handoff, CloseReason.TIMEOUT) if timer["kind"] == SESSION else []
            await self.store.write(*ending, Push(TO_RASA + handoff.sender_id, item, once=item["id"]))
            fired += 1
        return fired


def _observe_queue_time(metrics: Metrics, direction: str, item: dict) -> None:
    queued_at = item.get("queued_at")
    if isinstance(queued_at, (int, float)):
        metrics.queued_for(direction, max(0.0, time.time() - queued_at))


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
    return {
        "id": event_id,
        "handoff_id": handoff.handoff_id,
        "intent": intent,
        "entities": entities,
        "queued_at": time.time(),
    }


def _request_to_dict(request: HandoffRequest) -> dict:
    data = dataclasses.asdict(request)
    data["transcript"] = [{"speaker": turn.speaker.value, "text": turn.text} for turn in request.transcript]
    return data


def _request_from_dict(data: dict) -> HandoffRequest:
    turns = tuple(Turn(Speaker(turn["speaker"]), turn["text"]) for turn in data["transcript"])
    return HandoffRequest(**{**data, "transcript": turns})
