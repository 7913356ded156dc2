"""The Zoho SalesIQ connector's own behaviours, against the fake portal over real HTTP."""

from __future__ import annotations

import time
import uuid

import pytest
from pydantic import ValidationError

from handoff_connectors.core.config import parse_config
from handoff_connectors.core.contract import (
    Attachment,
    CloseReason,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
    WebhookRejected,
)
from handoff_connectors.registry import connector_statuses, create_connector
from handoff_connectors.testing import desk_call, served_sidecar
from handoff_connectors.zoho_salesiq import WEBHOOK_PATH, ZOBOT_PATH, ZohoSalesIQConnector, sender_for
from handoff_connectors.zoho_salesiq.settings import DATA_CENTRES

from .conftest import APP_ID, CLIENT_ID, CLIENT_SECRET, DEPARTMENTS, JONAS, MARTA, REFRESH_TOKEN, SCREEN, connector_for, settings_for
from .fake_salesiq import key_pair, rsa, sign


def a_request(sender_id: str | None = None, routing: str | None = None, message_to_agent: str | None = None) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=uuid.uuid4().hex,
        sender_id=sender_id or f"user-{uuid.uuid4().hex[:8]}",
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human",
        routing=routing,
        message_to_agent=message_to_agent,
        created_at=time.time(),
        attributes={"plan": "gold"},
    )


def message(text: str, *files: Attachment) -> UserMessage:
    return UserMessage(uuid.uuid4().hex, text, time.time(), tuple(files))


# -- settings ------------------------------------------------------------------------------------


def test_each_data_centre_has_its_accounts_and_api_hosts():
    for region, (accounts, api) in DATA_CENTRES.items():
        made = settings_for("http://x", region=region, accounts_url=None, api_url=None)
        assert (made.accounts, made.api) == (accounts, api)
    assert DATA_CENTRES["eu"] == ("https://accounts.zoho.eu", "https://salesiq.zoho.eu")
    assert DATA_CENTRES["au"] == ("https://accounts.zoho.com.au", "https://salesiq.zoho.com.au")


def test_bad_settings_name_the_field_and_never_print_secrets():
    with pytest.raises(ValidationError) as caught:
        settings_for("http://x", public_key="not a key")
    assert "public_key" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        settings_for("http://x", refresh_token=" ", region="mars")
    assert "refresh_token" in str(caught.value) and "region" in str(caught.value)
    made = settings_for("http://x", department_id=2650000000002011)
    assert made.department_id == "2650000000002011"
    assert REFRESH_TOKEN not in repr(made) and CLIENT_SECRET not in repr(made)


def test_routing_names_map_to_department_ids():
    made = settings_for("http://x")
    assert made.department_for("billing") == DEPARTMENTS["billing"]
    assert made.department_for("unknown") == made.department_for(None) == DEPARTMENTS["support"]


# -- channel mode --------------------------------------------------------------------------------


async def test_a_handoff_opens_a_conversation_in_the_routings_department_with_the_transcript(fake, connector):
    request = a_request(routing="billing", message_to_agent="Customer wants to pay a bill")
    conversation_id = await connector.start(request)
    conversation = fake.conversations[conversation_id]
    assert conversation.department_id == DEPARTMENTS["billing"]
    assert conversation.question.splitlines() == [
        "I want to talk to a human",
        "",
        "Message to the agent: Customer wants to pay a bill",
        "",
        "Conversation with the bot:",
        "User: where is my order",
        "Bot: Orders ship within two days.",
    ]
    assert conversation.visitor["email"] == "ana@example.com"
    assert conversation.customer_info == {
        "email": "ana@example.com", "language": "en", "handoff_id": request.handoff_id, "routing": "billing", "plan": "gold",
    }


async def test_the_users_messages_and_files_reach_the_operator_as_the_visitor(fake, connector):
    conversation_id = await connector.start(a_request())
    await connector.send(conversation_id, message("here is my receipt", Attachment("https://files.example/receipt.pdf")))
    await connector.close(conversation_id, CloseReason.USER_CLOSED)
    assert fake.said(conversation_id, "visitor")[1:] == [
        "here is my receipt\nhttps://files.example/receipt.pdf",
        "[rasa-handoff] The user ended the chat.",
    ]


