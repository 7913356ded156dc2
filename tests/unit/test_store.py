"""The Store contract on sqlite and on Redis: keys, queues, once-only pushes, atomic writes,
timers, leases, wake-ups, and several instances (processes) sharing one set of data.

Every test taking `store_factory` (or `store`/`other`) runs once per backend;
a second `store_factory()` call opens another instance on the same data.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import shutil
import time
from pathlib import Path
from typing import Optional

import pytest
import redis

from handoff_connectors.core.config import StoreSettings
from handoff_connectors.core.store import (
    ArmTimer,
    Delete,
    DisarmTimer,
    Drop,
    Pop,
    Push,
    Put,
    SqliteStore,
    Store,
    locked,
    open_store,
)
from handoff_connectors.core.store.redis import RedisStore
from tests.support.redis_server import RedisServer, StoreFactory, forget_prefix, free_port, unique_prefix

HALF_EMOJI = "Thanks! \ud83d"  # a desk cut an emoji in half: a lone surrogate


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()


@pytest.fixture
def other(store_factory: StoreFactory) -> Store:
    """A second instance on the same data, as another process would open it."""
    return store_factory()


async def drain_ids(store: Store, queue: str) -> list[str]:
    ids = []
    while (item := await store.peek(queue)) is not None:
        ids.append(item["id"])
        await store.pop(queue, item["id"])
    return ids


def timer(timer_id: str, due: float, **extra: str) -> dict:
    return {"id": timer_id, "due": due, **extra}


# -- plain keys ----------------------------------------------------------------


async def test_get_put_delete(store: Store) -> None:
    assert await store.get("handoff:1") is None

    await store.put("handoff:1", {"sender_id": "u1", "email": "ana@example.com"})
    assert await store.get("handoff:1") == {"sender_id": "u1", "email": "ana@example.com"}

    await store.put("handoff:1", {"sender_id": "u1", "email": "new@example.com"})
    assert (await store.get("handoff:1"))["email"] == "new@example.com"

    await store.delete("handoff:1")
    assert await store.get("handoff:1") is None
    # Deleting what is not there is fine.
    await store.delete("handoff:1")


async def test_keys_queues_and_timers_do_not_collide(store: Store) -> None:
    await store.put("q1", {"plain": True})
    await store.push("q1", {"id": "a"})
    await store.write(ArmTimer("q1", timer("t", 5.0)))
    assert await store.get("q1") == {"plain": True}
    assert await store.peek("q1") == {"id": "a"}
    assert await store.timer("q1") == timer("t", 5.0)


async def test_the_parent_directory_is_created(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "store.sqlite"
    opened = SqliteStore(str(nested))
    await opened.put("k", {"v": 1})
    await opened.close()
    assert nested.exists()


async def test_values_survive_reopening(store_factory: StoreFactory) -> None:
    first = store_factory()
    await first.put("k", {"v": [1, 2, "three"]})
    await first.push("q", {"id": "a"})
    await first.write(ArmTimer("t", timer("t1", 5.0)))
    await first.close()

    second = store_factory()
    assert await second.get("k") == {"v": [1, 2, "three"]}
    assert await second.peek("q") == {"id": "a"}
    assert await second.timer("t") == timer("t1", 5.0)


async def test_open_store_builds_sqlite_from_settings(tmp_path: Path) -> None:
    opened = open_store(StoreSettings(path=str(tmp_path / "s.sqlite")))
    try:
        assert isinstance(opened, SqliteStore)
        await opened.put("k", {"v": 1})
        assert await opened.get("k") == {"v": 1}
    finally:
        await opened.close()


async def test_open_store_builds_redis_from_settings_under_the_key_prefix(redis_store_url: str) -> None:
    prefix = unique_prefix()
    opened = open_store(StoreSettings(type="redis", url=redis_store_url, key_prefix=prefix))
    try:
        assert isinstance(opened, RedisStore)
        await opened.ping()
        await opened.put("k", {"v": 1})
        assert await opened.get("k") == {"v": 1}
        client = redis.Redis.from_url(redis_store_url)
        try:
            assert all(name.startswith(prefix.encode()) for name in client.scan_iter(match=f"{prefix}*"))
            assert client.exists(f"{prefix}k:k") == 1
        finally:
            client.close()
    finally:
        await opened.close()
        forget_prefix(redis_store_url, prefix)


async def test_ping_answers_on_a_working_store(store: Store) -> None:
    await store.ping()


# -- queues ----------------------------------------------------------------------


async def test_queue_is_first_in_first_out(store: Store) -> None:
    for n in range(5):
        assert await store.push("to_desk:h1", {"id": f"m{n}", "text": f"message {n}"}) is True
    assert await drain_ids(store, "to_desk:h1") == ["m0", "m1", "m2", "m3", "m4"]
    assert await store.peek("to_desk:h1") is None


async def test_peek_leaves_the_item_in_place(store: Store) -> None:
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})
    assert await store.peek("q") == {"id": "a"}
    assert await store.peek("q") == {"id": "a"}


async def test_peek_of_an_unknown_queue_is_none(store: Store) -> None:
    assert await store.peek("never-used") is None


async def test_once_key_refuses_a_duplicate_without_appending(store: Store) -> None:
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1") is True
    assert await store.push("to_rasa:u1", {"id": "e1-again"}, once="webhook:e1") is False
    assert await store.push("to_rasa:u1", {"id": "e2"}, once="webhook:e2") is True

    assert await drain_ids(store, "to_rasa:u1") == ["e1", "e2"]


async def test_once_key_is_remembered_after_the_item_was_delivered(store: Store) -> None:
    # A desk retrying a webhook after we delivered it must not deliver it twice.
    await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1")
    await store.pop("to_rasa:u1", "e1")
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1") is False
    assert await store.peek("to_rasa:u1") is None


async def test_pushes_without_once_key_are_never_deduplicated(store: Store) -> None:
    assert await store.push("q", {"id": "same"}) is True
    assert await store.push("q", {"id": "same"}) is True
    assert await drain_ids(store, "q") == ["same", "same"]


async def test_pop_removes_the_head_only_when_the_id_matches(store: Store) -> None:
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})

    assert await store.pop("q", "b") is False  # not the head: nothing happens
    assert await store.peek("q") == {"id": "a"}

    assert await store.pop("q", "zzz") is False  # unknown id: nothing happens
    assert await store.peek("q") == {"id": "a"}

    assert await store.pop("q", "a") is True
    assert await store.peek("q") == {"id": "b"}


async def test_an_item_without_an_id_is_never_popped_by_id(store: Store) -> None:
    await store.push("q", {"text": "no id"})
    assert await store.pop("q", "None") is False
    assert await store.pop("q", "null") is False
    assert await store.peek("q") == {"text": "no id"}


async def test_popping_twice_with_the_same_id_removes_one_item(store: Store) -> None:
    # Two deliverers finishing the same head must not drop the item behind it.
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})
    assert await store.pop("q", "a") is True
    assert await store.pop("q", "a") is False
    assert await store.peek("q") == {"id": "b"}


async def test_pop_on_an_empty_queue_is_harmless(store: Store) -> None:
    assert await store.pop("empty", "a") is False
    assert await store.peek("empty") is None
    assert await store.queues("") == []


async def test_queues_lists_only_non_empty_queues_with_the_prefix(store: Store) -> None:
    await store.push("to_desk:h1", {"id": "1"})
    await store.push("to_desk:h2", {"id": "2"})
    await store.push("to_rasa:u1", {"id": "3"})
    await store.put("to_desk:not-a-queue", {"plain": "key"})

    assert sorted(await store.queues("to_desk:")) == ["to_desk:h1", "to_desk:h2"]
    assert await store.queues("to_rasa:") == ["to_rasa:u1"]
    assert await store.queues("dead:") == []
    assert sorted(await store.queues("")) == ["to_desk:h1", "to_desk:h2", "to_rasa:u1"]

    await store.pop("to_desk:h1", "1")
    assert await store.queues("to_desk:") == ["to_desk:h2"]

    # A queue that fills again is listed again.
    await store.push("to_desk:h1", {"id": "4"})
    assert sorted(await store.queues("to_desk:")) == ["to_desk:h1", "to_desk:h2"]


async def test_queue_prefixes_match_literally(store: Store) -> None:
    # Glob characters in a prefix are plain characters, not patterns.
    await store.push("odd*[q]?:1", {"id": "1"})
    await store.push("oddXq:1", {"id": "2"})
    assert await store.queues("odd*[q]?:") == ["odd*[q]?:1"]
    assert await store.queues("odd*") == ["odd*[q]?:1"]


async def test_a_refused_duplicate_does_not_list_an_empty_queue(store: Store) -> None:
    await store.push("to_rasa:u1", {"id": "e1"}, once="e1")
    await store.pop("to_rasa:u1", "e1")
    await store.push("to_rasa:u1", {"id": "e1"}, once="e1")
    assert await store.queues("to_rasa:") == []


async def test_depths_count_waiting_items_by_queue_kind(store: Store) -> None:
    assert await store.depths() == {}
    await store.push("to_desk:h1", {"id": "1"})
    await store.push("to_desk:h1", {"id": "2"})
    await store.push("to_desk:h2", {"id": "3"})
    await store.push("to_rasa:u1", {"id": "4"})
    await store.push("dead:to_desk:h9", {"id": "5"})
    await store.put("to_desk:plain", {"not": "a queue"})

    assert await store.depths() == {"to_desk": 3, "to_rasa": 1, "dead": 1}

    await store.pop("to_rasa:u1", "4")
    assert await store.depths() == {"to_desk": 3, "dead": 1}


# -- write(): atomic batches -----------------------------------------------------------


async def test_write_answers_one_result_per_change(store: Store) -> None:
    await store.push("q", {"id": "head"})
    results = await store.write(
        Put("handoff:h1", {"state": "open"}),
        Delete("handoff:none"),
        Push("q", {"id": "new"}),
        Pop("q", "not-the-head"),
        ArmTimer("timer:h1", timer("t1", 10.0)),
        DisarmTimer("timer:none"),
    )
    assert results == [True, True, True, False, True, True]
    assert await store.get("handoff:h1") == {"state": "open"}
    assert await store.timer("timer:h1") == timer("t1", 10.0)
    assert await drain_ids(store, "q") == ["head", "new"]


async def test_an_empty_write_changes_nothing(store: Store) -> None:
    assert await store.write() == []


async def test_a_duplicate_push_in_a_batch_skips_only_that_push(store: Store) -> None:
    results = await store.write(
        Push("to_rasa:u1", {"id": "e1"}, once="webhook:e1"),
        Push("to_rasa:u1", {"id": "e1-again"}, once="webhook:e1"),
        Put("handoff:h1", {"last_event": "e1"}),
        Push("to_rasa:u1", {"id": "e2"}, once="webhook:e2"),
    )
    assert results == [True, False, True, True]
    assert await store.get("handoff:h1") == {"last_event": "e1"}
    assert await drain_ids(store, "to_rasa:u1") == ["e1", "e2"]


async def test_changes_apply_in_order_within_a_batch(store: Store) -> None:
    results = await store.write(
        Put("k", {"v": 1}),
        Delete("k"),
        Push("q", {"id": "a"}),
        Pop("q", "a"),
        ArmTimer("t", timer("t1", 1.0)),
        DisarmTimer("t"),
    )
    assert results == [True] * 6
    assert await store.get("k") is None
    assert await store.peek("q") is None
    assert await store.queues("") == []
    assert await store.timer("t") is None
    assert await store.due_timers(10.0) == []


async def test_a_batch_with_an_invalid_change_applies_nothing(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.write(Put("k", {"v": 1}), Push("q", {"id": "a"}), "not a change")  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError)):
        await store.write(Put("k", {"v": 1}), Push("q", {"id": "a"}, once="o"), Put("bad", {"v": object()}))
    assert await store.get("k") is None
    assert await store.peek("q") is None
    assert await store.queues("") == []
    # The failed batch did not spend its once-key either.
    assert await store.push("q", {"id": "a"}, once="o") is True


async def test_finishing_an_item_moves_it_to_the_dead_letters_in_one_write(store: Store, other: Store) -> None:
    item = {"id": "m1", "text": "refused by the desk"}
    await store.push("to_desk:h1", item)
    await store.push("to_desk:h1", {"id": "m2"})

    moved = await store.write(Pop("to_desk:h1", "m1"), Push("dead:to_desk:h1", item, once="dead:m1"))
    assert moved == [True, True]
    # A second finisher of the same item (another sidecar) moves nothing.
    again = await other.write(Pop("to_desk:h1", "m1"), Push("dead:to_desk:h1", item, once="dead:m1"))
    assert again == [False, False]

    assert await store.peek("to_desk:h1") == {"id": "m2"}
    assert await drain_ids(other, "dead:to_desk:h1") == ["m1"]


async def test_popping_the_last_item_and_pushing_it_back_keeps_the_queue_listed(store: Store) -> None:
    await store.push("to_desk:h1", {"id": "m1", "attempt": 1})
    results = await store.write(Pop("to_desk:h1", "m1"), Push("to_desk:h1", {"id": "m1", "attempt": 2}))
    assert results == [True, True]
    assert await store.queues("to_desk:") == ["to_desk:h1"]
    assert await store.peek("to_desk:h1") == {"id": "m1", "attempt": 2}


# -- timers ----------------------------------------------------------------------


async def test_a_timer_is_armed_replaced_and_disarmed(store: Store, other: Store) -> None:
    assert await store.timer("waiting:h1") is None
    await store.write(ArmTimer("waiting:h1", timer("t1", 100.0, kind="waiting")))
    assert await other.timer("waiting:h1") == timer("t1", 100.0, kind="waiting")

    # Arming again replaces the timer and its due time in the index.
    await other.write(ArmTimer("waiting:h1", timer("t2", 300.0, kind="waiting")))
    assert await store.timer("waiting:h1") == timer("t2", 300.0, kind="waiting")
    assert await store.due_timers(200.0) == []
    assert await store.due_timers(300.0) == [timer("t2", 300.0, kind="waiting")]

    await store.write(DisarmTimer("waiting:h1"))
    assert await store.timer("waiting:h1") is None
    assert await store.due_timers(1e12) == []
    # Disarming what is not armed is fine.
    assert await store.write(DisarmTimer("waiting:h1")) == [True]


async def test_due_timers_come_earliest_first_and_limited(store: Store) -> None:
    await store.write(
        ArmTimer("c", timer("t3", 30.0)),
        ArmTimer("a", timer("t1", 10.0)),
        ArmTimer("far", timer("t9", 1000.0)),
        ArmTimer("b", timer("t2", 20.5)),
    )
    assert [t["id"] for t in await store.due_timers(100.0)] == ["t1", "t2", "t3"]
    assert [t["id"] for t in await store.due_timers(100.0, limit=2)] == ["t1", "t2"]
    # Due at exactly `now` is due.
    assert [t["id"] for t in await store.due_timers(20.5)] == ["t1", "t2"]
    assert await store.due_timers(9.999) == []


async def test_due_times_keep_their_precision(store: Store) -> None:
    due = time.time() + 0.000123
    await store.write(ArmTimer("t", timer("t1", due)))
    assert await store.due_timers(due - 0.0001) == []
    assert await store.due_timers(due) == [timer("t1", due)]


async def test_claim_timer_needs_the_armed_id(store: Store) -> None:
    await store.write(ArmTimer("waiting:h1", timer("t1", 10.0)))
    await store.write(ArmTimer("waiting:h1", timer("t2", 20.0)))
    # The replaced timer's id claims nothing: its firing was cancelled by the re-arm.
    assert await store.claim_timer("waiting:h1", "t1") is False
    assert await store.timer("waiting:h1") == timer("t2", 20.0)

    assert await store.claim_timer("waiting:h1", "t2") is True
    assert await store.timer("waiting:h1") is None
    assert await store.due_timers(100.0) == []
    assert await store.claim_timer("waiting:h1", "t2") is False
    assert await store.claim_timer("never-armed", "t") is False


async def test_a_timer_is_claimed_exactly_once_by_concurrent_instances(store: Store, other: Store) -> None:
    await store.write(ArmTimer("session:h1", timer("t1", 5.0)))
    [due] = await other.due_timers(10.0)
    claims = await asyncio.gather(*(target.claim_timer("session:h1", due["id"]) for target in [store, other] * 10))
    assert claims.count(True) == 1
    assert await store.due_timers(10.0) == []


# -- leases ----------------------------------------------------------------------


async def test_lease_blocks_other_owners_until_released(store: Store) -> None:
    assert await store.acquire("lease:q", "alice", ttl=30) is True
    assert await store.acquire("lease:q", "bob", ttl=30) is False
    # The holder may renew.
    assert await store.acquire("lease:q", "alice", ttl=30) is True

    # Only the holder can release.
    await store.release("lease:q", "bob")
    assert await store.acquire("lease:q", "bob", ttl=30) is False

    await store.release("lease:q", "alice")
    assert await store.acquire("lease:q", "bob", ttl=30) is True


async def test_lease_expires_after_its_ttl(store: Store) -> None:
    assert await store.acquire("lease:q", "crashed-process", ttl=0.2) is True
    assert await store.acquire("lease:q", "bob", ttl=30) is False
    await asyncio.sleep(0.3)
    assert await store.acquire("lease:q", "bob", ttl=30) is True
    # Now bob holds it and the old owner is the one locked out.
    assert await store.acquire("lease:q", "crashed-process", ttl=30) is False


async def test_renewing_a_lease_extends_it_from_now(store: Store, other: Store) -> None:
    assert await store.acquire("lease:q", "alice", ttl=0.5) is True
    await asyncio.sleep(0.3)
    assert await store.acquire("lease:q", "alice", ttl=0.5) is True
    await asyncio.sleep(0.3)  # past the first term, inside the renewed one
    assert await other.acquire("lease:q", "bob", ttl=30) is False
    await asyncio.sleep(0.4)
    assert await other.acquire("lease:q", "bob", ttl=30) is True


async def test_leases_are_independent_by_name(store: Store) -> None:
    assert await store.acquire("lease:a", "alice", ttl=30) is True
    assert await store.acquire("lease:b", "bob", ttl=30) is True


# -- text that is not valid UTF-8 ------------------------------------------------------


async def test_values_with_a_lone_surrogate_round_trip(store: Store, other: Store) -> None:
    await store.put("handoff:h1", {"last_message": HALF_EMOJI})
    assert await other.get("handoff:h1") == {"last_message": HALF_EMOJI}

    item = {"id": "m1", "text": HALF_EMOJI}
    await store.push("to_desk:h1", item)
    assert await other.peek("to_desk:h1") == item
    assert await other.pop("to_desk:h1", "m1") is True

    await store.write(ArmTimer("waiting:h1", timer("t1", 5.0, note=HALF_EMOJI)))
    assert await other.due_timers(10.0) == [timer("t1", 5.0, note=HALF_EMOJI)]


async def test_names_with_a_lone_surrogate_work_everywhere(store: Store, other: Store) -> None:
    key, queue = f"handoff:{HALF_EMOJI}", f"to_desk:{HALF_EMOJI}"
    await store.put(key, {"v": 1})
    assert await other.get(key) == {"v": 1}

    item = {"id": f"m-{HALF_EMOJI}", "text": HALF_EMOJI}
    assert await store.push(queue, item, once=f"webhook:{HALF_EMOJI}") is True
    assert await other.push(queue, item, once=f"webhook:{HALF_EMOJI}") is False
    [listed] = await other.queues("to_desk:")
    assert await other.peek(listed) == item  # the listed name opens the queue
    assert await other.pop(queue, f"m-{HALF_EMOJI}") is True
    assert await store.queues("to_desk:") == []

    await store.write(ArmTimer(f"timer:{HALF_EMOJI}", timer(f"t-{HALF_EMOJI}", 5.0)))
    assert await other.timer(f"timer:{HALF_EMOJI}") == timer(f"t-{HALF_EMOJI}", 5.0)
    assert await other.claim_timer(f"timer:{HALF_EMOJI}", f"t-{HALF_EMOJI}") is True

    assert await store.acquire(f"lease:{HALF_EMOJI}", "alice", ttl=30) is True
    assert await other.acquire(f"lease:{HALF_EMOJI}", "bob", ttl=30) is False
    await store.release(f"lease:{HALF_EMOJI}", "alice")
    assert await other.acquire(f"lease:{HALF_EMOJI}", "bob", ttl=30) is True


# -- wake-ups ----------------------------------------------------------------------------


class Heard:
    """What a listener was told, in order, and a way to wait for a name."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, queue: str) -> None:
        self.names.append(queue)
        self._changed.set()

    async def wait_for(self, queue: str, within: float) -> bool:
        deadline = time.monotonic() + within
        while queue not in self.names:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                return False
        return True


