"""The Salesforce connector's calls, as the end user of a Custom Client deployment, against the fake Messaging API."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from pydantic import ValidationError

from handoff_connectors.core.config import HandoffConfig, parse_config
from handoff_connectors.core.contract import CloseReason, DeskError, HandoffRequest, ServiceStatus, Speaker, Turn, UserMessage
from handoff_connectors.core.events import Attachment
from handoff_connectors.registry import connector_statuses
from handoff_connectors.salesforce import SalesforceConnector
from handoff_connectors.salesforce.connector import CONVERSATION_KEY

from .conftest import settings
from .fake_miaw import ORG_ID, FakeMessaging


def request(**fields) -> HandoffRequest:
    values = dict(
        handoff_id=uuid.uuid4().hex,
        sender_id="user-1",
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to pay my bill",
        routing="billing",
        message_to_agent="Customer wants to pay a bill",
        attributes={"Account_Number": "A-7731"},
        created_at=time.time(),
    )
    values.update(fields)
    return HandoffRequest(**values)


async def test_a_handoff_opens_a_conversation_with_routing_attributes_and_the_transcript(connector, fake: FakeMessaging, store):
    conversation_id = await connector.start(request())

    conversation = fake.conversations[conversation_id]
    assert conversation.routing_attributes == {"Account_Number": "A-7731", "Queue": "billing", "Email": "ana@example.com"}
    summary, question = fake.texts(conversation_id)
    assert summary.splitlines() == [
        "[Handoff from the bot] email: ana@example.com, language: en, routing: billing, Account_Number: A-7731",
        "Message to the agent: Customer wants to pay a bill",
        "Chat with the bot so far:",
        "User: where is my order",
        "Bot: Orders ship within two days.",
    ]
    assert question == "I want to pay my bill"
    # The token call carried the org and deployment, and the end user's token is kept with the conversation.
    token_call = fake.requests[0]
    assert token_call.json() == {"orgId": ORG_ID, "esDeveloperName": fake.deployment, "capabilitiesVersion": "1", "platform": "Web"}
    record = await store.get(CONVERSATION_KEY + conversation_id)
    assert fake.tokens[record["token"]][0] == conversation.subject


async def test_each_handoff_is_a_new_end_user_of_its_own(connector, fake: FakeMessaging):
    first = await connector.start(request())
    second = await connector.start(request())
    assert fake.conversations[first].subject != fake.conversations[second].subject


async def test_a_start_that_failed_part_way_resumes_without_a_second_conversation(connector, fake: FakeMessaging):
    handoff = request()
    fake.failing = 503
    with pytest.raises(DeskError) as failed:
        await connector.start(handoff)
    assert failed.value.retryable
    fake.failing = None
    first = await connector.start(handoff)
    assert list(fake.conversations) == [first]
    assert len(fake.texts(first)) == 2


async def test_the_users_messages_reach_the_agent_as_the_end_user_with_files_as_links(connector, fake: FakeMessaging):
    conversation_id = await connector.start(request(message_to_agent=None))
    message = UserMessage("m-1", "here is my receipt", time.time(), (Attachment("https://files.example/receipt.pdf"),))
    await connector.send(conversation_id, message)
    await connector.send(conversation_id, message)  # a retry of the same message
    assert fake.texts(conversation_id)[2:] == ["here is my receipt\nhttps://files.example/receipt.pdf"]


async def test_closing_deletes_the_conversation_and_forgets_its_token(connector, fake: FakeMessaging, store):
    conversation_id = await connector.start(request())
    await connector.close(conversation_id, CloseReason.USER_CLOSED)
    assert fake.conversations[conversation_id].closed_by == "end user"
    assert await store.get(CONVERSATION_KEY + conversation_id) is None
    await connector.close(conversation_id, CloseReason.USER_CLOSED)  # again: nothing left to close
    await connector.send(conversation_id, UserMessage("late", "late", time.time()))
    assert len([r for r in fake.requests if r.method == "DELETE"]) == 1


async def test_a_token_near_its_end_is_renewed_before_a_call(fake: FakeMessaging, store):
    fake.token_lifetime = 1.0
    connector = SalesforceConnector(settings(fake.url, token_refresh_margin=0.5), store)
    try:
        conversation_id = await connector.start(request())
        await asyncio.sleep(0.6)
        await connector.send(conversation_id, UserMessage("m-2", "still there?", time.time()))
    finally:
        await connector.aclose()
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests][-2:] == ["continuation-access-token", "message"]
    assert fake.texts(conversation_id)[-1] == "still there?"


async def test_status_is_available_when_the_deployment_gives_out_tokens(connector):
    assert await connector.check() is ServiceStatus.AVAILABLE


async def test_status_is_unavailable_for_an_org_salesforce_does_not_know(fake: FakeMessaging, store):
    connector = SalesforceConnector(settings(fake.url, org_id="00D000000000001"), store)
    try:
        assert await connector.check() is ServiceStatus.UNAVAILABLE
    finally:
        await connector.aclose()


async def test_rasa_handoff_status_lists_salesforce_available_or_unavailable(fake: FakeMessaging, store, tmp_path):
    def config(org_id: str) -> HandoffConfig:
        section = {"messaging_url": fake.url, "org_id": org_id, "deployment": fake.deployment}
        return parse_config({"connector": "salesforce", "connectors": {"salesforce": section}})

    assert (await connector_statuses(config(ORG_ID), store))["salesforce"] is ServiceStatus.AVAILABLE
    assert (await connector_statuses(config("00D000000000001"), store))["salesforce"] is ServiceStatus.UNAVAILABLE


@pytest.mark.parametrize(
    "field, value",
    [("org_id", "005Hs00000Ab1cD"), ("messaging_url", "ftp://x.example"), ("deployment", "has spaces")],
)
def test_a_bad_setting_is_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError) as refused:
        settings(**{field: value})
    assert field in str(refused.value)


def test_numbers_in_fixed_routing_attributes_are_sent_as_text():
    assert settings(routing_attributes={"Priority": 1}).routing_attributes == {"Priority": "1"}
