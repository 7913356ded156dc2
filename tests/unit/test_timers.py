"""Timers with a controllable clock: arm, disarm, due, claim once, survive a new process."""

from __future__ import annotations

import asyncio

import pytest

from handoff_connectors.core.contract import CloseReason, Connector, HandoffRequest, ServiceStatus, UserMessage
from handoff_connectors.core.handoffs import TO_RASA, HandoffService
from handoff_connectors.core.rasa_protocol import INTENT_TIMEOUT
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.core.timers import SESSION, WAITING, Timers


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class RecordingDesk(Connector):
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def start(self, request: HandoffRequest) -> str:
        self.calls.append(("start", request.handoff_id))
        return request.handoff_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        self.calls.append(("send", message.text))

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        self.calls.append(("close", reason))

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path):
    opened = SqliteStore(str(tmp_path / "store.sqlite"))
    yield opened
    await opened.close()


async def test_a_timer_is_due_only_after_its_delay(store, clock):
    timers = Timers(store, clock)
    await timers.arm("h1", "u1", WAITING, 60)
    clock.now += 59.9
    assert await timers.due() == []
    clock.now += 0.2
    assert [t["kind"] for t in await timers.due()] == [WAITING]


async def test_claiming_fires_a_timer_once_even_from_two_processes(store, clock, tmp_path):
    timers = Timers(store, clock)
    other = Timers(SqliteStore(str(tmp_path / "store.sqlite")), clock)  # another sidecar
    await timers.arm("h1", "u1", WAITING, 1)
    clock.now += 2
    [due] = await timers.due()
    [same] = await other.due()
    results = await asyncio.gather(timers.claim(due), other.claim(same))
    assert sorted(results) == [False, True]
    assert await timers.due() == []


async def test_disarmed_and_rearmed_timers_are_not_fired_with_their_old_time(store, clock):
    timers = Timers(store, clock)
    old = await timers.arm("h1", "u1", WAITING, 10)
    await timers.disarm("h1", WAITING)
    clock.now += 20
    assert await timers.due() == []
    await timers.arm("h1", "u1", WAITING, 10)  # re-armed: counts from now
    assert await timers.due() == []
    assert not await timers.claim(old)
    clock.now += 10
    assert len(await timers.due()) == 1


async def test_timers_outlive_the_process_that_armed_them(tmp_path, clock):
    first = SqliteStore(str(tmp_path / "s.sqlite"))
    await Timers(first, clock).arm("h1", "u1", SESSION, 180)
    await first.close()
    clock.now += 500  # due while nothing ran
    second = SqliteStore(str(tmp_path / "s.sqlite"))
    due = await Timers(second, clock).due()
    assert [(t["handoff_id"], t["kind"]) for t in due] == [("h1", SESSION)]
    await second.close()


async def service(store, clock) -> tuple[HandoffService, RecordingDesk]:
    desk = RecordingDesk()
    return HandoffService(store, desk, waiting_timeout=60, session_timeout=180, clock=clock), desk


async def test_waiting_timer_pushes_one_timeout_event_to_rasa(store, clock):
    handoffs, _ = await service(store, clock)
    handoff = await handoffs.open("u1", "a@b.co", "en", [], "help")
    assert await handoffs.fire_due_timers() == 0
    clock.now += 61
    assert await handoffs.fire_due_timers() == 1
    assert await handoffs.fire_due_timers() == 0
    item = await store.peek(TO_RASA + "u1")
    assert item["intent"] == INTENT_TIMEOUT and item["entities"]["handoff_timer"] == WAITING
    assert (await handoffs.active("u1")).handoff_id == handoff.handoff_id  # waiting does not end it


async def agent_spoke(handoffs: HandoffService, handoff) -> None:
    """What delivering an agent message to Rasa writes with the item's removal."""
    await handoffs.store.write(*handoffs.inbox._agent_spoke(handoff.sender_id, handoff.handoff_id))


async def test_session_timer_ends_the_handoff_and_tells_the_desk(store, clock):
    handoffs, desk = await service(store, clock)
    handoff = await handoffs.open("u1", "a@b.co", "en", [], "help")
    await agent_spoke(handoffs, handoff)
    assert await handoffs.timers.pending(handoff.handoff_id, WAITING) is None
    clock.now += 179
    assert await handoffs.fire_due_timers() == 0
    clock.now += 2
    assert await handoffs.fire_due_timers() == 1
    assert await handoffs.active("u1") is None
    await handoffs.deliver_to_desk(f"to_desk:{handoff.handoff_id}")
    assert desk.calls[-1] == ("close", CloseReason.TIMEOUT)
    assert (await store.peek(TO_RASA + "u1"))["entities"]["handoff_timer"] == SESSION


async def test_a_user_message_stops_the_session_clock(store, clock):
    handoffs, desk = await service(store, clock)
    handoff = await handoffs.open("u1", "a@b.co", "en", [], "help")
    await agent_spoke(handoffs, handoff)
    clock.now += 100
    await handoffs.relay(handoff, "thinking")
    clock.now += 1000
    assert await handoffs.fire_due_timers() == 0
    await handoffs.deliver_to_desk(f"to_desk:{handoff.handoff_id}")
    assert ("send", "thinking") in desk.calls


async def test_finishing_disarms_every_timer(store, clock):
    handoffs, _ = await service(store, clock)
    handoff = await handoffs.open("u1", "a@b.co", "en", [], "help")
    await handoffs.finish(handoff, CloseReason.USER_CLOSED)
    clock.now += 10_000
    assert await handoffs.fire_due_timers() == 0
    assert await store.peek(TO_RASA + "u1") is None


async def test_a_snooze_delivered_to_rasa_stops_both_timers(store, clock):
    from handoff_connectors.core.contract import AgentSnoozed

    class AckingRasa:
        async def trigger_intent(self, sender_id, intent, entities, event_id):
            return None

    handoffs, _ = await service(store, clock)
    handoffs.rasa = AckingRasa()
    handoff = await handoffs.open("u1", "a@b.co", "en", [], "help")
    await agent_spoke(handoffs, handoff)
    await handoffs.accept(AgentSnoozed(event_id="s1", desk_conversation_id=handoff.handoff_id))
    assert await handoffs.deliver_to_rasa(TO_RASA + "u1")
    clock.now += 10_000
    assert await handoffs.fire_due_timers() == 0
    assert (await handoffs.active("u1")).handoff_id == handoff.handoff_id