async def listening(store: Store, pusher: Store) -> Heard:
    """`store` listening, once a push from `pusher` is known to reach it (subscribing may take a moment)."""
    heard = Heard()
    store.listen(heard)
    for attempt in range(50):
        await pusher.push("probe:wake", {"id": f"probe-{attempt}"})
        if await heard.wait_for("probe:wake", 0.1):
            heard.names.clear()
            return heard
    pytest.fail("the listener never heard a push")


async def test_a_push_from_another_instance_wakes_the_listener_within_a_second(
    store: Store, other: Store
) -> None:
    heard = await listening(store, other)
    started = time.monotonic()
    await other.push("to_desk:h1", {"id": "m1"})
    assert await heard.wait_for("to_desk:h1", 1.0)
    assert time.monotonic() - started < 1.0


async def test_a_push_from_the_same_instance_wakes_its_listener(store: Store, other: Store) -> None:
    heard = await listening(store, other)
    await store.push("to_rasa:u1", {"id": "e1"})
    assert await heard.wait_for("to_rasa:u1", 1.0)


async def test_only_queues_that_got_an_item_wake_listeners(store: Store, other: Store) -> None:
    heard = await listening(store, other)
    await other.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1")
    assert await heard.wait_for("to_rasa:u1", 1.0)
    heard.names.clear()

    await other.write(Push("to_rasa:u1", {"id": "e1"}, once="webhook:e1"), Put("k", {"v": 1}))  # refused
    await other.write(Push("to_desk:h1", {"id": "a"}), Push("to_desk:h1", {"id": "b"}))
    assert await heard.wait_for("to_desk:h1", 1.0)
    await asyncio.sleep(0.05)
    assert heard.names == ["to_desk:h1"]  # one wake-up per queue per write, none for the refused push


