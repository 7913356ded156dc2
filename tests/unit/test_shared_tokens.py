"""Desk tokens fetched once for every process, refreshed before their end and after a 401.

Runs on sqlite and on Redis: each `store_factory()` is another process's view
of the same store, as the action servers and the sidecars have.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from handoff_connectors.core.contract import DeskError, IssuedToken
from handoff_connectors.core.credentials import REFRESH_MARGIN, SharedToken


class Issuer:
    """A desk's token endpoint that, like Sobot's, makes every earlier token invalid."""

    def __init__(self, lifetime: float = 3600.0, delay: float = 0.05) -> None:
        self.issued: list[str] = []
        self.lifetime = lifetime
        self.delay = delay

    async def fetch(self) -> IssuedToken:
        await asyncio.sleep(self.delay)  # long enough for the other processes to ask meanwhile
        self.issued.append(f"token-{len(self.issued) + 1}")
        return IssuedToken(self.issued[-1], expires_at=time.time() + self.lifetime)

    def valid(self, token: str) -> bool:
        return bool(self.issued) and token == self.issued[-1]


async def test_many_processes_asking_at_once_fetch_one_token(store_factory) -> None:
    issuer = Issuer()
    processes = [SharedToken(store_factory(), "desk", issuer.fetch) for _ in range(4)]

    tokens = await asyncio.gather(*(process.get() for process in processes for _ in range(5)))

    assert issuer.issued == ["token-1"]
    assert set(tokens) == {"token-1"}


async def test_a_token_near_its_end_is_refreshed_before_use(store_factory) -> None:
    issuer = Issuer(lifetime=REFRESH_MARGIN / 2)
    token = SharedToken(store_factory(), "desk", issuer.fetch)

    assert await token.get() == "token-1"
    assert await token.get() == "token-2"  # the first was already within the margin


async def test_a_refused_token_is_refreshed_once_and_the_call_tried_again(store_factory) -> None:
    issuer = Issuer()
    action_server = SharedToken(store_factory(), "desk", issuer.fetch)
    sidecar = SharedToken(store_factory(), "desk", issuer.fetch)
    calls: list[str] = []

    async def desk_call(token: str) -> str:
        calls.append(token)
        if not issuer.valid(token):
            raise DeskError("answered 401", retryable=False, auth=True)
        return "done"

    await action_server.get()
    # Someone (an admin, another deployment) fetched a token: ours is dead now.
    await issuer.fetch()

    assert await sidecar.call(desk_call) == "done"
    assert calls == ["token-1", "token-3"]
    # The other process uses the refreshed token without fetching again.
    assert await action_server.call(desk_call) == "done"
    assert issuer.issued == ["token-1", "token-2", "token-3"]


async def test_a_second_refusal_is_the_desks_answer(store_factory) -> None:
    issuer = Issuer()
    token = SharedToken(store_factory(), "desk", issuer.fetch)

    async def always_refused(token: str) -> None:
        raise DeskError("answered 401", retryable=False, auth=True)

    with pytest.raises(DeskError) as caught:
        await token.call(always_refused)
    assert caught.value.auth
    assert len(issuer.issued) == 2  # one refresh, not a loop


async def test_other_desk_errors_do_not_refresh(store_factory) -> None:
    issuer = Issuer()
    token = SharedToken(store_factory(), "desk", issuer.fetch)

    async def desk_down(token: str) -> None:
        raise DeskError("answered 503", retryable=True)

    with pytest.raises(DeskError):
        await token.call(desk_down)
    assert issuer.issued == ["token-1"]
