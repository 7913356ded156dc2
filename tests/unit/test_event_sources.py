"""Desks read from streams or polls: each source runs in one sidecar, resumes from its cursor,
and every event reaches its handoff once, through a dropped stream and a restart.

Runs on sqlite and on Redis; two runners on one store are two sidecars.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Optional

from handoff_connectors.core.contract import (
    AgentMessage,
    CloseReason,
    Connector,
    EventSource,
    HandoffRequest,
    HasEventSources,
    ServiceStatus,
    SourceBatch,
    UserMessage,
)
from handoff_connectors.core.handoffs import TO_DESK, TO_RASA, HandoffService
from handoff_connectors.core.sources import SourceRunner


class Stream:
    """One desk conversation's event stream: numbered entries, readable from an id on (SSE-like)."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self.readers: list[Optional[str]] = []  # the cursor each connection started from
        self.drop_after: Optional[int] = None  # entries served per connection before the drop

    def add(self, text: str) -> None:
        self.entries.append(text)


class StreamSource(EventSource):
    def __init__(self, stream: Stream, conversation: str) -> None:
        self.key = f"conversation:{conversation}"
        self.stream = stream
        self.conversation = conversation

    async def read(self, cursor: Optional[str]) -> AsyncIterator[SourceBatch]:
        self.stream.readers.append(cursor)
        position = int(cursor) if cursor else 0
        served = 0
        while True:
            if position < len(self.stream.entries):
                if self.stream.drop_after is not None and served >= self.stream.drop_after:
                    raise ConnectionError("the stream dropped")
                text = self.stream.entries[position]
                position += 1
                served += 1
                event = AgentMessage(event_id=f"entry-{position}", desk_conversation_id=self.conversation, text=text)
                yield SourceBatch([event], cursor=str(position))
            else:
                await asyncio.sleep(0.01)


class StreamingDesk(Connector, HasEventSources):
    name = "streaming"

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}

    async def start(self, request: HandoffRequest) -> str:
        conversation = f"conv-{request.handoff_id[:8]}"
        self.streams[conversation] = Stream()
        return conversation

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        return None

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        return None

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE

    def conversation_source(self, desk_conversation_id: str) -> Optional[EventSource]:
        stream = self.streams.get(desk_conversation_id)
        return StreamSource(stream, desk_conversation_id) if stream else None


async def _connected(service: HandoffService, sender: str) -> str:
    handoff = await service.open(sender, "a@b.co", "en", [], "help")
    await service.deliver_to_desk(TO_DESK + handoff.handoff_id)
    record = await service.record(handoff.handoff_id)
    return record.desk_conversation_id


async def _texts(store, sender: str) -> list[str]:
    return [item["entities"]["handoff_text"] for item in await store.items(TO_RASA + sender)]


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _runner(store, desk: StreamingDesk, service: HandoffService) -> SourceRunner:
    return SourceRunner(store, desk, service.records, service.accept, look_interval=0.05, max_retry_delay=0.1)


async def test_a_live_handoffs_stream_is_read_and_each_entry_queued_once_in_order(store_factory) -> None:
    desk = StreamingDesk()
    store = store_factory()
    service = HandoffService(store, desk)
    conversation = await _connected(service, "u1")
    desk.streams[conversation].drop_after = 2  # every connection drops after two entries
    for text in ("one", "two", "three", "four", "five"):
        desk.streams[conversation].add(text)

    runner = _runner(store, desk, service)
    runner.start()
    try:
        await _until(lambda: _has(store, "u1", 5))
    finally:
        await runner.stop()

    assert await _texts(store, "u1") == ["one", "two", "three", "four", "five"]
    # Each reconnection resumed from the cursor of the last entry queued.
    assert desk.streams[conversation].readers[:3] == [None, "2", "4"]


async def _has(store, sender: str, count: int) -> bool:
    return len(await store.items(TO_RASA + sender)) >= count


async def test_two_sidecars_run_one_copy_of_each_source(store_factory) -> None:
    desk = StreamingDesk()
    first_store, second_store = store_factory(), store_factory()
    first, second = HandoffService(first_store, desk), HandoffService(second_store, desk)
    conversation = await _connected(first, "u1")
    stream = desk.streams[conversation]
    runners = [_runner(first_store, desk, first), _runner(second_store, desk, second)]
    for runner in runners:
        runner.start()
    try:
        stream.add("hello")
        await _until(lambda: _has(first_store, "u1", 1))
        await asyncio.sleep(0.3)  # time for a second reader, were there one
    finally:
        for runner in runners:
            await runner.stop()

    assert stream.readers == [None]
    assert await _texts(first_store, "u1") == ["hello"]


async def test_a_restarted_sidecar_resumes_from_the_stored_cursor(store_factory) -> None:
    desk = StreamingDesk()
    store = store_factory()
    service = HandoffService(store, desk)
    conversation = await _connected(service, "u1")
    stream = desk.streams[conversation]
    stream.add("before the restart")
    runner = _runner(store, desk, service)
    runner.start()
    await _until(lambda: _has(store, "u1", 1))
    await runner.stop()

    stream.add("after the restart")
    restarted = _runner(store_factory(), desk, HandoffService(store, desk))
    restarted.start()
    try:
        await _until(lambda: _has(store, "u1", 2))
    finally:
        await restarted.stop()

    assert await _texts(store, "u1") == ["before the restart", "after the restart"]
    assert stream.readers[-1] == "1"


async def test_the_source_of_an_ended_handoff_stops(store_factory) -> None:
    desk = StreamingDesk()
    store = store_factory()
    service = HandoffService(store, desk)
    conversation = await _connected(service, "u1")
    runner = _runner(store, desk, service)
    runner.start()
    try:
        await _until(lambda: _running(runner, 1))
        handoff = await service.active("u1")
        await service.finish(handoff, CloseReason.USER_CLOSED)
        await service.deliver_to_desk(TO_DESK + handoff.handoff_id)
        await _until(lambda: _running(runner, 0))
    finally:
        await runner.stop()
    assert conversation in desk.streams


async def _running(runner: SourceRunner, count: int) -> bool:
    return len(runner._running) == count