# -- two instances on one store (two processes) -------------------------------------------


async def test_two_instances_see_each_others_writes(store: Store, other: Store) -> None:
    await store.put("active:u1", {"handoff_id": "h1"})
    assert await other.get("active:u1") == {"handoff_id": "h1"}

    await other.delete("active:u1")
    assert await store.get("active:u1") is None

    await store.push("to_desk:h1", {"id": "a"})
    await other.push("to_desk:h1", {"id": "b"})
    assert await other.peek("to_desk:h1") == {"id": "a"}
    assert await store.queues("to_desk:") == ["to_desk:h1"]

    await other.pop("to_desk:h1", "a")
    assert await store.peek("to_desk:h1") == {"id": "b"}


async def test_once_keys_and_leases_are_shared(store: Store, other: Store) -> None:
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="e1") is True
    assert await other.push("to_rasa:u1", {"id": "e1"}, once="e1") is False

    assert await store.acquire("lease:to_rasa:u1", "sidecar", ttl=30) is True
    assert await other.acquire("lease:to_rasa:u1", "action-server", ttl=30) is False


async def test_concurrent_pushes_from_two_instances_lose_nothing(store: Store, other: Store) -> None:
    async def producer(target: Store, name: str) -> None:
        for n in range(20):
            await target.push("q", {"id": f"{name}-{n}"})

    await asyncio.gather(producer(store, "a"), producer(other, "b"))

    ids = await drain_ids(store, "q")
    assert sorted(ids) == sorted([f"a-{n}" for n in range(20)] + [f"b-{n}" for n in range(20)])
    # Each producer's items keep their order.
    for name in ("a", "b"):
        assert [i for i in ids if i.startswith(name)] == [f"{name}-{n}" for n in range(20)]


