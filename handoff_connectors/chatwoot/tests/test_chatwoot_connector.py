"""The Chatwoot connector against the fake account: a handoff's requests, the bot's messages, webhooks' trust, status."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from handoff_connectors.chatwoot import WEBHOOK_PATH, ChatwootConnector
from handoff_connectors.chatwoot.signing import signature
from handoff_connectors.core.config import ConfigError, parse_config
from handoff_connectors.core.contract import (
    Attachment,
    CloseReason,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
    WebhookRejected,
)
from handoff_connectors.registry import connector_statuses
from handoff_connectors.testing import desk_call

from .conftest import API_INBOX, BOT_TOKEN, SAM, SECRET, TEAMS, USER_TOKEN, settings
from .fake_chatwoot import FakeChatwoot


def request(sender_id: str = "user-5c1e", email: str = "ana@example.com", **extra: Any) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=f"h-{sender_id}-{extra.get('routing')}", sender_id=sender_id, email=email, language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human", **extra,
    )


def call(payload: dict, stamp: int | None = None, secret: str = SECRET, query: dict | None = None):
    raw = json.dumps(payload).encode()
    moment = str(int(time.time()) if stamp is None else stamp)
    headers = {"x-chatwoot-timestamp": moment, "x-chatwoot-signature": signature(secret, moment, raw)}
    return desk_call(WEBHOOK_PATH, raw, headers, query=query)


REPLY = {"event": "message_created", "id": 9, "content": "hi", "message_type": "outgoing", "private": False,
         "sender": {"id": 41, "name": "Sam", "type": "user"}, "conversation": {"id": 12}}


async def test_a_handoff_opens_a_conversation_in_the_api_inbox_with_the_transcript_and_the_team(connector, fake: FakeChatwoot):
    conversation_id = await connector.start(request(routing="billing", message_to_agent="Wants to pay a bill"))

    conversation = fake.conversations[int(conversation_id)]
    contact = fake.contacts[conversation.contact_id]
    assert (contact.email, contact.identifier) == ("ana@example.com", "rasa:user-5c1e")
    assert conversation.inbox_id == API_INBOX and conversation.status == "open"
    assert conversation.team_id == TEAMS["billing"] and conversation.source_id == "rasa:user-5c1e"
    note, question, to_agent = fake.messages(int(conversation_id))
    assert note["private"] and "**User:** where is my order" in note["content"] and "routing: billing" in note["content"]
    assert (question["message_type"], question["content"], question["private"]) == ("incoming", "I want to talk to a human", False)
    assert to_agent["private"] and to_agent["content"] == "Message to the agent: Wants to pay a bill"


async def test_a_second_handoff_of_the_same_user_finds_the_contact_and_its_inbox(connector, fake: FakeChatwoot):
    first = await connector.start(request())
    second = await connector.start(request(routing="support"))
    assert first != second
    assert len(fake.contacts) == 1
    assert [c.status for c in fake.calls_to("create_contact_inbox")] == [200, 422]


async def test_a_contact_known_by_email_is_used_and_not_created_again(connector, fake: FakeChatwoot):
    known = fake.add_contact("Ana", "ana@example.com")
    conversation_id = await connector.start(request())
    assert fake.conversations[int(conversation_id)].contact_id == known.id
    assert fake.calls_to("create_contact") == []


async def test_a_failed_start_resumes_where_it_stopped(connector, fake: FakeChatwoot):
    from handoff_connectors.core.contract import DeskError

    original = fake._create_message
    calls = {"n": 0}

    def flaky(call, query, conversation_id):
        calls["n"] += 1
        if calls["n"] == 2:
            return 503, {"error": "busy"}
        return original(call, query, conversation_id)

    fake._create_message = flaky
    with pytest.raises(DeskError) as caught:
        await connector.start(request())
    assert caught.value.retryable
    conversation_id = await connector.start(request())
    assert len(fake.conversations) == 1
    assert [m["private"] for m in fake.messages(int(conversation_id))] == [True, False]


async def test_the_users_words_are_incoming_messages_with_files_as_links(connector, fake: FakeChatwoot):
    conversation_id = await connector.start(request())
    await connector.send(conversation_id, UserMessage("m1", "here is my receipt", time.time(), (Attachment("https://files.example/r.pdf"),)))
    last = fake.messages(int(conversation_id))[-1]
    assert (last["message_type"], last["content"]) == ("incoming", "here is my receipt\nhttps://files.example/r.pdf")


async def test_our_close_leaves_a_note_and_resolves(connector, fake: FakeChatwoot):
    conversation_id = await connector.start(request())
    await connector.close(conversation_id, CloseReason.TIMEOUT)
    assert fake.conversations[int(conversation_id)].status == "resolved"
    assert fake.messages(int(conversation_id))[-1]["private"]


async def test_in_agent_bot_mode_a_handoff_opens_the_visitors_conversation_and_assigns_the_team(bot_connector, fake: FakeChatwoot):
    visitor = fake.add_contact("Bo", "bo@example.com")
    conversation_id = fake.visitor_writes(visitor, "I want to talk to a human")
    sender = bot_connector.bot_sender(str(conversation_id))
    assert sender == f"chatwoot-{conversation_id}"

    assert await bot_connector.start(request(sender_id=sender, routing="billing")) == str(conversation_id)

    conversation = fake.conversations[conversation_id]
    assert (conversation.status, conversation.team_id) == ("open", TEAMS["billing"])
    assert all(c.token == BOT_TOKEN for c in fake.calls)
    assert fake.calls_to("create_conversation") == [] and fake.calls_to("create_contact") == []
    [note] = fake.messages(conversation_id, private=True)
    assert note["sender"]["type"] == "agent_bot"


async def test_the_bots_answers_are_outgoing_messages_and_its_buttons_a_select(bot_connector, fake: FakeChatwoot):
    conversation_id = fake.visitor_writes(fake.add_contact("Bo", "bo@example.com"), "hello")
    await bot_connector.post_bot_message(str(conversation_id), {"text": "Hello!", "image": "https://cdn.example/hi.png"})
    await bot_connector.post_bot_message(str(conversation_id), {"text": "Connecting you", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]})
    text, select = fake.messages(conversation_id, kind="outgoing")
    assert text["content"] == "Hello!\nhttps://cdn.example/hi.png"
    assert select["content_type"] == "input_select"
    assert select["content_attributes"] == {"items": [{"title": "End chat", "value": "/handoff_end"}]}
    assert await bot_connector._button_payload(str(conversation_id), "end chat") == "/handoff_end"


async def test_an_old_timestamp_is_refused_even_when_signed(connector):
    with pytest.raises(WebhookRejected) as caught:
        await connector.parse_webhook(call(REPLY, stamp=int(time.time()) - 3600))
    assert caught.value.status == 401 and "too old" in caught.value.reason
    assert (await connector.parse_webhook(call(REPLY))).events


async def test_unsigned_calls_are_refused_unless_the_settings_accept_them_and_then_need_the_url_token(store):
    raw = json.dumps(REPLY).encode()
    strict = ChatwootConnector(settings(), store)
    lenient = ChatwootConnector(settings(webhook_secret=None, accept_unsigned_webhooks=True, webhook_token="t0k-9"), store)
    try:
        with pytest.raises(WebhookRejected):
            await strict.parse_webhook(desk_call(WEBHOOK_PATH, raw))
        with pytest.raises(WebhookRejected) as caught:
            await lenient.parse_webhook(desk_call(WEBHOOK_PATH, raw, query={"token": ["wrong"]}))
        assert "token" in caught.value.reason
        assert (await lenient.parse_webhook(desk_call(WEBHOOK_PATH, raw, query={"token": ["t0k-9"]}))).events
    finally:
        await strict.aclose()
        await lenient.aclose()


def test_settings_say_what_each_mode_needs():
    with pytest.raises(ValidationError, match="inbox_id"):
        settings(inbox_id=None)
    with pytest.raises(ValidationError, match="bot_access_token"):
        settings(mode="agent_bot", bot_access_token=None)
    with pytest.raises(ValidationError, match="webhook_secret"):
        settings(webhook_secret=None)
    with pytest.raises(ValidationError, match="url"):
        settings(url="ftp://chatwoot.example")
    assert USER_TOKEN not in repr(settings())


def _config(url: str) -> dict:
    return {"connector": "chatwoot", "connectors": {"chatwoot": {
        "url": url, "account_id": 7, "api_access_token": USER_TOKEN, "inbox_id": API_INBOX, "webhook_secret": SECRET}}}


async def test_status_is_available_with_working_credentials_and_unavailable_once_revoked(fake: FakeChatwoot, store):
    config = parse_config(_config(fake.url))
    assert (await connector_statuses(config, store))["chatwoot"] is ServiceStatus.AVAILABLE
    fake.revoke()
    assert (await connector_statuses(config, store))["chatwoot"] is ServiceStatus.UNAVAILABLE


def test_a_bad_section_names_the_field_and_keeps_the_token_secret():
    broken = _config("http://127.0.0.1:9")
    broken["connectors"]["chatwoot"]["account_id"] = "seven"
    with pytest.raises(ConfigError) as caught:
        parse_config(broken)
    assert "account_id" in str(caught.value) and USER_TOKEN not in str(caught.value)


async def test_an_agents_reply_reaches_the_user_with_its_files(connector, fake: FakeChatwoot):
    conversation_id = await connector.start(request())
    message = fake.agent_replies(int(conversation_id), SAM, "Here you go", attachments=(
        {"file_type": "file", "data_url": "https://cw.example/blobs/invoice.pdf"},))
    [event] = (await connector.parse_webhook(call({**message, "event": "message_created",
                                                    "conversation": fake.conversation_json(fake.conversations[int(conversation_id)])}))).events
    assert (event.text, event.agent_name, event.attachments) == ("Here you go", "Sam Okafor", ("https://cw.example/blobs/invoice.pdf",))
