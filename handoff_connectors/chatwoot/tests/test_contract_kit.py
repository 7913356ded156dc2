"""Chatwoot against the connector test kit: the contract suite on the fake account, and one test per fixture.

The fake holds every request to Chatwoot's swagger.json (its `violations`
are the spec errors). An agent's reply is the desk's signed
`message_created`; the fixtures give the shapes, with the conversation set
to the one under test.
"""

from __future__ import annotations

import json
import time

import pytest

from handoff_connectors.chatwoot import WEBHOOK_PATH, ChatwootConnector
from handoff_connectors.chatwoot.signing import signature
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases

from .conftest import FIXTURES, SECRET, fake_account, settings
from .fake_chatwoot import fixture_about

FIXTURE_CONVERSATION = 4711


def fixture(name: str, conversation_id=None, **changes) -> dict:
    return fixture_about(FIXTURES, name, conversation_id, **changes)


def signed(payload: dict | bytes):
    """The call as a signing Chatwoot makes it, timestamped now."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {"x-chatwoot-timestamp": stamp, "x-chatwoot-signature": signature(SECRET, stamp, raw)}
    return desk_call(WEBHOOK_PATH, raw, headers)


class TestChatwootContract(ConnectorContract):
    signature_headers = ("x-chatwoot-signature",)
    signs_body = True

    def desk(self):
        return fake_account()

    def connector(self, desk, store):
        return ChatwootConnector(settings(desk.url), store)

    def connector_at(self, url, store, timeout):
        return ChatwootConnector(settings(url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return signed(fixture("agent_replied", conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_event = fixture("agent_replied", conversation_id)
        del no_event["event"]
        no_conversation = fixture("agent_replied", conversation_id)
        del no_conversation["conversation"]
        return [
            (signed(no_event), "event"),
            (signed(no_conversation), "conversation"),
            (signed(fixture("agent_replied", conversation_id, id=None)), "id"),
            (signed(fixture("agent_replied", conversation_id, message_type=[])), "message_type"),
            (signed(fixture("agent_replied", conversation_id, attachments="none")), "attachments"),
        ]

    def desk_requests(self, desk):
        return desk.calls

    def spec_errors(self, desk):
        return list(desk.violations)


@pytest.mark.parametrize("case", fixture_cases(FIXTURES))
async def test_each_fixture_reads_as_expected(case, store):
    mode = "agent_bot" if case.name.startswith("bot_") else "channel"
    connector = ChatwootConnector(settings(mode=mode), store)
    try:
        if mode == "agent_bot":
            # The bot offered an End chat button in the visitor's conversation.
            await connector._remember_buttons("5120", [{"title": "End chat", "value": "/handoff_end"}])
        await case.check(connector, signed(case.body))
    finally:
        await connector.aclose()