# -- locked() ---------------------------------------------------------------------------


async def test_locked_serialises_read_change_write(store: Store, other: Store) -> None:
    await store.put("counter", {"n": 0})
    inside = 0
    most_inside = 0

    async def increment(target: Store) -> None:
        nonlocal inside, most_inside
        async with locked(target, "counter"):
            inside += 1
            most_inside = max(most_inside, inside)
            value = (await target.get("counter"))["n"]
            await asyncio.sleep(0.01)  # let the others try to get in
            await target.put("counter", {"n": value + 1})
            inside -= 1

    await asyncio.gather(*(increment(store if n % 2 else other) for n in range(8)))

    assert most_inside == 1
    assert (await store.get("counter"))["n"] == 8


async def test_locked_releases_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with locked(store, "name"):
            raise RuntimeError("boom")
    assert await store.acquire("name", "someone-else", ttl=30) is True


async def test_locked_gives_up_after_waiting(store: Store) -> None:
    assert await store.acquire("busy", "holder", ttl=30) is True
    with pytest.raises(TimeoutError, match="busy"):
        async with locked(store, "busy", wait=0.1):
            pytest.fail("entered a lease someone else holds")


# -- real separate processes ------------------------------------------------------------

WORKERS = 4
ITEMS = 25
SHARED_ONCE_KEYS = 10