async def test_an_operators_reply_with_files_reaches_the_user_and_the_bots_own_mode_ignores_it(fake, connector, store):
    conversation_id = await connector.start(a_request())
    payload = fake.operator_says(conversation_id, MARTA, "Here you go", [{"url": "https://f.example/a.pdf", "name": "a.pdf", "type": "application/pdf"}], send=False)
    reply = await connector.parse_webhook(signed(payload))
    [event] = reply.events
    assert (event.text, event.agent_name, event.attachments) == ("Here you go", "Marta Ruiz", ("https://f.example/a.pdf",))
    joined = await connector.parse_webhook(signed(fake.operator_picks(conversation_id, MARTA, send=False)))
    assert [e.agent_name for e in joined.events] == ["Marta Ruiz"]
    moved = await connector.parse_webhook(signed(fake.operator_transfers(conversation_id, JONAS, send=False)))
    assert [e.to_agent for e in moved.events] == ["Jonas Weber"]


async def test_a_token_that_expires_mid_handoff_is_refreshed_without_losing_or_repeating_a_message(fake, store):
    connector = connector_for(settings_for(fake.url, fake.public_key), store)
    try:
        async with served_sidecar(connector, store) as sidecar:
            handoff = await sidecar.open_handoff()
            await sidecar.relay(handoff, "first")
            assert await sidecar.to_desk(handoff) == []
            fetched = fake.token_requests
            fake.expire_tokens()  # the hour is up while the handoff goes on
            await sidecar.relay(handoff, "second")
            await sidecar.relay(handoff, "third")
            assert await sidecar.to_desk(handoff) == []
            assert fake.token_requests == fetched + 1, "one refresh for the expired token, shared by both sends"
            said = fake.said(handoff.desk_conversation_id, "visitor")
            assert said[1:] == ["first", "second", "third"]
            rejected = [r for r in fake.requests if r.path.endswith("/messages")]
            assert len(rejected) == 4, "the refused send was tried once more, and only once"
    finally:
        await connector.aclose()


async def test_a_refused_call_after_a_fresh_token_is_an_auth_failure(fake, connector):
    conversation_id = await connector.start(a_request())
    fake.revoke()
    with pytest.raises(DeskError) as caught:
        await connector.send(conversation_id, message("hello"))
    assert caught.value.auth and not caught.value.retryable
    assert REFRESH_TOKEN not in str(caught.value) and CLIENT_SECRET not in str(caught.value)


async def test_an_error_salesiq_answers_with_200_is_a_refusal(fake, connector):
    with pytest.raises(DeskError) as caught:
        await connector.send("4000000000999", message("hello"))
    assert not caught.value.retryable and not caught.value.auth
    assert "1016" in str(caught.value)


# -- status ---------------------------------------------------------------------------------------


async def test_check_is_available_with_working_credentials_and_unavailable_once_revoked(fake, connector):
    assert await connector.check() is ServiceStatus.AVAILABLE
    fake.revoke()
    assert await connector.check() is ServiceStatus.UNAVAILABLE


async def test_rasa_handoff_status_reports_it_through_the_registry(fake, store):
    section = {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN, "screen_name": SCREEN,
        "app_id": APP_ID, "department_id": DEPARTMENTS["support"], "accounts_url": fake.url, "api_url": fake.url,
        "public_key": fake.public_key,
    }
    config = parse_config({"connector": "zoho_salesiq", "connectors": {"zoho_salesiq": section}})
    made = create_connector(config, store)
    try:
        assert isinstance(made, ZohoSalesIQConnector) and made.tokens is not None
    finally:
        await made.aclose()
    assert (await connector_statuses(config, store))["zoho_salesiq"] is ServiceStatus.AVAILABLE
    fake.revoke()
    assert (await connector_statuses(config, store))["zoho_salesiq"] is ServiceStatus.UNAVAILABLE


# -- signatures ----------------------------------------------------------------------------------


def signed(payload: dict, path: str = WEBHOOK_PATH, key=None):
    import json

    raw = json.dumps(payload).encode()
    return desk_call(path, raw, {"x-siqsignature": sign(key or key_pair(), raw)})


