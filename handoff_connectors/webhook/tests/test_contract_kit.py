"""The webhook desk against the connector test kit: the contract suite, and one test per fixture."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases
from handoff_connectors.webhook import CLOSE_PATH, RECEIVE_PATH, WebhookConnector
from tests.support.reference_desk import ReferenceDesk, protocol_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
API_KEY = "kit-desk-key-5e81c2"
BASIC = ("rasa", "kit-basic-password-77")
SIGNED = {"authorization": f"Bearer {API_KEY}"}


def _settings(url: str, **fields):
    return WebhookConnector.Settings(url=url, api_key=API_KEY, username=BASIC[0], password=BASIC[1], **fields)


class TestWebhookContract(ConnectorContract):
    signature_headers = ("authorization",)

    def desk(self):
        return ReferenceDesk(api_key=API_KEY, basic_auth=BASIC)

    def connector(self, desk, store):
        return WebhookConnector(_settings(desk.url))

    def connector_at(self, url, store, timeout):
        return WebhookConnector(_settings(url, timeout=timeout))

    def agent_message(self, desk, conversation_id):
        body = {"conversation_id": conversation_id, "timestamp": int(time.time() * 1000), "body": "Hi, I'm Sam", "message_id": "m-1"}
        return desk_call(RECEIVE_PATH, body, SIGNED)

    def malformed_calls(self, desk, conversation_id):
        now = int(time.time() * 1000)
        return [
            (desk_call(RECEIVE_PATH, {"timestamp": now, "body": "hi"}, SIGNED), "conversation_id"),
            (desk_call(RECEIVE_PATH, {"conversation_id": conversation_id, "body": "hi"}, SIGNED), "timestamp"),
            (desk_call(RECEIVE_PATH, {"conversation_id": conversation_id, "timestamp": now, "body": ""}, SIGNED), "body"),
            (desk_call(CLOSE_PATH, {"conversation_id": conversation_id, "timestamp": "now"}, SIGNED), "timestamp"),
        ]

    def desk_requests(self, desk):
        return desk.server.requests

    def spec_errors(self, desk):
        return [f"{r.method} {r.path}: {error}" for r in desk.server.requests for error in protocol_errors(r)]

    def desk_stops_retrying(self, status):
        # GPTBots' protocol: 200 is delivered; 404 says the conversation is gone, which it does not retry.
        return status in (200, 404)


# What the connector reads from each of fixtures/*.json (the field a refusal names, for the malformed ones).
EXPECTED = {
    "agent_reply": [{"event": "AgentMessage", "desk_conversation_id": "4c1f0e9a7b2d4f6e8a3c5b7d9e1f2a3b", "text": "Hi Ana, this is Marta from Acme support. I'm looking at order 123 now."}],
    "agent_reply_with_message_id": [{"event": "AgentMessage", "event_id": "4c1f0e9a7b2d4f6e8a3c5b7d9e1f2a3b:desk-msg-000871"}],
    "agent_close": [{"event": "ConversationClosed", "event_id": "close:4c1f0e9a7b2d4f6e8a3c5b7d9e1f2a3b"}],
    "malformed_blank_body": {"rejected": 400, "naming": "body"},
    "malformed_body_object": {"rejected": 400, "naming": "body"},
    "malformed_conversation_id_number": {"rejected": 400, "naming": "conversation_id"},
    "malformed_empty_conversation_id": {"rejected": 400, "naming": "conversation_id"},
    "malformed_missing_body": {"rejected": 400, "naming": "body"},
    "malformed_missing_conversation_id": {"rejected": 400, "naming": "conversation_id"},
    "malformed_missing_timestamp": {"rejected": 400, "naming": "timestamp"},
    "malformed_not_an_object": {"rejected": 400, "naming": "object"},
    "malformed_timestamp_boolean": {"rejected": 400, "naming": "timestamp"},
    "malformed_timestamp_string": {"rejected": 400, "naming": "timestamp"},
    "malformed_truncated": {"rejected": 400, "naming": "JSON"},
}


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, EXPECTED))
async def test_each_fixture_reads_as_expected(case):
    path = CLOSE_PATH if case.name.endswith("close") else RECEIVE_PATH
    connector = WebhookConnector(_settings("http://127.0.0.1:9"))
    try:
        await case.check(connector, desk_call(path, case.body, SIGNED))
    finally:
        await connector.aclose()
