"""The store a benchmark runs on: a sqlite file in its work directory, or Redis.

Redis is the server answering on 127.0.0.1:6379 when there is one, otherwise
a `redis-server` of our own on a free port, stopped after the run. On a
Redis someone else runs, every key goes under a prefix of this run's own, so
the run neither sees nor disturbs anybody's keys, and is removed afterwards.
A store the engine cannot open is reported with the reason, before any
process starts.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from handoff_connectors.core.config import StoreSettings
from handoff_connectors.core.store import open_store
from handoff_connectors.rasa_runtime.processes import free_port

SHARED_REDIS_PORT = 6379


class StoreUnavailable(Exception):
    """This run cannot use the store asked for; the message says why."""


@dataclass(frozen=True)
class Backend:
    """A store for one run: handoff.yml's `store:` section and a line describing it."""

    kind: str
    section: dict[str, Any]
    description: str

    def settings(self) -> StoreSettings:
        return StoreSettings.model_validate(self.section)


def redis_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether a Redis answers PING there (raw protocol, so no client library is needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def _own_redis(workdir: Path) -> Iterator[int]:
    """A throwaway redis-server on a free port, without persistence."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise StoreUnavailable(
            f"--store redis: nothing answers on 127.0.0.1:{SHARED_REDIS_PORT} and redis-server is not "
            "installed (apt-get install redis-server)"
        )
    port = free_port()
    log = open(workdir / "redis.log", "ab")
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise StoreUnavailable(f"redis-server did not start; see {workdir / 'redis.log'}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _redis_section(port: int, prefix: Optional[str]) -> dict[str, Any]:
    section: dict[str, Any] = {"type": "redis", "url": f"redis://127.0.0.1:{port}/0"}
    # Only engines whose settings know key prefixes get one.
    if prefix is not None and "key_prefix" in StoreSettings.model_fields:
        section["key_prefix"] = prefix
    return section


@contextmanager
def backend(kind: str, workdir: Path) -> Iterator[Backend]:
    """The store to run on, checked to open; for Redis, the server for the run's duration."""
    if kind == "sqlite":
        path = workdir / "handoff.sqlite"
        found = Backend("sqlite", {"type": "sqlite", "path": str(path)}, f"sqlite store {path}")
        check(found)
        yield found
        return
    if redis_answers(SHARED_REDIS_PORT):
        prefix = f"rasa_handoff_bench_{uuid.uuid4().hex[:8]}:"
        found = Backend(
            "redis", _redis_section(SHARED_REDIS_PORT, prefix),
            f"redis store on the running 127.0.0.1:{SHARED_REDIS_PORT}, keys under {prefix}",
        )
        check(found)
        try:
            yield found
        finally:
            remove_keys(SHARED_REDIS_PORT, prefix)
        return
    with _own_redis(workdir) as port:
        found = Backend("redis", _redis_section(port, None), f"redis store on a redis-server of our own (port {port})")
        check(found)
        yield found


def check(found: Backend) -> None:
    """Open the store and write, read and delete one key, or say why the engine cannot."""
    try:
        settings = found.settings()
    except ValueError as error:
        raise StoreUnavailable(f"this engine's store settings refuse {found.section['type']}: {_first_line(error)}") from None

    async def round_trip() -> None:
        store = open_store(settings)
        try:
            key = f"benchmark-probe-{uuid.uuid4().hex}"
            await store.put(key, {"ok": True})
            if await store.get(key) != {"ok": True}:
                raise StoreUnavailable(f"{found.kind} store: a key written was not read back")
            await store.delete(key)
        finally:
            await store.close()

    try:
        asyncio.run(round_trip())
    except StoreUnavailable:
        raise
    except Exception as error:  # the engine's own refusal, whatever its type
        raise StoreUnavailable(f"this engine cannot open a {found.kind} store: {type(error).__name__}: {_first_line(error)}") from None


def remove_keys(port: int, prefix: str) -> None:
    """Delete this run's keys from a shared Redis (with redis-py when installed, else redis-cli)."""
    try:
        import redis  # type: ignore[import-not-found]
    except ImportError:
        redis = None
    if redis is not None:
        client = redis.Redis(host="127.0.0.1", port=port)
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
        client.close()
        return
    if shutil.which("redis-cli"):
        keys = subprocess.run(
            ["redis-cli", "-p", str(port), "--scan", "--pattern", f"{prefix}*"],
            capture_output=True, text=True, check=False,
        ).stdout.split()
        for start in range(0, len(keys), 1000):
            subprocess.run(["redis-cli", "-p", str(port), "unlink", *keys[start:start + 1000]],
                           capture_output=True, check=False)
        return
    print(f"note: keys under {prefix} stay in the Redis on port {port} (no redis-py, no redis-cli to remove them)")


def _first_line(error: BaseException) -> str:
    """The gist of an error: its first three lines (a validation error names the field on its second)."""
    return " ".join(line.strip() for line in str(error).strip().splitlines()[:3])