async def test_a_call_signed_with_another_key_or_unsigned_is_refused_401(fake, connector):
    conversation_id = await connector.start(a_request())
    payload = fake.operator_says(conversation_id, MARTA, "Send me your password", send=False)
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for call in (signed(payload, key=other), desk_call(WEBHOOK_PATH, payload), desk_call(WEBHOOK_PATH, payload, {"x-siqsignature": "%%%"})):
        with pytest.raises(WebhookRejected) as caught:
            await connector.parse_webhook(call)
        assert caught.value.status == 401
    zobot_call = desk_call(ZOBOT_PATH, fake.zobot_call(fake.visitor_opens_chat("Bo", "bo@example.com"), "hi"))
    with pytest.raises(WebhookRejected):
        await connector.parse_webhook(zobot_call)


async def test_a_second_key_verifies_too_for_key_rotation(fake, store):
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    from .fake_salesiq import public_key_text

    connector = connector_for(settings_for(fake.url, [public_key_text(other), fake.public_key]), store)
    try:
        conversation_id = await connector.start(a_request())
        reply = await connector.parse_webhook(signed(fake.operator_ends(conversation_id, send=False)))
        assert [type(e).__name__ for e in reply.events] == ["ConversationClosed"]
    finally:
        await connector.aclose()


async def test_without_a_public_key_calls_are_taken_unsigned(fake, store, caplog):
    connector = connector_for(settings_for(fake.url), store)
    try:
        assert "public_key is not set" in caplog.text
        conversation_id = await connector.start(a_request())
        reply = await connector.parse_webhook(desk_call(WEBHOOK_PATH, fake.operator_ends(conversation_id, send=False)))
        assert len(reply.events) == 1
    finally:
        await connector.aclose()


# -- Zobot mode ----------------------------------------------------------------------------------


async def test_the_zobot_reads_the_visitor_and_answers_through_the_api(fake, zobot):
    conversation_id = fake.visitor_opens_chat("Bo", "bo@example.com")
    reply = await zobot.parse_webhook(signed(fake.zobot_call(conversation_id, "hello", [{"url": "https://f.example/r.jpg", "type": "image/jpeg"}]), ZOBOT_PATH))
    [event] = reply.events
    assert (event.text, event.email, event.attachments) == ("hello", "bo@example.com", (Attachment("https://f.example/r.jpg", None, "image/jpeg"),))
    assert reply.reply.body == {"action": "reply", "replies": []}
    assert zobot.bot_sender(conversation_id) == sender_for(conversation_id)
    assert zobot.desk_conversation_of(sender_for(conversation_id)) == conversation_id
    await zobot.post_bot_message(conversation_id, {"text": "Pick one", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]})
    assert fake.said(conversation_id, "api") == ["Pick one\n- End chat"]
    typed = await zobot.parse_webhook(signed(fake.zobot_call(conversation_id, "end chat"), ZOBOT_PATH))
    assert typed.events[0].payload == "/handoff_end"


async def test_a_zobot_handoff_forwards_the_same_chat_to_the_department(fake, zobot):
    conversation_id = fake.visitor_opens_chat("Bo", "bo@example.com")
    assert await zobot.start(a_request(sender_for(conversation_id), routing="billing")) == conversation_id
    [transfer] = fake.conversations[conversation_id].transfers
    assert transfer["department_id"] == DEPARTMENTS["billing"] and "User: where is my order" in transfer["note"]
    await zobot.send(conversation_id, message("not relayed: the operator reads it in SalesIQ"))
    assert fake.said(conversation_id, "visitor") == []
    reply = await zobot.parse_webhook(signed(fake.operator_says(conversation_id, MARTA, "Hi Bo", send=False)))
    assert reply.events == []
    ended = await zobot.parse_webhook(signed(fake.operator_ends(conversation_id, send=False)))
    assert [type(e).__name__ for e in ended.events] == ["ConversationClosed"]
    assert len(fake.conversations) == 1, "no new conversation was opened"


async def test_in_channel_mode_the_zobot_endpoint_queues_nothing(fake, connector):
    conversation_id = fake.visitor_opens_chat("Bo", "bo@example.com")
    reply = await connector.parse_webhook(signed(fake.zobot_call(conversation_id, "hello"), ZOBOT_PATH))
    assert reply.events == [] and reply.reply.status == 200
    assert connector.desk_conversation_of(sender_for(conversation_id)) is None
