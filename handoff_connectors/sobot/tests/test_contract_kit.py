"""The connector test kit's contract suite, run against the fake Sobot."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest_asyncio

from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.core.store import Store
from handoff_connectors.sobot import WEBHOOK_PATH, SobotConnector, sender_for
from handoff_connectors.testing import ConnectorContract, ServedSidecar, desk_call, served_sidecar

from .conftest import fake_sobot, settings
from .fake_sobot import FakeSobot, Visitor


class SobotSidecar(ServedSidecar):
    """Handoffs opened for a visitor of Sobot's widget: Sobot hands over no one else (desk to desk)."""

    desk: FakeSobot

    async def open_handoff(self, sender_id: str | None = None, text: str = "I want to talk to a human"):
        return await super().open_handoff(sender_id or sender_for(self.desk.new_visitor().uid), text)


class TestSobotContract(ConnectorContract):
    signature_headers = ("x-log-sign", "x-log-timestamp", "x-log-randomcode")
    # X-Log-Sign covers the company, the time and a random code, not the body (see doc.md).
    signs_body = False

    def desk(self):
        return fake_sobot()

    def connector(self, desk: FakeSobot, store: Store) -> SobotConnector:
        return SobotConnector(settings(desk.url), store)

    def connector_at(self, url: str, store: Store, timeout: float) -> SobotConnector:
        return SobotConnector(settings(url, timeout=timeout), store)

    @pytest_asyncio.fixture
    async def sidecar(self, running_desk: FakeSobot, kit_store: Store) -> AsyncIterator[ServedSidecar]:
        connector = self.connector(running_desk, kit_store)
        connector.tokens = SharedToken(kit_store, connector.name, connector.fetch_token)
        try:
            async with served_sidecar(connector, kit_store) as served:
                wrapped = SobotSidecar(served.url, served.service, served.store)
                wrapped.desk = running_desk
                yield wrapped
        finally:
            await connector.aclose()

    def _visitor(self, desk: FakeSobot, uid: str) -> Visitor:
        return desk.visitors.get(uid) or Visitor(uid=uid, cid="c-unknown")

    def agent_message(self, desk: FakeSobot, conversation_id: str):
        item = desk.agent_item(self._visitor(desk, conversation_id), "Marta", "Hi, I'm Marta")
        raw, headers = desk.signed([item])
        return desk_call(WEBHOOK_PATH, raw, headers)

    def malformed_calls(self, desk: FakeSobot, conversation_id: str):
        visitor = self._visitor(desk, conversation_id)
        calls = []
        for field in ("msgid", "uid", "type", "sender_type"):
            item = desk.agent_item(visitor, "Marta", "Hi")
            del item[field]
            calls.append((desk_call(WEBHOOK_PATH, *desk.signed([item])), field))
        not_a_number = {**desk.agent_item(visitor, "Marta", "Hi"), "sender_type": "agent"}
        calls.append((desk_call(WEBHOOK_PATH, *desk.signed([not_a_number])), "sender_type"))
        no_url = desk.agent_item(visitor, "Marta", "", msg_type="image")
        calls.append((desk_call(WEBHOOK_PATH, *desk.signed([no_url])), "content"))
        calls.append((desk_call(WEBHOOK_PATH, *desk.signed(b"not json")), "body"))
        calls.append((desk_call(WEBHOOK_PATH, *desk.signed(b'"a string"')), "body"))
        return calls

    def desk_requests(self, desk: FakeSobot) -> list[Any]:
        return desk.server.requests

    def spec_errors(self, desk: FakeSobot) -> list[str]:
        return desk.violations

