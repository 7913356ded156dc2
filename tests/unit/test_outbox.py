"""drain(): ordered, at-least-once delivery; Backoff: retry delays."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from handoff_connectors.core.outbox import (
    LEASE_SECONDS,
    Attempts,
    Backoff,
    Drained,
    MAX_ATTEMPTS,
    RetryLater,
    Undeliverable,
    dead_letter_queue,
    drain,
    new_owner,
)
from handoff_connectors.core.store import SqliteStore

QUEUE = "to_desk:h1"


@pytest.fixture
async def store(tmp_path: Path):
    opened = SqliteStore(str(tmp_path / "outbox.sqlite"))
    yield opened
    await opened.close()


async def fill(store: SqliteStore, *ids: str, queue: str = QUEUE) -> None:
    for item_id in ids:
        await store.push(queue, {"id": item_id, "text": f"text of {item_id}"})


async def remaining(store: SqliteStore, queue: str = QUEUE) -> list[str]:
    ids = []
    while (item := await store.peek(queue)) is not None:
        ids.append(item["id"])
        await store.pop(queue, item["id"])
    return ids


class Receiver:
    """Records what it was given; fails as told for given ids."""

    def __init__(self, failures: dict[str, Exception] | None = None) -> None:
        self.failures = dict(failures or {})
        self.attempts: list[str] = []
        self.delivered: list[str] = []

    async def __call__(self, item: dict) -> None:
        self.attempts.append(item["id"])
        failure = self.failures.get(item["id"])
        if failure is not None:
            raise failure
        self.delivered.append(item["id"])


async def test_drain_delivers_everything_in_order(store: SqliteStore) -> None:
    await fill(store, "a", "b", "c", "d")
    receiver = Receiver()

    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.EMPTY

    assert receiver.delivered == ["a", "b", "c", "d"]
    assert await store.peek(QUEUE) is None
    assert await store.queues("to_desk:") == []


async def test_drain_passes_the_whole_item(store: SqliteStore) -> None:
    await store.push(QUEUE, {"id": "x", "op": "send", "message": {"text": "hola"}})
    seen = []

    async def deliver(item: dict) -> None:
        seen.append(item)

    await drain(store, QUEUE, deliver, new_owner())
    assert seen == [{"id": "x", "op": "send", "message": {"text": "hola"}}]


async def test_empty_queue_is_drained_at_once(store: SqliteStore) -> None:
    receiver = Receiver()
    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.EMPTY
    assert receiver.attempts == []


async def test_retry_later_keeps_the_item_at_the_head(store: SqliteStore) -> None:
    await fill(store, "a", "b", "c")
    receiver = Receiver({"b": RetryLater("desk down")})

    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.WAITING

    # Nothing behind "b" overtook it.
    assert receiver.attempts == ["a", "b"]
    assert receiver.delivered == ["a"]
    assert (await store.peek(QUEUE))["id"] == "b"
    assert await store.queues("to_desk:") == [QUEUE]

    # Once the receiver is back, the rest follows in order.
    receiver.failures.clear()
    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.EMPTY
    assert receiver.delivered == ["a", "b", "c"]


async def test_items_pushed_while_waiting_stay_behind(store: SqliteStore) -> None:
    await fill(store, "a")
    receiver = Receiver({"a": RetryLater("not yet")})
    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.WAITING

    await fill(store, "b")
    receiver.failures.clear()
    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.EMPTY
    assert receiver.delivered == ["a", "b"]


async def test_undeliverable_item_is_parked_and_the_rest_continues(store: SqliteStore) -> None:
    await fill(store, "a", "b", "c")
    receiver = Receiver({"b": Undeliverable("desk refused it")})

    assert await drain(store, QUEUE, receiver, new_owner()) is Drained.EMPTY

    assert receiver.delivered == ["a", "c"]
    assert await store.peek(QUEUE) is None
    parked = await store.peek(dead_letter_queue(QUEUE))
    assert {key: parked[key] for key in ("id", "text")} == {"id": "b", "text": "text of b"}
    assert parked["parked"]["reason"] == "desk refused it"
    assert await remaining(store, dead_letter_queue(QUEUE)) == ["b"]


def test_dead_letter_queue_name() -> None:
    assert dead_letter_queue("to_desk:h1") == "dead:to_desk:h1"
    # Not picked up by whoever polls the live queues.
    assert not dead_letter_queue("to_desk:h1").startswith("to_desk:")


async def test_drain_gives_way_to_the_lease_holder(store: SqliteStore) -> None:
    await fill(store, "a")
    assert await store.acquire(f"lease:{QUEUE}", "other-process", LEASE_SECONDS) is True
    receiver = Receiver()

    assert await drain(store, QUEUE, receiver, "me") is Drained.BUSY

    assert receiver.attempts == []
    assert await remaining(store) == ["a"]
    # drain did not take away or release the other owner's lease.
    assert await store.acquire(f"lease:{QUEUE}", "me", LEASE_SECONDS) is False


async def test_the_lease_is_released_after_draining(store: SqliteStore) -> None:
    await fill(store, "a")
    await drain(store, QUEUE, Receiver(), "me")
    assert await store.acquire(f"lease:{QUEUE}", "someone-else", LEASE_SECONDS) is True


async def test_the_lease_is_released_after_retry_later(store: SqliteStore) -> None:
    await fill(store, "a")
    await drain(store, QUEUE, Receiver({"a": RetryLater("down")}), "me")
    # Another process can take over the queue at once.
    receiver = Receiver()
    assert await drain(store, QUEUE, receiver, "someone-else") is Drained.EMPTY
    assert receiver.delivered == ["a"]


async def test_an_unexpected_error_keeps_the_item_and_frees_the_lease(store: SqliteStore) -> None:
    await fill(store, "a", "b")

    outcome = await drain(store, QUEUE, Receiver({"a": KeyError("bug")}), "me", Attempts())

    assert outcome is Drained.WAITING
    assert (await store.peek(QUEUE))["id"] == "a"
    assert await store.acquire(f"lease:{QUEUE}", "someone-else", LEASE_SECONDS) is True


async def test_an_item_that_keeps_failing_is_parked_and_the_rest_go_on(store: SqliteStore) -> None:
    await fill(store, "poison", "b", "c")
    receiver = Receiver({"poison": ValueError("cannot encode")})
    attempts = Attempts()

    outcomes = [await drain(store, QUEUE, receiver, "me", attempts) for _ in range(MAX_ATTEMPTS)]

    assert outcomes == [Drained.WAITING] * (MAX_ATTEMPTS - 1) + [Drained.EMPTY]
    assert receiver.delivered == ["b", "c"]
    parked = await store.peek(dead_letter_queue(QUEUE))
    assert parked["id"] == "poison"
    assert "ValueError: cannot encode" in parked["parked"]["reason"]
    assert parked["parked"]["queue"] == QUEUE


async def test_a_dead_holders_lease_lapses_within_the_lease_time(store: SqliteStore) -> None:
    await fill(store, "a")
    assert await store.acquire(f"lease:{QUEUE}", "killed-process", 0.2) is True
    assert await drain(store, QUEUE, Receiver(), "me") is Drained.BUSY
    time.sleep(0.25)
    assert await drain(store, QUEUE, Receiver(), "me") is Drained.EMPTY


async def test_a_slow_delivery_keeps_its_lease_alive(store: SqliteStore, monkeypatch) -> None:
    from handoff_connectors.core import outbox

    monkeypatch.setattr(outbox, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(outbox, "RENEW_SECONDS", 0.1)
    await fill(store, "slow")
    seen_by_other: list[bool] = []

    async def slow(item: dict) -> None:
        await asyncio.sleep(0.6)  # twice the lease: only the heartbeat keeps it
        seen_by_other.append(await store.acquire(f"lease:{QUEUE}", "other", 0.3))

    assert await drain(store, QUEUE, slow, "me") is Drained.EMPTY
    assert seen_by_other == [False]


async def test_follow_up_changes_are_written_with_the_removal(store: SqliteStore) -> None:
    from handoff_connectors.core.store import Put

    await fill(store, "a")

    async def deliver(item: dict):
        return [Put("delivered:a", {"ok": True})]

    assert await drain(store, QUEUE, deliver, "me") is Drained.EMPTY
    assert await store.get("delivered:a") == {"ok": True}
    assert await store.peek(QUEUE) is None


async def test_queues_are_drained_independently(store: SqliteStore) -> None:
    await fill(store, "a1", "a2", queue="to_desk:h1")
    await fill(store, "b1", queue="to_desk:h2")
    receiver = Receiver({"a1": RetryLater("down")})

    assert await drain(store, "to_desk:h1", receiver, "me") is Drained.WAITING
    assert await drain(store, "to_desk:h2", receiver, "me") is Drained.EMPTY
    assert receiver.delivered == ["b1"]


def test_new_owner_is_unique() -> None:
    assert len({new_owner() for _ in range(50)}) == 50


# -- Backoff -----------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_up_to_the_cap() -> None:
    backoff = Backoff(cap=5.0)
    delays = [backoff.failed("q") for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.failures("q") == 6


def test_backoff_makes_the_queue_wait_for_its_delay() -> None:
    backoff = Backoff(cap=30.0)
    assert backoff.is_due("q") is True

    before = time.monotonic()
    delay = backoff.failed("q")
    assert backoff.is_due("q", now=before) is False
    assert backoff.is_due("q", now=before + delay + 0.5) is True


def test_backoff_success_resets_the_queue() -> None:
    backoff = Backoff(cap=30.0)
    backoff.failed("q")
    backoff.failed("q")
    backoff.succeeded("q")
    assert backoff.failures("q") == 0
    assert backoff.is_due("q") is True
    assert backoff.failed("q") == 0.5


def test_backoff_is_kept_per_queue() -> None:
    backoff = Backoff(cap=30.0)
    backoff.failed("a")
    backoff.failed("a")
    assert backoff.failures("b") == 0
    assert backoff.is_due("b") is True
    assert backoff.failed("b") == 0.5
    assert backoff.failures("a") == 2


def test_backoff_cap_below_the_first_delay() -> None:
    backoff = Backoff(cap=0.2)
    assert backoff.failed("q") == 0.2


async def test_a_refusing_rasa_is_retried_with_a_hint_of_what_to_fix():
    from handoff_connectors.core.rasa import RasaClient
    from tests.support.http_recorder import RecordingServer

    with RecordingServer(lambda request: (404, {"message": "intent not in domain"})) as rasa:
        client = RasaClient(rasa.url, "tok", "latest", 5)
        try:
            with pytest.raises(RetryLater) as waiting:
                await client.trigger_intent("u1", "EXTERNAL_handoff_agent_message", {}, "e1")
        finally:
            await client.aclose()
    assert "404" in str(waiting.value) and "domain.yml merged" in str(waiting.value)
    assert "tok" not in str(waiting.value)
