"""The local desk's data: conversations, their messages and the agents' presence, in the store.

The connector writes conversations and user messages here (delivered by the
sidecar); the inbox page reads them and agents join, reply and close there.
Every process shares the store, so `version` tells the inbox page's event
stream that something changed.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from ..core.contract import HandoffRequest
from ..core.store import Store, locked

INDEX_KEY = "local:index"
VERSION_KEY = "local:version"
AGENTS_KEY = "local:agents"
# Closed conversations stay visible in the inbox this long.
KEEP_CLOSED_SECONDS = 3600.0


def conversation_key(conversation_id: str) -> str:
    return f"local:conversation:{conversation_id}"


class LocalDesk:
    """The inbox's data: conversations, their messages, the agents' presence."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def version(self) -> float:
        return (await self.store.get(VERSION_KEY) or {}).get("at", 0.0)

    async def _changed(self) -> None:
        await self.store.put(VERSION_KEY, {"at": time.time()})

    async def conversation(self, conversation_id: str) -> Optional[dict[str, Any]]:
        return await self.store.get(conversation_key(conversation_id))

    async def save(self, conversation: dict[str, Any]) -> None:
        await self.store.put(conversation_key(conversation["id"]), conversation)
        await self._changed()

    async def open(self, request: HandoffRequest) -> None:
        conversation = {
            "id": request.handoff_id,
            "sender_id": request.sender_id,
            "email": request.email,
            "language": request.language,
            "routing": request.routing,
            "message_to_agent": request.message_to_agent,
            "transcript": [{"speaker": t.speaker.value, "text": t.text} for t in request.transcript],
            "latest_question": request.latest_question,
            "status": "waiting",
            "agent": None,
            "created_at": request.created_at or time.time(),
            "closed_at": None,
            "messages": [],
        }
        async with locked(self.store, f"lock:{INDEX_KEY}"):
            index = (await self.store.get(INDEX_KEY) or {}).get("ids", [])
            await self.store.put(INDEX_KEY, {"ids": [*self._recent(index), request.handoff_id]})
        await self.save(conversation)

    def _recent(self, ids: list[str]) -> list[str]:
        return ids[-500:]

    async def conversations(self) -> list[dict[str, Any]]:
        ids = (await self.store.get(INDEX_KEY) or {}).get("ids", [])
        found = [await self.conversation(conversation_id) for conversation_id in ids]
        cutoff = time.time() - KEEP_CLOSED_SECONDS
        return [
            c for c in found if c and (c["status"] != "closed" or (c["closed_at"] or 0) > cutoff)
        ]

    async def add_message(self, conversation_id: str, sender: str, text: str, message_id: str) -> dict:
        async with locked(self.store, f"lock:{conversation_key(conversation_id)}"):
            return await self._add_message(conversation_id, sender, text, message_id)

    async def _add_message(self, conversation_id: str, sender: str, text: str, message_id: str) -> dict:
        conversation = await self.conversation(conversation_id)
        if conversation is None:
            raise KeyError(conversation_id)
        if any(m["id"] == message_id for m in conversation["messages"]):
            return conversation
        conversation["messages"].append(
            {"id": message_id, "from": sender, "text": text, "at": time.time()}
        )
        await self.save(conversation)
        return conversation

    async def set_status(self, conversation_id: str, status: str, agent: Optional[str] = None) -> dict:
        async with locked(self.store, f"lock:{conversation_key(conversation_id)}"):
            return await self._set_status(conversation_id, status, agent)

    async def _set_status(self, conversation_id: str, status: str, agent: Optional[str]) -> dict:
        conversation = await self.conversation(conversation_id)
        if conversation is None:
            raise KeyError(conversation_id)
        conversation["status"] = status
        if agent is not None:
            conversation["agent"] = agent
        if status == "closed":
            conversation["closed_at"] = time.time()
        await self.save(conversation)
        return conversation

    async def agents(self) -> dict[str, dict[str, Any]]:
        return await self.store.get(AGENTS_KEY) or {}

    async def set_presence(self, agent: str, available: bool) -> None:
        async with locked(self.store, f"lock:{AGENTS_KEY}"):
            agents = await self.agents()
            agents[agent] = {"available": available, "at": time.time()}
            await self.store.put(AGENTS_KEY, agents)
        await self._changed()
