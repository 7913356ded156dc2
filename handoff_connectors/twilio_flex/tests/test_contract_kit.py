"""Twilio Flex against the connector test kit: the contract suite on the fake Twilio, and one test per fixture.

The fake holds every request to Twilio's OpenAPI descriptions (its
`violations` are the spec errors). The desk's calls are Conversations
webhooks: forms signed with X-Twilio-Signature over the public URL Twilio
called (a proxy's X-Forwarded-Proto/Host carry it to the sidecar) and the
fields. The fixtures are such forms, as Twilio posts them.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from handoff_connectors.twilio_flex import TwilioFlexConnector
from handoff_connectors.twilio_flex.connector import CONVERSATION_KEY
from handoff_connectors.testing import ConnectorContract, fixture_cases

from .conftest import AUTH_TOKEN, FIXTURE_CONVERSATION, FIXTURE_USER, FIXTURES, MARTA, PUBLIC_WEBHOOK, fake_twilio, settings
from .fake_twilio import twilio_call

class TestTwilioFlexContract(ConnectorContract):
    signature_headers = ("x-twilio-signature",)
    signs_body = True

    def desk(self):
        return fake_twilio()

    def connector(self, desk, store):
        return TwilioFlexConnector(settings(**desk.base_urls()), store)

    def connector_at(self, url, store, timeout):
        return TwilioFlexConnector(settings(**fake_twilio_urls(url), timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        form = desk.event(conversation_id, "onMessageAdded", MessageSid="IM" + "1" * 32, Author=MARTA.identity, Body="Hi, I'm Marta", Index="2")
        return desk.call(PUBLIC_WEBHOOK, form)

    def malformed_calls(self, desk, conversation_id):
        def without(name, **fields):
            form = desk.event(conversation_id, "onMessageAdded", MessageSid="IM" + "2" * 32, Author=MARTA.identity, Body="Hi", **fields)
            del form[name]
            return desk.call(PUBLIC_WEBHOOK, form), name

        media = desk.event(conversation_id, "onMessageAdded", MessageSid="IM" + "3" * 32, Author=MARTA.identity, Body="Hi", Media="[oops")
        closed = desk.event(conversation_id, "onConversationStateUpdated", StateFrom="active", StateTo="closed")
        del closed["StateTo"]
        return [
            without("EventType"),
            without("ConversationSid"),
            without("MessageSid"),
            (desk.call(PUBLIC_WEBHOOK, media), "Media"),
            (desk.call(PUBLIC_WEBHOOK, closed), "StateTo"),
        ]

    def desk_requests(self, desk):
        return desk.calls

    def spec_errors(self, desk):
        return list(desk.violations)


def fake_twilio_urls(url: str) -> dict:
    return {"conversations_url": url, "flex_url": url, "taskrouter_url": url, "media_url": url}


FIXTURE_MEDIA = "ME2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f0a"


# Each fixture's events with FIXTURE_CONVERSATION a live handoff of ours, whose user is FIXTURE_USER;
# the agent's name and file link come from the fake Twilio, as they would from Twilio.
@pytest.mark.parametrize("case", fixture_cases(FIXTURES, pattern="*.form"))
async def test_each_fixture_reads_as_expected(case, store, fake):
    fake.media[FIXTURE_MEDIA] = {"filename": "invoice-7731.pdf", "content_type": "application/pdf", "url": "https://media.twiliocdn.example/t/invoice-7731.pdf"}
    connector = TwilioFlexConnector(settings(**fake.base_urls()), store)
    await store.put(CONVERSATION_KEY + FIXTURE_CONVERSATION, {"identity": FIXTURE_USER})
    form = dict(parse_qsl(case.body.decode().strip(), keep_blank_values=True))
    try:
        await case.check(connector, twilio_call(PUBLIC_WEBHOOK, form, AUTH_TOKEN))
    finally:
        await connector.aclose()
