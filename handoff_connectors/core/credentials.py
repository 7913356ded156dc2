"""Short-lived desk tokens, fetched once and shared by every process.

The action servers and the sidecars all call the desk, and some desks allow
one live token at a time (Sobot issues a new one on every fetch, logging out
whoever held the last). So the token lives in the store: whoever finds it
missing, expiring or refused takes a lease, fetches one, and stores it; the
others wait for that one instead of fetching their own. A call the desk
refuses with 401 refreshes the token and is tried once more; a second
refusal is the desk's answer (the service turns Unavailable).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Awaitable, Callable, Optional, TypeVar

from .contract import DeskError, IssuedToken
from .store import Store

T = TypeVar("T")

# A token this close to its end is refreshed before use.
REFRESH_MARGIN = 60.0
# How long a fetch may hold the lease, and how long the others wait for it.
FETCH_LEASE = 30.0
WAIT_STEP = 0.05


class SharedToken:
    def __init__(
        self,
        store: Store,
        name: str,
        fetch: Callable[[], Awaitable[IssuedToken]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._key = f"token:{name}"
        self._lease = f"lease:token:{name}"
        self._fetch = fetch
        self._clock = clock

    async def get(self) -> str:
        """A token valid for at least REFRESH_MARGIN seconds."""
        fresh = await self._fresh(stale=None)
        return fresh if fresh is not None else await self._refresh(stale=None)

    async def call(self, use: Callable[[str], Awaitable[T]]) -> T:
        """`use(token)`; on an auth failure, once more with a refreshed token."""
        token = await self.get()
        try:
            return await use(token)
        except DeskError as error:
            if not error.auth:
                raise
        return await use(await self._refresh(stale=token))

    async def _fresh(self, stale: Optional[str]) -> Optional[str]:
        stored = await self._store.get(self._key)
        if not stored or stored.get("value") == stale:
            return None
        if stored.get("expires_at", 0) - REFRESH_MARGIN <= self._clock():
            return None
        return stored["value"]

    async def _refresh(self, stale: Optional[str]) -> str:
        """A new token, fetched here or by whichever process holds the lease."""
        owner = uuid.uuid4().hex
        waited = 0.0
        while waited < FETCH_LEASE:
            if await self._store.acquire(self._lease, owner, FETCH_LEASE):
                try:
                    # Someone may have fetched one while we waited for the lease.
                    fresh = await self._fresh(stale)
                    if fresh is not None:
                        return fresh
                    token = await self._fetch()
                    await self._store.put(self._key, {"value": token.value, "expires_at": token.expires_at})
                    return token.value
                finally:
                    await self._store.release(self._lease, owner)
            await asyncio.sleep(WAIT_STEP)
            waited += WAIT_STEP
            fresh = await self._fresh(stale)
            if fresh is not None:
                return fresh
        raise DeskError("timed out waiting for another process to fetch the desk's token", retryable=True)
