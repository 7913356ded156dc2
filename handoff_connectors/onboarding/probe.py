"""The store probe: how `rasa-handoff doctor` tells that processes share one store.

The doctor writes a fresh random value under one key of the store its
handoff.yml names; the action server and the sidecar each read that key from
the store *they* opened and send it back. The same value means the same store.
The value is a random token that says nothing about the deployment.
"""

from __future__ import annotations

import secrets
from typing import Optional

from ..core.store import Store

PROBE_KEY = "doctor:probe"


async def write_probe(store: Store) -> str:
    value = secrets.token_hex(8)
    await store.put(PROBE_KEY, {"value": value})
    return value


async def read_probe(store: Store) -> Optional[str]:
    found = await store.get(PROBE_KEY)
    return found.get("value") if isinstance(found, dict) else None
