"""What Salesforce says arrives only on the end user's event stream: read once, in order, through drops,
token renewals and a restarted sidecar.

The fixtures are stream text (`fixtures/*.sse`, each with its `.events.json`):
one test each reads it through the SSE parser and the entry reader. The
other tests run the sidecar's own source runner on a real store against the
fake Messaging API, which cuts the stream when told to.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from handoff_connectors.core.contract import CloseReason, Speaker, Turn
from handoff_connectors.core.handoffs import TO_DESK, TO_RASA, HandoffService
from handoff_connectors.core.rasa_protocol import ENTITY_AGENT, ENTITY_TEXT, INTENT_AGENT_MESSAGE
from handoff_connectors.core.sources import SourceRunner, cursor_key
from handoff_connectors.salesforce import SalesforceConnector
from handoff_connectors.salesforce.sse import events_of, parse_stream
from handoff_connectors.testing import assert_events, fixture_cases

from .conftest import FIXTURE_CONVERSATION, FIXTURES, settings
from .fake_miaw import FakeMessaging


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, pattern="*.sse"))
def test_each_stream_fixture_reads_as_expected(case):
    [event] = parse_stream(case.body.decode())
    assert case.expected is not None, f"write {case.name}.events.json"
    assert_events(events_of(event, FIXTURE_CONVERSATION), case.expected, case.name)


# -- the sidecar's runner against the fake --------------------------------------------------------


class Running:
    """A handoff started in the fake, with the sidecar's source runner reading its stream."""

    def __init__(self, fake: FakeMessaging, store, **fields: Any) -> None:
        self.fake = fake
        self.store = store
        self.connector = SalesforceConnector(settings(fake.url, **fields), store)
        self.service = HandoffService(store, self.connector)
        self.runner: SourceRunner | None = None

    async def open(self, sender: str = "u1") -> str:
        transcript = (Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi! How can I help?"))
        handoff = await self.service.open(sender, "ana@example.com", "en", transcript, "I want to talk to a human")
        await self.service.deliver_to_desk(TO_DESK + handoff.handoff_id)
        self.handoff = await self.service.record(handoff.handoff_id)
        return self.handoff.desk_conversation_id

    def start(self) -> None:
        self.runner = SourceRunner(self.store, self.connector, self.service.records, self.service.accept,
                                   look_interval=0.05, max_retry_delay=0.2)
        self.runner.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None

    async def items(self, sender: str = "u1") -> list[dict]:
        return await self.store.items(TO_RASA + sender)

    async def texts(self, sender: str = "u1") -> list[str]:
        return [i["entities"][ENTITY_TEXT] for i in await self.items(sender) if i["intent"] == INTENT_AGENT_MESSAGE]

    async def until(self, condition, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            assert asyncio.get_running_loop().time() < deadline, f"timed out; queued: {await self.items()}"
            await asyncio.sleep(0.02)


@pytest.fixture
async def running(fake: FakeMessaging, store) -> AsyncIterator[Running]:
    made = Running(fake, store)
    yield made
    await made.stop()
    await made.service.aclose()
    await made.connector.aclose()


async def test_agent_replies_arrive_once_and_in_order_though_the_stream_drops_mid_burst(running: Running, fake: FakeMessaging):
    conversation = await running.open()
    fake.agent_joins(conversation, "Marta Ruiz")
    running.start()
    await running.until(lambda: _count(running, 1))
    fake.drop_after = 2  # every connection from now on is cut after two events
    fake.drop_streams()
    for text in ("one", "two", "three", "four", "five"):
        fake.agent_says(conversation, "Marta Ruiz", text)
    await running.until(lambda: _texts_are(running, ["one", "two", "three", "four", "five"]))
    await asyncio.sleep(0.2)  # were anything read twice, it would be queued by now

    items = await running.items()
    assert [i["intent"] for i in items] == ["EXTERNAL_handoff_agent_joined"] + [INTENT_AGENT_MESSAGE] * 5
    assert items[0]["entities"][ENTITY_AGENT] == "Marta Ruiz"
    assert await running.texts() == ["one", "two", "three", "four", "five"]
    # Each reconnection resumed after the last event read, never from the start.
    resumed = [s.last_event_id for s in fake.streams]
    assert len(resumed) >= 4 and len(set(resumed)) == len(resumed), resumed


async def test_what_was_said_before_the_stream_opened_is_not_missed(running: Running, fake: FakeMessaging):
    conversation = await running.open()
    # Salesforce routes and the agent answers before the sidecar's runner gets to the stream.
    fake.routing_result(conversation)
    fake.agent_joins(conversation, "Marta Ruiz")
    fake.agent_says(conversation, "Marta Ruiz", "Hi Ana, Marta here.")
    running.start()
    await running.until(lambda: _count(running, 2))
    assert await running.texts() == ["Hi Ana, Marta here."]
    # The end user's own messages (the transcript, the question) came back on the stream and were left out.
    assert fake.streams[0].last_event_id == "0"


async def test_a_restarted_sidecar_resumes_from_the_last_event_it_queued(running: Running, fake: FakeMessaging, store):
    conversation = await running.open()
    running.start()
    fake.agent_says(conversation, "Marta Ruiz", "before the restart")
    await running.until(lambda: _count(running, 1))
    await running.stop()
    saved = (await store.get(cursor_key("salesforce", f"conversation:{conversation}")))["cursor"]

    fake.agent_says(conversation, "Marta Ruiz", "while the sidecar was down")
    restarted = Running(fake, store)  # a new process: a new connector and service on the same store
    restarted.start()
    try:
        fake.agent_says(conversation, "Marta Ruiz", "after the restart")
        await running.until(lambda: _count(running, 3))
    finally:
        await restarted.stop()
        await restarted.connector.aclose()
    assert await running.texts() == ["before the restart", "while the sidecar was down", "after the restart"]
    assert fake.streams[-1].last_event_id == saved


async def test_a_token_expiring_mid_handoff_is_renewed_without_losing_or_repeating_a_message(fake: FakeMessaging, store):
    fake.token_lifetime = 1.2
    running = Running(fake, store, token_refresh_margin=0.6)
    try:
        conversation = await running.open()
        running.start()
        sent = []
        for n in range(6):  # across about three token lifetimes
            sent.append(f"reply {n}")
            fake.agent_says(conversation, "Marta Ruiz", sent[-1])
            await running.service.relay(running.handoff, f"user {n}")
            await running.service.deliver_to_desk(TO_DESK + running.handoff.handoff_id)
            await asyncio.sleep(0.4)
        await running.until(lambda: _count(running, 6))
        await asyncio.sleep(0.2)
    finally:
        await running.stop()
        await running.connector.aclose()
    assert await running.texts() == sent
    assert fake.texts(conversation)[2:] == [f"user {n}" for n in range(6)]
    renewals = [r for r in fake.requests if r.path.endswith("/continuation-access-token")]
    assert len(renewals) >= 3
    # Every stream was opened with a live token and resumed where the last one stopped.
    assert len({s.token for s in fake.streams}) >= 3
    # (the fake's violations, checked by its fixture, would list any use of an expired token)


async def test_an_agent_closing_ends_the_handoff_and_its_stream(running: Running, fake: FakeMessaging):
    conversation = await running.open()
    running.start()
    fake.agent_says(conversation, "Marta Ruiz", "Anything else?")
    fake.agent_closes(conversation)
    await running.until(lambda: _count(running, 2))
    assert [i["intent"] for i in await running.items()] == [INTENT_AGENT_MESSAGE, "EXTERNAL_handoff_closed"]
    await running.until(lambda: _no_open_stream(fake))
    assert await running.service.active("u1") is None


async def test_a_failed_routing_ends_the_handoff(running: Running, fake: FakeMessaging):
    conversation = await running.open()
    running.start()
    fake.routing_result(conversation, failure="RoutingError")
    await running.until(lambda: _count(running, 1))
    [item] = await running.items()
    assert item["intent"] == "EXTERNAL_handoff_routing_failed"
    assert await running.service.active("u1") is None


async def test_the_user_ending_the_chat_closes_the_salesforce_conversation(running: Running, fake: FakeMessaging):
    conversation = await running.open()
    running.start()
    await running.service.finish(running.handoff, CloseReason.USER_CLOSED)
    await running.service.deliver_to_desk(TO_DESK + running.handoff.handoff_id)
    assert fake.conversations[conversation].closed_by == "end user"
    # The close Salesforce sends back on the stream reaches nobody: the handoff ended already.
    await running.until(lambda: _no_open_stream(fake))
    assert await running.items() == []


async def _count(running: Running, count: int) -> bool:
    return len(await running.items()) >= count


async def _texts_are(running: Running, texts: list[str]) -> bool:
    return len(await running.texts()) >= len(texts)


async def _no_open_stream(fake: FakeMessaging) -> bool:
    return not fake.open_streams()
