"""LiveChat against the connector test kit: the contract suite on the fake LiveChat, and one test per fixture.

The fake holds every request to the documented shapes of LiveChat's v3.5
pages (its `violations` are the spec errors). LiveChat carries its webhook
credential in the body (`secret_key`), not in a header, so the kit's header
forgeries do not apply; the same proof (refused 401 through the sidecar,
nothing queued, the genuine call then delivered) is made here with the body.
"""

from __future__ import annotations

import json

import httpx
import pytest

from handoff_connectors.livechat import WEBHOOK_PATH, LiveChatConnector
from handoff_connectors.livechat.connector import CHAT_KEY
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases, send_call, served_sidecar

from .conftest import (
    BOT, FIXTURE_CHAT, FIXTURE_CUSTOMER, FIXTURE_WIDGET_CHAT, FIXTURE_WIDGET_CUSTOMER, FIXTURES, MARTA, SECRET,
    fake_livechat, settings,
)


def call(body: dict | bytes):
    return desk_call(WEBHOOK_PATH, body if isinstance(body, bytes) else json.dumps(body).encode())


def agent_reply(desk, chat_id: str, **changes) -> dict:
    event = {"id": f"{chat_id}_7", "type": "message", "text": "Hi, I'm Marta", "author_id": MARTA.id,
             "created_at": "2025-03-04T10:00:00.000000Z", "visibility": "all"}
    payload = {"chat_id": chat_id, "thread_id": "T1", "event": event}
    body = desk.webhook("incoming_event", payload)
    body.update(changes)
    return body


class TestLiveChatContract(ConnectorContract):
    not_applicable = {
        "signatures": "LiveChat's credential is the body's secret_key, not a header: "
                      "test_a_webhook_without_the_secret_key_is_refused_and_reaches_nobody proves it",
    }

    def desk(self):
        return fake_livechat()

    def connector(self, desk, store):
        return LiveChatConnector(settings(desk.url), store)

    def connector_at(self, url, store, timeout):
        return LiveChatConnector(settings(url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return call(agent_reply(desk, conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_event_id = agent_reply(desk, conversation_id)
        del no_event_id["payload"]["event"]["id"]
        no_chat = agent_reply(desk, conversation_id)
        del no_chat["payload"]["chat_id"]
        return [
            (call(agent_reply(desk, conversation_id, action=None)), "action"),
            (call(agent_reply(desk, conversation_id, payload=[])), "payload"),
            (call(no_event_id), "payload.event.id"),
            (call(no_chat), "payload.chat_id"),
            (call(b"{not json"), "JSON"),
        ]

    def desk_requests(self, desk):
        return desk.server.requests

    def spec_errors(self, desk):
        return list(desk.violations)


async def test_a_webhook_without_the_secret_key_is_refused_and_reaches_nobody(store):
    with fake_livechat() as desk:
        connector = LiveChatConnector(settings(desk.url), store)
        try:
            async with served_sidecar(connector, store) as sidecar, httpx.AsyncClient() as http:
                handoff = await sidecar.open_handoff()
                genuine = agent_reply(desk, handoff.desk_conversation_id)
                before = await store.depths()
                forged = [
                    {k: v for k, v in genuine.items() if k != "secret_key"},
                    {**genuine, "secret_key": "not-the-secret"},
                    {**genuine, "secret_key": SECRET.upper()},
                    {**genuine, "organization_id": "another-organization"},
                ]
                for body in forged:
                    response = await send_call(http, sidecar.url, call(body))
                    assert response.status_code == 401, response.text
                assert await sidecar.queued_for_rasa(handoff.sender_id) == []
                assert await store.depths() == before
                response = await send_call(http, sidecar.url, call(genuine))
                assert response.status_code == 200
                assert len(await sidecar.queued_for_rasa(handoff.sender_id)) == 1
        finally:
            await connector.aclose()
    assert desk.violations == []


# Each fixture's events, read in bot_agent mode with FIXTURE_CHAT a channel-mode handoff of
# ours and FIXTURE_WIDGET_CHAT a widget chat whose customer is known: they depend on that
# state, so they are named here rather than in files beside the fixtures.
OURS = {"desk_conversation_id": FIXTURE_CHAT}
WIDGET = {"desk_conversation_id": FIXTURE_WIDGET_CHAT}
EXPECTED = {
    "incoming_event_agent_message": [{"event": "AgentMessage", **OURS, "event_id": "RX3KT01_4",
                                      "text": "Hi Ana, I can see your order #7731.", "attachments": []}],
    "incoming_event_agent_file": [{"event": "AgentMessage", **OURS, "text": "", "attachments": [
        "https://cdn.livechat-files.example/api/file/lc/att/8948324/refund-form.pdf"]}],
    "incoming_event_customer_echo": [],
    "incoming_event_internal_note": [],
    "incoming_event_system_message": [],
    "user_added_to_chat_agent": [{"event": "AgentJoined", **OURS, "agent_name": "Marta Ruiz"}],
    "user_added_to_chat_bot": [],
    "chat_deactivated": [{"event": "ConversationClosed", **OURS, "event_id": "deactivated:RX3KQ2B7ZC:RX3KT01"}],
    "chat_transferred_queued": [{"event": "QueuePosition", **OURS, "position": 3, "wait_seconds": 240.0}],
    "chat_transferred_agent": [{"event": "Transferred", **OURS, "to_agent": "jonas@acme.example"}],
    "incoming_chat_widget": [{"event": "UserWroteInDesk", **WIDGET, "event_id": "SW81T01_1",
                              "text": "Hello, do you ship to Portugal?", "email": "ana@example.com"}],
    "incoming_event_widget_customer": [{"event": "UserWroteInDesk", **WIDGET, "text": "I want to talk to a human"}],
    "incoming_event_widget_file": [{"event": "UserWroteInDesk", **WIDGET, "text": "", "attachments": [
        {"url": "https://cdn.livechat-files.example/api/file/lc/att/8948325/receipt.jpg", "name": "receipt.jpg",
         "content_type": "image/jpeg"}]}],
    "incoming_event_widget_agent": [],
    "routing_status_set": [],
    "wrong_secret": {"rejected": 401, "naming": "secret_key"},
    "malformed_no_action": {"rejected": 400, "naming": "action"},
    "malformed_no_chat_id": {"rejected": 400, "naming": "payload.chat_id"},
    "malformed_event_not_object": {"rejected": 400, "naming": "payload.event"},
}


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, EXPECTED, pattern="*"))
async def test_each_fixture_reads_as_expected(case, store):
    connector = LiveChatConnector(settings(mode="bot_agent"), store)
    await store.put(CHAT_KEY + FIXTURE_CHAT, {"handoff_id": "h1", "customer_id": FIXTURE_CUSTOMER, "bot": False})
    connector._remember(FIXTURE_WIDGET_CHAT, {FIXTURE_WIDGET_CUSTOMER: "ana@example.com"})
    try:
        await case.check(connector, call(case.body))
    finally:
        await connector.aclose()


def test_the_fixtures_name_the_bot_of_the_tests():
    assert BOT.id in (FIXTURES / "user_added_to_chat_bot.json").read_text()
