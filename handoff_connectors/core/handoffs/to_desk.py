"""User -> desk: what the actions queue, and the sidecar's delivery of it.

`open`, `relay` and `finish` each write the handoff's records and push an
operation onto its `to_desk:<handoff>` queue in one store write, and return:
the action never waits on the desk. The sidecar's pump, woken by the push,
delivers the operations in order; a desk that refuses to open the
conversation is told to the user through Rasa (a close with the reason
"refused"), one that is down is retried.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from typing import Mapping, Optional, Sequence

from ..contract import (
    Attachment,
    CloseReason,
    Connector,
    DeskError,
    HandoffRequest,
    HostsTheBot,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
)
from ..outbox import Attempts, Drained, RetryLater, Undeliverable, drain
from ..rasa_protocol import ENTITY_REASON, INTENT_CLOSED, REASON_REFUSED
from ..store import Change, Push, Store
from ..text import repair_text, repaired
from ..timers import SESSION, WAITING, Timers
from ...observability.logs import log_context
from ...observability.metrics import classify_desk_error
from .metrics import Metrics, observe_queue_time
from .records import Handoff, Records
from .status import DeskStatus
from .to_rasa import rasa_item, to_rasa

logger = logging.getLogger(__name__)

TO_DESK = "to_desk:"


class DeskOutbox:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        records: Records,
        timers: Timers,
        status: DeskStatus,
        owner: str,
        attempts: Attempts,
        metrics: Metrics,
        waiting_timeout: float,
    ) -> None:
        self.store = store
        self.connector = connector
        self.records = records
        self.timers = timers
        self.status = status
        self.metrics = metrics
        self.waiting_timeout = waiting_timeout
        self._owner = owner
        self._attempts = attempts

    # -- queued by the actions ---------------------------------------------------------

    async def open(
        self,
        sender_id: str,
        email: str,
        language: str,
        transcript: Sequence[Turn],
        latest_question: str,
        routing: Optional[str] = None,
        message_to_agent: Optional[str] = None,
        attributes: Optional[Mapping[str, str]] = None,
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
                attributes=dict(attributes or {}),
            )
        )
        await self.store.write(
            *self.records.opening(handoff),
            self.timers.arming(handoff.handoff_id, sender_id, WAITING, self.waiting_timeout),
            self._operation(handoff, {"op": "start", "request": request_to_dict(request)}),
        )
        return handoff

    async def relay(self, handoff: Handoff, text: str, attachments: Sequence[Attachment] = ()) -> None:
        if self._in_the_desk_already(handoff):
            return
        message = {
            "message_id": uuid.uuid4().hex,
            "text": repair_text(text),
            "sent_at": time.time(),
            "attachments": [dataclasses.asdict(repaired(attachment)) for attachment in attachments],
        }
        await self.store.write(
            # The user answered: the session timeout counts again from the agent's next message.
            *self.timers.disarming(handoff.handoff_id, SESSION),
            self._operation(handoff, {"op": "send", "message": message}),
        )

    def _in_the_desk_already(self, handoff: Handoff) -> bool:
        """A user of the desk's own chat wrote there: the agent has the message."""
        connector = self.connector
        return isinstance(connector, HostsTheBot) and connector.desk_conversation_of(handoff.sender_id) is not None

    async def keep_waiting(self, handoff: Handoff) -> None:
        """The user chose to keep waiting: the waiting timeout counts again from now."""
        await self.timers.arm(handoff.handoff_id, handoff.sender_id, WAITING, self.waiting_timeout)

    async def finish(self, handoff: Handoff, reason: CloseReason) -> None:
        """End the handoff on our side; the desk hears of it after every pending message."""
        await self.store.write(*self.closing(handoff, reason))

    def closing(self, handoff: Handoff, reason: CloseReason) -> list[Change]:
        return [*self.ended(handoff), self._operation(handoff, {"op": "close", "reason": reason.value})]

    def ended(self, handoff: Handoff) -> list[Change]:
        """No timer fires and no message is relayed for the handoff any more."""
        return [*self.timers.disarming(handoff.handoff_id), self.records.inactive(handoff)]

    def _operation(self, handoff: Handoff, operation: dict) -> Push:
        operation = {"id": uuid.uuid4().hex, "handoff_id": handoff.handoff_id, "queued_at": time.time(), **operation}
        return Push(TO_DESK + handoff.handoff_id, operation)

    # -- delivered by the sidecar ----------------------------------------------------

    async def deliver(self, queue: str) -> Drained:
        return await drain(self.store, queue, self._perform, self._owner, self._attempts, self.metrics.parked)

    async def _perform(self, operation: dict) -> list[Change]:
        with log_context(handoff_id=operation.get("handoff_id")):
            handoff = await self.records.record(operation["handoff_id"])
            if handoff is None:
                raise Undeliverable(f"handoff {operation['handoff_id']} no longer exists")
            observe_queue_time(self.metrics, "to_desk", operation)
            started = time.perf_counter()
            try:
                follow_up = await self._call_desk(handoff, operation)
            except DeskError as error:
                return await self._desk_failed(handoff, operation, error)
            self.metrics.delivered("to_desk", time.perf_counter() - started)
            await self.status.set(ServiceStatus.AVAILABLE)
            return follow_up

    async def _call_desk(self, handoff: Handoff, operation: dict) -> list[Change]:
        # Counted here, in the sidecar, where /metrics is served (the action servers serve none).
        name = self.connector.name
        if operation["op"] == "start":
            desk_id = await self.connector.start(request_from_dict(operation["request"]))
            self.metrics.handoff_started(name)
            return self.records.connected(handoff, desk_id)
        if operation["op"] == "send":
            await self.connector.send(handoff.desk_id, message_from_dict(operation["message"]))
            self.metrics.message("user_to_agent", name)
            return []
        if operation["op"] == "close":
            await self.connector.close(handoff.desk_id, CloseReason(operation["reason"]))
            self.metrics.handoff_ended(name, operation["reason"])
            return self.records.forgetting(handoff)
        raise Undeliverable(f"unknown operation {operation['op']!r}")

    async def _desk_failed(self, handoff: Handoff, operation: dict, error: DeskError) -> list[Change]:
        name = self.connector.name
        self.metrics.desk_error(name, classify_desk_error(error))
        if error.auth:
            await self.status.set(ServiceStatus.UNAVAILABLE, str(error))
        if error.retryable:
            logger.warning("%s desk unavailable, will retry: %s", name, error)
            raise RetryLater(str(error)) from None
        if operation["op"] == "close":
            # The desk already considers it closed; nothing more to tell it.
            await self.store.write(*self.records.forgetting(handoff))
        elif operation["op"] == "start":
            # The user is still waiting for a person: tell them, through Rasa.
            await self.store.write(*self._refused(handoff))
            self.metrics.handoff_ended(name, "refused")
        raise Undeliverable(f"{name} refused {operation['op']}: {error}") from None

    def _refused(self, handoff: Handoff) -> list[Change]:
        event_id = f"refused:{handoff.handoff_id}"
        item = rasa_item(handoff.handoff_id, event_id, INTENT_CLOSED, {ENTITY_REASON: REASON_REFUSED})
        return [to_rasa(handoff.sender_id, item), *self.ended(handoff), *self.records.forgetting(handoff)]


def request_to_dict(request: HandoffRequest) -> dict:
    data = dataclasses.asdict(request)
    data["transcript"] = [{"speaker": turn.speaker.value, "text": turn.text} for turn in request.transcript]
    data["attributes"] = dict(request.attributes)
    return data


def request_from_dict(data: dict) -> HandoffRequest:
    turns = tuple(Turn(Speaker(turn["speaker"]), turn["text"]) for turn in data["transcript"])
    return HandoffRequest(**{**data, "transcript": turns, "attributes": data.get("attributes") or {}})


def message_from_dict(data: dict) -> UserMessage:
    attachments = tuple(Attachment(**attachment) for attachment in data.get("attachments") or ())
    return UserMessage(data["message_id"], data["text"], data["sent_at"], attachments)