def _worker(settings: dict, name: str, start: "multiprocessing.synchronize.Event") -> None:
    async def work() -> None:
        store = open_store(StoreSettings(**settings))
        start.wait(30)
        for n in range(ITEMS):
            await store.push("to_rasa:shared", {"id": f"{name}-{n}"})
            if n < SHARED_ONCE_KEYS:
                # Every process receives the same redelivered event: one must win.
                await store.push("to_rasa:once", {"id": f"event-{n}", "by": name}, once=f"event-{n}")
        await store.close()

    asyncio.run(work())


def _run_workers(settings: dict) -> list[Optional[int]]:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_worker, args=(settings, f"w{k}", start), daemon=True) for k in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    return [worker.exitcode for worker in workers]


async def test_separate_processes_pushing_concurrently_lose_and_duplicate_nothing(
    store_factory: StoreFactory,
) -> None:
    assert await asyncio.to_thread(_run_workers, store_factory.settings) == [0] * WORKERS

    store = store_factory()
    shared = await drain_ids(store, "to_rasa:shared")
    expected = [f"w{k}-{n}" for k in range(WORKERS) for n in range(ITEMS)]
    assert len(shared) == len(expected)
    assert sorted(shared) == sorted(expected)
    for k in range(WORKERS):
        mine = [i for i in shared if i.startswith(f"w{k}-")]
        assert mine == [f"w{k}-{n}" for n in range(ITEMS)]

    once = await drain_ids(store, "to_rasa:once")
    assert sorted(once) == sorted(f"event-{n}" for n in range(SHARED_ONCE_KEYS))
    assert await store.queues("to_rasa:") == []


