"""Shared store fixtures for every test folder (tests/ and each desk's tests/): every store test runs on sqlite and on Redis.

`store_factory` opens stores on one set of data (each call is what another
process would open), on sqlite in the test's directory or on Redis under a
key prefix of the test's own, and closes them all afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

import pytest

from tests.support.redis_server import (
    StoreFactory,
    forget_prefix,
    redis_factory,
    redis_url,
    sqlite_factory,
    unique_prefix,
)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[Optional[str]]:
    """The session's Redis URL, or None when neither a running Redis nor redis-server is found."""
    yield from redis_url()


@pytest.fixture
def redis_store_url(redis_server_url: Optional[str]) -> str:
    if redis_server_url is None:
        pytest.skip("no Redis: nothing on 127.0.0.1:6379 and no redis-server on PATH")
    return redis_server_url


@pytest.fixture(params=["sqlite", "redis"])
async def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    if request.param == "sqlite":
        factory = sqlite_factory(tmp_path)
    else:
        factory = redis_factory(request.getfixturevalue("redis_store_url"), unique_prefix())
    try:
        yield factory
    finally:
        await factory.close_all()
        if factory.kind == "redis":
            forget_prefix(factory.settings["url"], factory.settings["key_prefix"])
