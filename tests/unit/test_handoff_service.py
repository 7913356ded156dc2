"""HandoffService on a real store: the actions only queue, the sidecar delivers, a refusal comes back."""

from __future__ import annotations

import pytest

from handoff_connectors.core.contract import (
    ReportsAvailability,
    CloseReason,
    Connector,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    UserMessage,
)
from handoff_connectors.core.handoffs import TO_DESK, TO_RASA, HandoffService
from handoff_connectors.core.rasa_protocol import ENTITY_REASON, INTENT_CLOSED, REASON_REFUSED
from handoff_connectors.core.outbox import Drained, dead_letter_queue
from handoff_connectors.core.store import SqliteStore


class Desk(Connector):
    name = "desk"

    def __init__(self, refuse_start: bool = False) -> None:
        self.refuse_start = refuse_start
        self.calls: list[tuple] = []

    async def start(self, request: HandoffRequest) -> str:
        self.calls.append(("start", request.handoff_id))
        if self.refuse_start:
            raise DeskError("POST /conversation/establish answered 422", retryable=False)
        return f"desk-{request.handoff_id}"

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        self.calls.append(("send", desk_conversation_id, message.text))

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        self.calls.append(("close", desk_conversation_id, reason))

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE


@pytest.fixture
async def store(tmp_path):
    opened = SqliteStore(str(tmp_path / "s.sqlite"))
    yield opened
    await opened.close()


async def test_opening_and_relaying_only_queue_for_the_desk(store):
    desk = Desk()
    service = HandoffService(store, desk)

    handoff = await service.open("u1", "a@b.co", "en", [], "help")
    await service.relay(handoff, "my order is late")

    assert desk.calls == []
    queued = [item["op"] for item in await _items(store, TO_DESK + handoff.handoff_id)]
    assert queued == ["start", "send"]


async def test_the_sidecar_delivers_in_order_and_learns_the_desk_conversation(store):
    desk = Desk()
    service = HandoffService(store, desk)
    handoff = await service.open("u1", "a@b.co", "en", [], "help")
    await service.relay(handoff, "one")
    await service.finish(handoff, CloseReason.USER_CLOSED)

    assert await service.deliver_to_desk(TO_DESK + handoff.handoff_id) is Drained.EMPTY

    desk_id = f"desk-{handoff.handoff_id}"
    assert desk.calls == [("start", handoff.handoff_id), ("send", desk_id, "one"), ("close", desk_id, CloseReason.USER_CLOSED)]
    # Closed: the records are gone, so a late desk event finds no handoff.
    assert await service.record(handoff.handoff_id) is None
    assert await service.by_desk_conversation(desk_id) is None


async def test_a_desk_refusing_the_request_tells_the_user_through_rasa(store):
    desk = Desk(refuse_start=True)
    service = HandoffService(store, desk)
    handoff = await service.open("u1", "a@b.co", "en", [], "help")
    await service.relay(handoff, "hello?")

    assert await service.deliver_to_desk(TO_DESK + handoff.handoff_id) is Drained.EMPTY

    [refusal] = await _items(store, TO_RASA + "u1")
    assert refusal["intent"] == INTENT_CLOSED
    assert refusal["entities"][ENTITY_REASON] == REASON_REFUSED
    assert await service.active("u1") is None
    # The start is parked with the reason; the message behind it is parked too, not retried forever.
    parked = await _items(store, dead_letter_queue(TO_DESK + handoff.handoff_id))
    assert [item["op"] for item in parked] == ["start", "send"]
    assert "422" in parked[0]["parked"]["reason"]


async def test_a_refusal_is_queued_once_even_if_delivered_twice(store):
    service = HandoffService(store, Desk(refuse_start=True))
    handoff = await service.open("u1", "a@b.co", "en", [], "help")
    await store.write(*service.outbox._refused(handoff))
    await store.write(*service.outbox._refused(handoff))
    assert len(await _items(store, TO_RASA + "u1")) == 1


async def _items(store: SqliteStore, queue: str) -> list[dict]:
    items = []
    while (item := await store.peek(queue)) is not None:
        items.append(item)
        await store.pop(queue, item["id"])
    return items


class DeskWithAgents(Desk, ReportsAvailability):
    def __init__(self, available: bool) -> None:
        super().__init__()
        self.available = available
        self.asked: list = []

    async def agents_available(self, routing):
        self.asked.append(routing)
        return self.available


async def test_the_actions_read_availability_the_sidecar_asked_the_desk_for(store):
    from handoff_connectors.core.handoffs import ASK_AVAILABILITY

    desk = DeskWithAgents(available=False)
    actions, sidecar = HandoffService(store, desk), HandoffService(store, desk)

    # Nobody asked yet: unknown, and the question is queued for the sidecar (once).
    assert await actions.agents_available("billing") is None
    assert await actions.agents_available("billing") is None
    assert desk.asked == []
    assert len(await store.items(ASK_AVAILABILITY + "desk")) == 1

    assert await sidecar.answer_availability(ASK_AVAILABILITY + "desk") is Drained.EMPTY
    assert desk.asked == ["billing"]
    assert await actions.agents_available("billing") is False
    assert desk.asked == ["billing"]  # the action itself never called the desk
    assert await actions.agents_available("sales") is None  # each routing its own answer