# -- Redis outages --------------------------------------------------------------------------


def redis_store(url: str, prefix: str) -> RedisStore:
    return RedisStore.from_settings(StoreSettings(type="redis", url=url, key_prefix=prefix))


def redis_server_on_path() -> str:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("no redis-server on PATH to stop and start")
    return executable


async def test_the_listener_hears_again_after_redis_restarts(caplog: pytest.LogCaptureFixture) -> None:
    executable = redis_server_on_path()
    server = RedisServer(executable)
    prefix = unique_prefix()
    listener, writer = redis_store(server.url, prefix), redis_store(server.url, prefix)
    try:
        heard = await listening(listener, writer)
        server.stop()
        with pytest.raises(redis.ConnectionError):  # the caller sees the outage
            await writer.push("to_desk:h1", {"id": "refused"})
        await asyncio.sleep(1.0)  # long enough for redis-py's own quick retries to give up
        server = RedisServer(executable, port=server.port)
        for attempt in range(50):  # the listener comes back after its backoff
            await writer.push("to_desk:h1", {"id": f"m{attempt}"})
            if await heard.wait_for("to_desk:h1", 0.2):
                break
        else:
            pytest.fail("the listener never heard a push after Redis came back")
    finally:
        await listener.close()
        await writer.close()
        server.stop()
    interruptions = [record for record in caplog.records if "interrupted" in record.getMessage()]
    assert len(interruptions) == 1  # one warning per outage, not one per retry


