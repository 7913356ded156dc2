"""Service status from desk calls: Unavailable on refused credentials, back on success, logged once."""

from __future__ import annotations

import logging

import pytest

from handoff_connectors.core.contract import (
    CloseReason,
    Connector,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    UserMessage,
)
from handoff_connectors.core.handoffs import HandoffService
from handoff_connectors.core.outbox import Drained
from handoff_connectors.core.store import SqliteStore


class FlakyCredentialsDesk(Connector):
    name = "flaky"

    def __init__(self) -> None:
        self.refuse = True

    async def start(self, request: HandoffRequest) -> str:
        return request.handoff_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        if self.refuse:
            raise DeskError("POST /chat answered 401", retryable=True, auth=True)

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        return None

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE


@pytest.fixture
async def store(tmp_path):
    opened = SqliteStore(str(tmp_path / "s.sqlite"))
    yield opened
    await opened.close()


async def test_refused_credentials_make_the_desk_unavailable_until_a_call_succeeds(store, caplog):
    desk = FlakyCredentialsDesk()
    service = HandoffService(store, desk)
    desk.refuse = False
    handoff = await service.open("u1", "a@b.co", "en", [], "help")
    await service.deliver_to_desk(f"to_desk:{handoff.handoff_id}")
    assert await service.status() is ServiceStatus.AVAILABLE

    desk.refuse = True
    caplog.set_level(logging.INFO, logger="handoff_connectors.core.handoffs")
    await service.relay(handoff, "one")
    await service.relay(handoff, "two")  # queued behind "one", not tried yet
    await service.deliver_to_desk(f"to_desk:{handoff.handoff_id}")
    assert await service.status() is ServiceStatus.UNAVAILABLE
    unavailable = [r for r in caplog.records if "Unavailable" in r.getMessage()]
    assert len(unavailable) == 1, "logged once, not at every retry"
    assert "401" in unavailable[0].getMessage()

    desk.refuse = False
    assert await service.deliver_to_desk(f"to_desk:{handoff.handoff_id}") is Drained.EMPTY
    assert await service.status() is ServiceStatus.AVAILABLE
    assert any("Available again" in r.getMessage() for r in caplog.records)
