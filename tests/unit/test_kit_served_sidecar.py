"""The kit's served sidecar serves a desk that has no route of its own (read only from streams or polls)."""

from __future__ import annotations

from typing import Optional

import httpx

from handoff_connectors.core.contract import (
    CloseReason,
    Connector,
    EventSource,
    HandoffRequest,
    HasEventSources,
    ServiceStatus,
    UserMessage,
)
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.testing import served_sidecar


class StreamOnlyDesk(Connector, HasEventSources):
    name = "stream-only"

    async def start(self, request: HandoffRequest) -> str:
        return f"conv-{request.handoff_id[:8]}"

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        return None

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        return None

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE

    def conversation_source(self, desk_conversation_id: str) -> Optional[EventSource]:
        return None


async def test_a_desk_without_webhooks_or_routes_is_served_and_takes_a_handoff(tmp_path) -> None:
    store = SqliteStore(str(tmp_path / "kit.sqlite"))
    try:
        async with served_sidecar(StreamOnlyDesk(), store) as sidecar:
            async with httpx.AsyncClient() as client:
                assert (await client.get(sidecar.url + "/health")).json() == {"status": "ok"}
            handoff = await sidecar.open_handoff()
            assert handoff.desk_conversation_id.startswith("conv-")
    finally:
        await store.close()