async def test_the_url_and_its_password_stay_out_of_logs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = redis_store(f"redis://:pw-4f1c9e@127.0.0.1:{free_port()}/0", unique_prefix())  # nothing listens
    try:
        store.listen(lambda queue: None)
        with pytest.raises(redis.ConnectionError) as raised:
            await store.ping()
        await asyncio.sleep(0.3)
    finally:
        await store.close()
    assert "pw-4f1c9e" not in str(raised.value)
    assert any("interrupted" in record.getMessage() for record in caplog.records)
    assert "pw-4f1c9e" not in caplog.text


async def test_closing_stops_the_listener(store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    heard = await listening(store, other)
    await store.close()
    await other.push("to_desk:h1", {"id": "m1"})
    assert not await heard.wait_for("to_desk:h1", 0.3)


# -- dead letters: looked at, dropped or replayed one by one -------------------------------


async def test_items_lists_a_queue_oldest_first_without_taking_anything(store: Store) -> None:
    for n in range(5):
        await store.push("dead:to_desk:h1", {"id": f"m{n}", "text": "Thanks! \ud83d"})
    assert [item["id"] for item in await store.items("dead:to_desk:h1", limit=3)] == ["m0", "m1", "m2"]
    assert len(await store.items("dead:to_desk:h1")) == 5
    assert (await store.items("dead:to_desk:h1"))[0]["text"] == "Thanks! \ud83d"
    assert await store.items("never-used") == []


async def test_drop_removes_one_item_anywhere_in_the_queue(store: Store) -> None:
    for item_id in ("a", "b", "c"):
        await store.push("dead:q", {"id": item_id})
    assert await store.write(Drop("dead:q", "b")) == [True]
    assert [item["id"] for item in await store.items("dead:q")] == ["a", "c"]
    assert await store.write(Drop("dead:q", "b")) == [False]
    await store.write(Drop("dead:q", "a"), Drop("dead:q", "c"))
    assert await store.queues("dead:") == []


async def test_a_failed_call_fails_alone_and_the_next_call_works(store: Store, other: Store) -> None:
    await store.push("to_rasa:u1", {"id": "before"})
    with pytest.raises((TypeError, ValueError)):
        await store.write(Put("k", {"not json": object()}), Push("to_rasa:u1", {"id": "never"}))
    # Nothing of the failed write was applied, and no error waits for the next caller.
    assert [item["id"] for item in await store.items("to_rasa:u1")] == ["before"]
    assert await store.get("k") is None
    assert await store.push("to_rasa:u1", {"id": "after"}) is True
    assert [item["id"] for item in await other.items("to_rasa:u1")] == ["before", "after"]