async def test_a_desk_that_keeps_its_agents_in_the_store_is_asked_directly(store):
    desk = DeskWithAgents(available=True)
    desk.answers_from_store = True
    assert await HandoffService(store, desk).agents_available(None) is True
    assert desk.asked == [None]


async def test_a_desk_that_cannot_tell_availability_is_never_asked(store):
    service = HandoffService(store, Desk())
    assert await service.agents_available("billing") is None
    assert await store.queues("availability:") == []


async def _connected(service: HandoffService, sender: str = "u1"):
    handoff = await service.open(sender, "a@b.co", "en", [], "help")
    await service.deliver_to_desk(TO_DESK + handoff.handoff_id)
    return await service.record(handoff.handoff_id)


async def test_desk_signals_reach_rasa_as_their_intents_and_the_handoff_stays_open(store):
    from handoff_connectors.core.contract import AgentTyping, MessagesRead, QueuePosition, Transferred
    from handoff_connectors.core.rasa_protocol import (
        ENTITY_AGENT, ENTITY_POSITION, ENTITY_QUEUE, ENTITY_STATE, ENTITY_WAIT,
        INTENT_AGENT_TYPING, INTENT_MESSAGES_READ, INTENT_QUEUE_POSITION, INTENT_TRANSFERRED,
    )

    service = HandoffService(store, Desk())
    handoff = await _connected(service)
    desk_id = handoff.desk_conversation_id
    for event in (
        QueuePosition("q1", desk_id, position=3, wait_seconds=240),
        Transferred("t1", desk_id, to_queue="Billing"),
        AgentTyping("k1", desk_id, agent_name="Marta"),
        MessagesRead("r1", desk_id, agent_name="Marta", message_id="m-7"),
    ):
        assert await service.accept(event) is True

    items = await store.items(TO_RASA + "u1")
    assert [(item["intent"], {k: v for k, v in item["entities"].items() if k != "handoff_event_id"}) for item in items] == [
        (INTENT_QUEUE_POSITION, {ENTITY_POSITION: 3, ENTITY_WAIT: 240}),
        (INTENT_TRANSFERRED, {ENTITY_QUEUE: "Billing"}),
        (INTENT_AGENT_TYPING, {ENTITY_AGENT: "Marta", ENTITY_STATE: "on"}),
        (INTENT_MESSAGES_READ, {ENTITY_AGENT: "Marta", ENTITY_STATE: "m-7"}),
    ]
    assert await service.active("u1") is not None


async def test_a_failed_routing_ends_the_handoff(store):
    from handoff_connectors.core.contract import RoutingFailed
    from handoff_connectors.core.rasa_protocol import INTENT_ROUTING_FAILED

    service = HandoffService(store, Desk())
    handoff = await _connected(service)
    assert await service.accept(RoutingFailed("missed-1", handoff.desk_conversation_id, reason="no agent took it"))

    [item] = await store.items(TO_RASA + "u1")
    assert item["intent"] == INTENT_ROUTING_FAILED
    assert await service.active("u1") is None
    assert await service.by_desk_conversation(handoff.desk_conversation_id) is None
    assert await store.items("live:desk") == []


async def test_an_event_for_no_live_handoff_is_not_ours(store):
    from handoff_connectors.core.contract import AgentMessage

    service = HandoffService(store, Desk())
    assert await service.accept(AgentMessage("m1", "nobody's", text="hi")) is False
    assert await store.queues(TO_RASA) == []


async def test_the_desk_gets_the_handoffs_attributes_and_the_users_files(store):
    from handoff_connectors.core.contract import Attachment

    class KeepingDesk(Desk):
        async def start(self, request: HandoffRequest) -> str:
            self.request = request
            return await super().start(request)

        async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
            self.message = message

    desk = KeepingDesk()
    service = HandoffService(store, desk)
    handoff = await service.open("u1", "a@b.co", "en", [], "help", attributes={"plan": "gold", "country": "ES"})
    await service.relay(handoff, "here it is", [Attachment("https://files.example/bill.pdf", "bill.pdf", "application/pdf")])
    await service.deliver_to_desk(TO_DESK + handoff.handoff_id)

    assert dict(desk.request.attributes) == {"plan": "gold", "country": "ES"}
    assert desk.message.attachments == (Attachment("https://files.example/bill.pdf", "bill.pdf", "application/pdf"),)
    assert desk.message.text_with_links() == "here it is\nhttps://files.example/bill.pdf"
