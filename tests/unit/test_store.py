"""SqliteStore: keys, FIFO queues, once-only pushes, leases, and sharing one file."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from handoff_connectors.core.config import StoreSettings
from handoff_connectors.core.store import SqliteStore, locked, open_store


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "handoff.sqlite")


@pytest.fixture
async def store(path: str):
    opened = SqliteStore(path)
    yield opened
    await opened.close()


@pytest.fixture
async def other(path: str):
    """A second store on the same file, as another process would open it."""
    opened = SqliteStore(path)
    yield opened
    await opened.close()


async def drain_ids(store: SqliteStore, queue: str) -> list[str]:
    ids = []
    while (item := await store.peek(queue)) is not None:
        ids.append(item["id"])
        await store.pop(queue, item["id"])
    return ids


# -- plain keys ----------------------------------------------------------------


async def test_get_put_delete(store: SqliteStore) -> None:
    assert await store.get("handoff:1") is None

    await store.put("handoff:1", {"sender_id": "u1", "email": "ana@example.com"})
    assert await store.get("handoff:1") == {"sender_id": "u1", "email": "ana@example.com"}

    await store.put("handoff:1", {"sender_id": "u1", "email": "new@example.com"})
    assert (await store.get("handoff:1"))["email"] == "new@example.com"

    await store.delete("handoff:1")
    assert await store.get("handoff:1") is None
    # Deleting what is not there is fine.
    await store.delete("handoff:1")


async def test_keys_and_queues_do_not_collide(store: SqliteStore) -> None:
    await store.put("q1", {"plain": True})
    await store.push("q1", {"id": "a"})
    assert await store.get("q1") == {"plain": True}
    assert await store.peek("q1") == {"id": "a"}


async def test_the_parent_directory_is_created(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "store.sqlite"
    opened = SqliteStore(str(nested))
    await opened.put("k", {"v": 1})
    await opened.close()
    assert nested.exists()


async def test_values_survive_reopening(path: str) -> None:
    first = SqliteStore(path)
    await first.put("k", {"v": [1, 2, "three"]})
    await first.push("q", {"id": "a"})
    await first.close()

    second = SqliteStore(path)
    try:
        assert await second.get("k") == {"v": [1, 2, "three"]}
        assert await second.peek("q") == {"id": "a"}
    finally:
        await second.close()


async def test_open_store_builds_sqlite_from_settings(tmp_path: Path) -> None:
    opened = open_store(StoreSettings(path=str(tmp_path / "s.sqlite")))
    try:
        assert isinstance(opened, SqliteStore)
        await opened.put("k", {"v": 1})
        assert await opened.get("k") == {"v": 1}
    finally:
        await opened.close()


# -- queues ----------------------------------------------------------------------


async def test_queue_is_first_in_first_out(store: SqliteStore) -> None:
    for n in range(5):
        assert await store.push("to_desk:h1", {"id": f"m{n}", "text": f"message {n}"}) is True
    assert await drain_ids(store, "to_desk:h1") == ["m0", "m1", "m2", "m3", "m4"]
    assert await store.peek("to_desk:h1") is None


async def test_peek_leaves_the_item_in_place(store: SqliteStore) -> None:
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})
    assert await store.peek("q") == {"id": "a"}
    assert await store.peek("q") == {"id": "a"}


async def test_peek_of_an_unknown_queue_is_none(store: SqliteStore) -> None:
    assert await store.peek("never-used") is None


async def test_once_key_refuses_a_duplicate_without_appending(store: SqliteStore) -> None:
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1") is True
    assert await store.push("to_rasa:u1", {"id": "e1-again"}, once="webhook:e1") is False
    assert await store.push("to_rasa:u1", {"id": "e2"}, once="webhook:e2") is True

    assert await drain_ids(store, "to_rasa:u1") == ["e1", "e2"]


async def test_once_key_is_remembered_after_the_item_was_delivered(store: SqliteStore) -> None:
    # A desk retrying a webhook after we delivered it must not deliver it twice.
    await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1")
    await store.pop("to_rasa:u1", "e1")
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="webhook:e1") is False
    assert await store.peek("to_rasa:u1") is None


async def test_pushes_without_once_key_are_never_deduplicated(store: SqliteStore) -> None:
    assert await store.push("q", {"id": "same"}) is True
    assert await store.push("q", {"id": "same"}) is True
    assert await drain_ids(store, "q") == ["same", "same"]


async def test_pop_removes_the_head_only_when_the_id_matches(store: SqliteStore) -> None:
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})

    await store.pop("q", "b")  # not the head: nothing happens
    assert await store.peek("q") == {"id": "a"}

    await store.pop("q", "zzz")  # unknown id: nothing happens
    assert await store.peek("q") == {"id": "a"}

    await store.pop("q", "a")
    assert await store.peek("q") == {"id": "b"}


async def test_popping_twice_with_the_same_id_removes_one_item(store: SqliteStore) -> None:
    # Two deliverers finishing the same head must not drop the item behind it.
    await store.push("q", {"id": "a"})
    await store.push("q", {"id": "b"})
    await store.pop("q", "a")
    await store.pop("q", "a")
    assert await store.peek("q") == {"id": "b"}


async def test_pop_on_an_empty_queue_is_harmless(store: SqliteStore) -> None:
    await store.pop("empty", "a")
    assert await store.peek("empty") is None
    assert await store.queues("") == []


async def test_queues_lists_only_non_empty_queues_with_the_prefix(store: SqliteStore) -> None:
    await store.push("to_desk:h1", {"id": "1"})
    await store.push("to_desk:h2", {"id": "2"})
    await store.push("to_rasa:u1", {"id": "3"})
    await store.put("to_desk:not-a-queue", {"plain": "key"})

    assert sorted(await store.queues("to_desk:")) == ["to_desk:h1", "to_desk:h2"]
    assert await store.queues("to_rasa:") == ["to_rasa:u1"]
    assert await store.queues("dead:") == []

    await store.pop("to_desk:h1", "1")
    assert await store.queues("to_desk:") == ["to_desk:h2"]

    # A queue that fills again is listed again.
    await store.push("to_desk:h1", {"id": "4"})
    assert sorted(await store.queues("to_desk:")) == ["to_desk:h1", "to_desk:h2"]


async def test_a_refused_duplicate_does_not_list_an_empty_queue(store: SqliteStore) -> None:
    await store.push("to_rasa:u1", {"id": "e1"}, once="e1")
    await store.pop("to_rasa:u1", "e1")
    await store.push("to_rasa:u1", {"id": "e1"}, once="e1")
    assert await store.queues("to_rasa:") == []


# -- leases ----------------------------------------------------------------------


async def test_lease_blocks_other_owners_until_released(store: SqliteStore) -> None:
    assert await store.acquire("lease:q", "alice", ttl=30) is True
    assert await store.acquire("lease:q", "bob", ttl=30) is False
    # The holder may renew.
    assert await store.acquire("lease:q", "alice", ttl=30) is True

    # Only the holder can release.
    await store.release("lease:q", "bob")
    assert await store.acquire("lease:q", "bob", ttl=30) is False

    await store.release("lease:q", "alice")
    assert await store.acquire("lease:q", "bob", ttl=30) is True


async def test_lease_expires_after_its_ttl(store: SqliteStore) -> None:
    assert await store.acquire("lease:q", "crashed-process", ttl=0.2) is True
    assert await store.acquire("lease:q", "bob", ttl=30) is False
    await asyncio.sleep(0.3)
    assert await store.acquire("lease:q", "bob", ttl=30) is True
    # Now bob holds it and the old owner is the one locked out.
    assert await store.acquire("lease:q", "crashed-process", ttl=30) is False


async def test_leases_are_independent_by_name(store: SqliteStore) -> None:
    assert await store.acquire("lease:a", "alice", ttl=30) is True
    assert await store.acquire("lease:b", "bob", ttl=30) is True


# -- two stores on one file (two processes) ------------------------------------------


async def test_two_instances_see_each_others_writes(store: SqliteStore, other: SqliteStore) -> None:
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


async def test_once_keys_and_leases_are_shared(store: SqliteStore, other: SqliteStore) -> None:
    assert await store.push("to_rasa:u1", {"id": "e1"}, once="e1") is True
    assert await other.push("to_rasa:u1", {"id": "e1"}, once="e1") is False

    assert await store.acquire("lease:to_rasa:u1", "sidecar", ttl=30) is True
    assert await other.acquire("lease:to_rasa:u1", "action-server", ttl=30) is False


async def test_concurrent_pushes_from_two_instances_lose_nothing(
    store: SqliteStore, other: SqliteStore
) -> None:
    async def producer(target: SqliteStore, name: str) -> None:
        for n in range(20):
            await target.push("q", {"id": f"{name}-{n}"})

    await asyncio.gather(producer(store, "a"), producer(other, "b"))

    ids = await drain_ids(store, "q")
    assert sorted(ids) == sorted([f"a-{n}" for n in range(20)] + [f"b-{n}" for n in range(20)])
    # Each producer's items keep their order.
    for name in ("a", "b"):
        assert [i for i in ids if i.startswith(name)] == [f"{name}-{n}" for n in range(20)]


# -- locked() ---------------------------------------------------------------------------


async def test_locked_serialises_read_change_write(store: SqliteStore, other: SqliteStore) -> None:
    await store.put("counter", {"n": 0})
    inside = 0
    most_inside = 0

    async def increment(target: SqliteStore) -> None:
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


async def test_locked_releases_on_error(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError):
        async with locked(store, "name"):
            raise RuntimeError("boom")
    assert await store.acquire("name", "someone-else", ttl=30) is True


async def test_locked_gives_up_after_waiting(store: SqliteStore) -> None:
    assert await store.acquire("busy", "holder", ttl=30) is True
    with pytest.raises(TimeoutError, match="busy"):
        async with locked(store, "busy", wait=0.1):
            pytest.fail("entered a lease someone else holds")


# -- real separate processes ------------------------------------------------------------

WORKERS = 4
ITEMS = 25
SHARED_ONCE_KEYS = 10


def _worker(path: str, name: str, start: "multiprocessing.synchronize.Event") -> None:
    async def work() -> None:
        store = SqliteStore(path)
        start.wait(30)
        for n in range(ITEMS):
            await store.push("to_rasa:shared", {"id": f"{name}-{n}"})
            if n < SHARED_ONCE_KEYS:
                # Every process receives the same redelivered event: one must win.
                await store.push("to_rasa:once", {"id": f"event-{n}", "by": name}, once=f"event-{n}")
        await store.close()

    asyncio.run(work())


def test_separate_processes_pushing_concurrently_lose_and_duplicate_nothing(path: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_worker, args=(path, f"w{k}", start), daemon=True) for k in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * WORKERS

    async def check() -> None:
        store = SqliteStore(path)
        try:
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
        finally:
            await store.close()

    asyncio.run(check())
