"""A Redis for the tests, and the store openers the shared store fixtures hand out.

Why not always start our own: a developer or CI job often has Redis running
already, and reusing it costs nothing. Then the tests keep to a dedicated
database number and a key prefix of their own per test, and delete only
that prefix, so data beside ours is never touched. Without a running Redis
we start `redis-server` on a free port, with nothing saved to disk.

HANDOFF_TEST_REDIS_URL names the Redis to try first (default
redis://127.0.0.1:6379/15); point it at a closed port to exercise the
start-our-own path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import redis

from handoff_connectors.core.config import StoreSettings
from handoff_connectors.core.store import Store, open_store

DEFAULT_URL = "redis://127.0.0.1:6379/15"
URL_VARIABLE = "HANDOFF_TEST_REDIS_URL"
# Our own server uses this database too, so both paths look alike.
DATABASE = 15


def answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Redis answers PING at `url`."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """`redis-server` on a free port of 127.0.0.1, in memory only, stopped by `stop()`."""

    def __init__(self, executable: str, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self._dir = tempfile.mkdtemp(prefix="handoff-redis-")
        self._process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/{DATABASE}"
        self._wait_until_it_answers()

    def _wait_until_it_answers(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not answers(self.url, timeout=0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def redis_url() -> Iterator[Optional[str]]:
    """Yield a Redis URL for the session (None when there is no Redis to be had)."""
    url = os.environ.get(URL_VARIABLE, DEFAULT_URL)
    if answers(url):
        yield url
        return
    executable = shutil.which("redis-server")
    if executable is None:
        yield None
        return
    server = RedisServer(executable)
    try:
        yield server.url
    finally:
        server.stop()


def unique_prefix() -> str:
    return f"rasa_handoff_test:{uuid.uuid4().hex[:12]}:"


def forget_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (a fresh hex prefix: no glob characters in it)."""
    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(names), 500):
            client.unlink(*names[start:start + 500])
    finally:
        client.close()


@dataclass
class StoreFactory:
    """Opens stores on one set of data: each call is another process's view of it.

    `settings` is a plain dict for `StoreSettings(**settings)`, so a worker
    process can open the same store from it.
    """

    kind: str
    settings: dict
    opened: list[Store] = field(default_factory=list)

    def __call__(self) -> Store:
        store = open_store(StoreSettings(**self.settings))
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()
        self.opened.clear()


def sqlite_factory(directory: Path) -> StoreFactory:
    return StoreFactory("sqlite", {"type": "sqlite", "path": str(directory / "state" / "handoff.sqlite")})


def redis_factory(url: str, prefix: str) -> StoreFactory:
    return StoreFactory("redis", {"type": "redis", "url": url, "key_prefix": prefix})

