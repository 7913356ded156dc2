"""Genesys against the connector test kit: the contract suite on the fake org, and one test per fixture.

The fake holds every request to the shapes Genesys documents (see
fake_genesys.py); an agent's Text message, signed with the integration's
secret token, is the desk's call.
"""

from __future__ import annotations

import json

import pytest

from handoff_connectors.genesys import WEBHOOK_PATH, GenesysConnector
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases

from .conftest import FIXTURES, built, fake_org, settings
from .fake_genesys import FakeGenesys


def call(fake: FakeGenesys, body: dict | bytes, secret: str | None = None):
    raw, headers = fake.signed(body, secret)
    return desk_call(WEBHOOK_PATH, raw, headers)


class TestGenesysContract(ConnectorContract):
    signature_headers = ("x-hub-signature-256",)
    signs_body = True

    def desk(self):
        return fake_org()

    def connector(self, desk, store):
        return GenesysConnector(settings(desk.url), store)

    def connector_at(self, url, store, timeout):
        return GenesysConnector(settings(url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return call(desk, desk.says(conversation_id, "Marta Ruiz", "Hi, I'm Marta"))

    def malformed_calls(self, desk, conversation_id):
        no_type = desk.says(conversation_id, "Marta Ruiz", "hello")
        del no_type["type"]
        no_to = desk.says(conversation_id, "Marta Ruiz", "hello")
        del no_to["channel"]["to"]["id"]
        no_id = desk.says(conversation_id, "Marta Ruiz", "hello")
        no_id["id"] = ""
        no_text = desk.says(conversation_id, "Marta Ruiz", "")
        no_channel = desk.outbound(conversation_id, agent="Marta Ruiz", text="hi", channel="none")
        return [
            (call(desk, no_type), "type"),
            (call(desk, no_to), "channel.to.id"),
            (call(desk, no_id), "id"),
            (call(desk, no_text), "text"),
            (call(desk, no_channel), "channel"),
        ]

    def desk_requests(self, desk):
        return desk.requests

    def spec_errors(self, desk):
        return list(desk.violations)


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, pattern="*"))
async def test_each_fixture_reads_as_expected(case, store):
    fake = fake_org()
    connector = built("http://127.0.0.1:9", store)
    try:
        await case.check(connector, call(fake, case.body))
    finally:
        await connector.aclose()


async def test_fixtures_name_the_integration_the_tests_use():
    # The fixtures' channel.id is the integration under test: the agent-name rule depends on it.
    for path in FIXTURES.glob("*.json"):
        if not path.name.endswith(".events.json"):
            body = json.loads(path.read_bytes())
            assert body["channel"]["id"] == settings().integration_id, path.name
