"""A handoff's records in the store, and the changes that make and end them.

`handoff:<id>` is the record; `active:<sender>` says which handoff a Rasa
conversation is in (one read for the actions on every user message);
`desk:<connector>:<desk conversation>` finds the handoff a desk event is
about. `live:<connector>` lists the connected handoffs, for desks read from a
stream per conversation. Everything here builds changes for one atomic
`store.write`; only the lookups read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from ..store import Change, Delete, Drop, Push, Put, Store

LIVE = "live:"


@dataclass
class Handoff:
    handoff_id: str
    sender_id: str
    connector: str
    email: str
    language: str
    created_at: float
    desk_conversation_id: Optional[str] = None
    routing: Optional[str] = None
    # When the user first saw an agent's message (the session officially began).
    first_reply_at: Optional[float] = None

    @classmethod
    def from_dict(cls, data: dict) -> "Handoff":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def desk_id(self) -> str:
        """The desk's conversation id (our handoff id until the desk gave one)."""
        return self.desk_conversation_id or self.handoff_id


def active_key(sender_id: str) -> str:
    return f"active:{sender_id}"


def record_key(handoff_id: str) -> str:
    return f"handoff:{handoff_id}"


def desk_key(connector: str, desk_conversation_id: str) -> str:
    return f"desk:{connector}:{desk_conversation_id}"


def live_queue(connector: str) -> str:
    return LIVE + connector


class Records:
    """Reads and change builders for one connector's handoffs."""

    def __init__(self, store: Store, connector: str) -> None:
        self.store = store
        self.connector = connector

    async def active(self, sender_id: str) -> Optional[Handoff]:
        """The sender's live handoff, in one read (its desk id may lag: `record` has it)."""
        data = await self.store.get(active_key(sender_id))
        return Handoff.from_dict(data) if data and "sender_id" in data else None

    async def record(self, handoff_id: str) -> Optional[Handoff]:
        data = await self.store.get(record_key(handoff_id))
        return Handoff.from_dict(data) if data else None

    async def by_desk_conversation(self, desk_conversation_id: str) -> Optional[Handoff]:
        pointer = await self.store.get(desk_key(self.connector, desk_conversation_id))
        if not pointer:
            return None
        return await self.record(pointer["handoff_id"])

    async def live(self, limit: int = 10_000) -> list[dict]:
        """The connected handoffs: {id (the handoff), desk_conversation_id}."""
        return await self.store.items(live_queue(self.connector), limit)

    # -- change builders -----------------------------------------------------------

    def opening(self, handoff: Handoff) -> list[Change]:
        record = dataclasses.asdict(handoff)
        pointer = {"handoff_id": handoff.handoff_id, "sender_id": handoff.sender_id}
        return [
            Put(record_key(handoff.handoff_id), record),
            # Desks that echo our id (the webhook protocol) are found by it at once,
            # even if the agent answers before `start` has returned.
            Put(desk_key(handoff.connector, handoff.handoff_id), pointer),
            Put(active_key(handoff.sender_id), record),
        ]

    def connected(self, handoff: Handoff, desk_id: str) -> list[Change]:
        handoff = dataclasses.replace(handoff, desk_conversation_id=desk_id)
        pointer = {"handoff_id": handoff.handoff_id, "sender_id": handoff.sender_id}
        live = {"id": handoff.handoff_id, "desk_conversation_id": desk_id}
        return [
            Put(record_key(handoff.handoff_id), dataclasses.asdict(handoff)),
            Put(desk_key(handoff.connector, desk_id), pointer),
            Push(live_queue(handoff.connector), live, once=f"live:{handoff.handoff_id}"),
        ]

    def replaced(self, handoff: Handoff) -> Put:
        return Put(record_key(handoff.handoff_id), dataclasses.asdict(handoff))

    def inactive(self, handoff: Handoff) -> Delete:
        """No message is relayed for the handoff any more (its timers go separately)."""
        return Delete(active_key(handoff.sender_id))

    def forgetting(self, handoff: Handoff) -> list[Change]:
        """Nothing finds the handoff from the desk side any more."""
        changes: list[Change] = [
            Delete(desk_key(handoff.connector, handoff.handoff_id)),
            Delete(record_key(handoff.handoff_id)),
            Drop(live_queue(handoff.connector), handoff.handoff_id),
        ]
        if handoff.desk_conversation_id:
            changes.append(Delete(desk_key(handoff.connector, handoff.desk_conversation_id)))
        return changes
