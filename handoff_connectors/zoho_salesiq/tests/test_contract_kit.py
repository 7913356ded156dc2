"""Zoho SalesIQ against the connector test kit: the contract suite on the fake portal, and one test per fixture.

The fake holds every request to SalesIQ's documented shapes (its
`violations` are the spec errors) and signs its webhooks with its own RSA
key, whose public half the connector is configured with.
"""

from __future__ import annotations

import json

import pytest

from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases
from handoff_connectors.zoho_salesiq import WEBHOOK_PATH, ZOBOT_PATH
from handoff_connectors.zoho_salesiq.connector import CONVERSATION_KEY

from .conftest import FIXTURE_CONVERSATION, FIXTURES, connector_for, new_fake, settings_for
from .fake_salesiq import key_pair, public_key_text, sign


def fixture(name: str, conversation_id: str | None = None) -> dict:
    payload = json.loads((FIXTURES / f"{name}.json").read_bytes())
    if conversation_id is not None:
        payload["entity_id"] = conversation_id
        payload["entity"]["id"] = conversation_id
    return payload


def signed(payload: dict | bytes, path: str = WEBHOOK_PATH):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return desk_call(path, raw, {"x-siqsignature": sign(key_pair(), raw)})


class TestZohoSalesIQContract(ConnectorContract):
    signature_headers = ("x-siqsignature",)
    signs_body = True

    def desk(self):
        return new_fake()

    def connector(self, desk, store):
        return connector_for(settings_for(desk.url, desk.public_key), store)

    def connector_at(self, url, store, timeout):
        return connector_for(settings_for(url, public_key_text(key_pair()), timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return signed(fixture("operator_replied", conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_event = fixture("operator_replied", conversation_id)
        del no_event["event"]
        no_message = fixture("operator_replied", conversation_id)
        del no_message["entity"]["message"]
        wrong_text = fixture("operator_replied", conversation_id)
        wrong_text["entity"]["message"]["text"] = {"html": "<p>hi</p>"}
        no_entity = fixture("operator_replied", conversation_id)
        no_entity["entity"] = "4000"
        return [
            (signed(no_event), "event"),
            (signed(no_message), "entity.message"),
            (signed(wrong_text), "entity.message.text"),
            (signed(no_entity), "entity"),
        ]

    def desk_requests(self, desk):
        return desk.requests

    def spec_errors(self, desk):
        return list(desk.violations)


@pytest.mark.parametrize("case", fixture_cases(FIXTURES))
async def test_each_fixture_reads_as_expected(case, store):
    # Zobot mode, so the Zobot's calls count too; the fixture conversation is a channel handoff of ours.
    connector = connector_for(settings_for("http://127.0.0.1:9", public_key_text(key_pair()), mode="zobot"), store)
    await store.put(CONVERSATION_KEY + FIXTURE_CONVERSATION, {"handoff_id": "h1", "zobot": False})
    path = ZOBOT_PATH if case.name.startswith("zobot_") else WEBHOOK_PATH
    try:
        await case.check(connector, signed(case.body, path))
    finally:
        await connector.aclose()
