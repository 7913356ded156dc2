"""The bearer tokens the sidecar issues to CXone, kept in the store so every replica accepts them.

CXone gets one from our token endpoint with the client id and secret the
user issued to it, then calls the other routes with it. A token is random;
the store keeps only its SHA-256, when it expires, and a fingerprint of the
client credentials it was issued for, so changing the secret in handoff.yml
retires every token issued under the old one. Expired tokens are removed
when seen, and pruned whenever a new one is issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable, Optional

from ..core.store import Delete, Put, Store

BEARER_KEY = "nice_cxone:bearer:"
INDEX_KEY = "nice_cxone:bearers"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Bearers:
    def __init__(
        self, store: Store, client_id: str, client_secret: str, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._client = (client_id, client_secret)
        self._fingerprint = _digest(f"{client_id}\n{client_secret}")
        self.ttl = ttl
        self._clock = clock

    def client_matches(self, client_id: str, client_secret: str) -> bool:
        wanted_id, wanted_secret = self._client
        same_id = hmac.compare_digest(_digest(client_id), _digest(wanted_id))
        same_secret = hmac.compare_digest(_digest(client_secret), _digest(wanted_secret))
        return same_id and same_secret

    async def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        key = _digest(token)
        index = (await self._store.get(INDEX_KEY) or {}).get("tokens", {})
        expired = [old for old, until in index.items() if until <= now]
        kept = {old: until for old, until in index.items() if until > now}
        kept[key] = now + self.ttl
        await self._store.write(
            Put(BEARER_KEY + key, {"expires_at": now + self.ttl, "client": self._fingerprint}),
            Put(INDEX_KEY, {"tokens": kept}),
            *(Delete(BEARER_KEY + old) for old in expired),
        )
        return token

    async def accepts(self, authorization: Optional[str]) -> bool:
        """Whether an `Authorization` header carries a live token issued to the current client."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        key = BEARER_KEY + _digest(token)
        record = await self._store.get(key)
        if record is None:
            return False
        if record.get("expires_at", 0) <= self._clock():
            await self._store.delete(key)
            return False
        return hmac.compare_digest(str(record.get("client", "")), self._fingerprint)
