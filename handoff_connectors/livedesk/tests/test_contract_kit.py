"""LiveDesk against the connector test kit, and one test per fixture.

LiveDesk documents no webhook signature: its calls are trusted by the
secret token in the webhook URL, which the kit's header forgeries cannot
model, so `signatures` is declared not applicable here and the forgeries
are played on the token below instead.
"""

from __future__ import annotations

import json

import pytest

from handoff_connectors.livedesk import WEBHOOK_PATH, LiveDeskConnector
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases, send_call, served_sidecar

from handoff_connectors.chatwoot.tests.fake_chatwoot import fixture_about

from .conftest import FIXTURES, TOKEN, fake_project, settings


def fixture(name: str, conversation_id=None, **changes) -> dict:
    return fixture_about(FIXTURES, name, conversation_id, **changes)


def call(payload: dict | bytes, token: str | None = TOKEN):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return desk_call(WEBHOOK_PATH, raw, {}, query={"token": [token]} if token is not None else None)


class TestLiveDeskContract(ConnectorContract):
    not_applicable = {"signatures": "LiveDesk signs nothing; the URL's ?token= is checked (test_a_call_without_the_urls_token_...)"}

    def desk(self):
        return fake_project()

    def connector(self, desk, store):
        return LiveDeskConnector(settings(desk.url), store)

    def connector_at(self, url, store, timeout):
        return LiveDeskConnector(settings(url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return call(fixture("agent_replied", conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_event = fixture("agent_replied", conversation_id)
        del no_event["event"]
        return [
            (call(no_event), "event"),
            (call(fixture("agent_replied", conversation_id, conversation=None)), "conversation"),
            (call(fixture("agent_replied", conversation_id, private="no")), "private"),
        ]

    def desk_requests(self, desk):
        return desk.calls

    def spec_errors(self, desk):
        return list(desk.violations)


async def test_a_call_without_the_urls_token_is_refused_and_reaches_nobody(store):
    import httpx

    with fake_project() as desk:
        connector = LiveDeskConnector(settings(desk.url), store)
        try:
            async with served_sidecar(connector, store) as sidecar, httpx.AsyncClient() as http:
                handoff = await sidecar.open_handoff()
                genuine = fixture("agent_replied", handoff.desk_conversation_id)
                for forged in (call(genuine, None), call(genuine, TOKEN[:-1] + "x"), call(genuine, "")):
                    assert (await send_call(http, sidecar.url, forged)).status_code == 401
                assert await sidecar.queued_for_rasa(handoff.sender_id) == []
                assert (await send_call(http, sidecar.url, call(genuine))).status_code == 200
                assert await sidecar.queued_for_rasa(handoff.sender_id)
        finally:
            await connector.aclose()


@pytest.mark.parametrize("case", fixture_cases(FIXTURES))
async def test_each_fixture_reads_as_expected(case, store):
    mode = "desk" if case.name.startswith("desk_") else "channel"
    connector = LiveDeskConnector(settings(mode=mode), store)
    try:
        await case.check(connector, call(case.body))
    finally:
        await connector.aclose()
