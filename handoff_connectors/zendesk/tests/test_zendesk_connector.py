"""The Zendesk connector against the fake Sunshine app: a handoff in each mode, the user's files,
retries part-way, closing, the bot's own messages, the status, and the settings."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import yaml

from handoff_connectors.cli import main as cli
from handoff_connectors.core.config import ConfigError, parse_config
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
from handoff_connectors.zendesk import ZendeskConnector, sender_for
from handoff_connectors.zendesk.connector import CONVERSATION_KEY, conversation_for
from handoff_connectors.zendesk.settings import ZendeskConnectorSettings

from .conftest import APP_ID, KEY_ID, KEY_SECRET, WEBHOOK_SECRET, about, settings, webhook
from .fake_sunshine import FakeSunshine


def a_request(sender_id: str = "rasa-ana-01", routing: str | None = "billing", **extra) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=f"h-{sender_id}",
        sender_id=sender_id,
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to pay my bill",
        routing=routing,
        message_to_agent="Customer wants to pay a bill (A-77)",
        created_at=time.time(),
        **extra,
    )


def bodies(fake: FakeSunshine, suffix: str) -> list[dict]:
    return [json.loads(r.body) for r in fake.calls_to("POST", suffix)]


async def test_a_handoff_creates_the_user_and_conversation_posts_the_transcript_and_passes_control(fake, connector):
    conversation_id = await connector.start(a_request())

    [user] = fake.users.values()
    assert user["externalId"] == "rasa-ana-01" and user["email"] == "ana@example.com"
    conversation = fake.conversations[conversation_id]
    assert conversation.user_id == user["id"]
    transcript, question = fake.messages(conversation_id)
    assert transcript["author"] == {"type": "user", "userId": user["id"]} == question["author"]
    assert transcript["content"]["text"].splitlines() == [
        "Handoff from the bot (email: ana@example.com, language: en, routing: billing)",
        "Message to the agent: Customer wants to pay a bill (A-77)",
        "User: where is my order",
        "Bot: Orders ship within two days.",
    ]
    assert question["content"] == {"type": "text", "text": "I want to pay my bill"}
    # The agent workspace has it, the ticket starting at the transcript, tagged for billing.
    assert conversation.active is fake.agent_workspace
    [handoff] = conversation.control
    assert handoff["pass"] == fake.agent_workspace.name
    assert handoff["metadata"]["first_message_id"] == transcript["id"]
    assert handoff["metadata"]["dataCapture.systemField.tags"] == "handoff_billing"
    assert handoff["metadata"]["rasa_handoff_message_to_agent"] == "Customer wants to pay a bill (A-77)"
    assert bodies(fake, "/passControl")[0]["switchboardIntegration"] == "zd:agentWorkspace"


async def test_without_a_routing_the_default_tag_is_used_and_a_message_field_can_be_set(fake, store):
    connector = ZendeskConnector(settings(base_url=fake.url, message_ticket_field=360001234), store)
    try:
        conversation_id = await connector.start(a_request(routing=None))
    finally:
        await connector.aclose()
    [handoff] = fake.conversations[conversation_id].control
    assert handoff["metadata"]["dataCapture.systemField.tags"] == "handoff_support"
    assert handoff["metadata"]["dataCapture.ticketField.360001234"] == "Customer wants to pay a bill (A-77)"


async def test_a_sender_who_asked_before_is_found_by_external_id_not_created_again(fake, connector):
    first = await connector.start(a_request())
    second = await connector.start(dataclasses.replace(a_request(), handoff_id="h-again"))
    assert len(fake.users) == 1 and first != second
    assert fake.conversations[first].user_id == fake.conversations[second].user_id
    assert [r.path.rsplit("/", 1)[-1] for r in fake.calls_to("GET", "/rasa-ana-01")] == ["rasa-ana-01"]


async def test_a_start_that_failed_part_way_resumes_without_a_second_conversation(fake, connector):
    fake.failures.append(("POST", "/passControl", 503))
    request = a_request()
    with pytest.raises(DeskError) as failed:
        await connector.start(request)
    assert failed.value.retryable and not failed.value.auth
    conversation_id = await connector.start(request)
    assert len(fake.conversations) == 1 and len(fake.messages(conversation_id)) == 2
    assert fake.conversations[conversation_id].active is fake.agent_workspace


async def test_the_users_text_and_files_are_posted_as_the_user_images_as_images(fake, connector):
    conversation_id = await connector.start(a_request())
    await connector.send(conversation_id, UserMessage("m-1", "here is my receipt", time.time(), (
        Attachment("https://files.example/receipt-7731.pdf"),
        Attachment("https://files.example/box.jpg", name="damaged box.jpg"),
    )))
    user_id = fake.conversations[conversation_id].user_id
    text, pdf, photo = fake.messages(conversation_id)[2:]
    assert all(m["author"] == {"type": "user", "userId": user_id} for m in (text, pdf, photo))
    assert text["content"] == {"type": "text", "text": "here is my receipt"}
    assert pdf["content"] == {"type": "file", "mediaUrl": "https://files.example/receipt-7731.pdf", "altText": "receipt-7731.pdf"}
    assert photo["content"] == {"type": "image", "mediaUrl": "https://files.example/box.jpg", "altText": "damaged box.jpg"}
    assert text["metadata"] == {"rasa_handoff_message_id": "m-1"}


async def test_a_message_retried_after_a_failure_part_way_posts_only_the_rest(fake, connector):
    conversation_id = await connector.start(a_request())
    posted = len(fake.messages(conversation_id))
    message = UserMessage("m-2", "a file", time.time(), (Attachment("https://files.example/a.pdf"),))
    original = connector.api.call

    async def refusing_the_file(method, path, body=None):
        if (body or {}).get("content", {}).get("type") == "file" and not refused:
            refused.append(path)
            fake.failures.append(("POST", "/messages", 429))  # rate limited, once
        return await original(method, path, body)

    refused: list[str] = []
    connector.api.call = refusing_the_file
    with pytest.raises(DeskError) as failed:
        await connector.send(conversation_id, message)
    assert failed.value.retryable and refused
    await connector.send(conversation_id, message)
    assert [m["content"]["type"] for m in fake.messages(conversation_id)[posted:]] == ["text", "file"]


async def test_the_user_closing_posts_a_note_and_releases_control(fake, connector, store):
    conversation_id = await connector.start(a_request())
    await connector.close(conversation_id, CloseReason.USER_CLOSED)
    note = fake.messages(conversation_id)[-1]
    assert note["author"]["type"] == "user" and "ended the chat" in note["content"]["text"]
    assert fake.conversations[conversation_id].active is None
    assert fake.conversations[conversation_id].control[-1] == {"release": True, "metadata": {"rasa_handoff_closed": "user_closed"}}
    assert await store.get(CONVERSATION_KEY + conversation_id) is None
    # Its echo (a releaseControl carrying our mark) tells nobody anything.
    echo = await connector.parse_webhook(webhook(about("release_control_ours", conversation_id)))
    assert echo.events == []


async def test_a_conversation_we_lost_track_of_still_finds_its_user(fake, connector, store):
    conversation_id = await connector.start(a_request())
    await store.delete(CONVERSATION_KEY + conversation_id)
    await connector.send(conversation_id, UserMessage("m-3", "still there?", time.time()))
    assert fake.messages(conversation_id)[-1]["author"]["userId"] == fake.conversations[conversation_id].user_id


async def test_an_agents_echoed_own_messages_do_not_come_back_as_agent_messages(fake, connector):
    conversation_id = await connector.start(a_request())
    echo = await connector.parse_webhook(webhook(about("user_message_echo", conversation_id)))
    handoff = await connector.parse_webhook(webhook(about("pass_control_to_agents", conversation_id)))
    assert echo.events == [] and handoff.events == []


# -- switchboard_bot mode -------------------------------------------------------------


async def test_the_bots_answers_are_posted_as_the_business_with_reply_buttons_images_and_files(fake, desk_bot):
    user = fake.widget_user("bo@example.com")
    conversation_id = fake.widget_conversation(user)
    await desk_bot.post_bot_message(conversation_id, {"text": "Hello!", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]})
    await desk_bot.post_bot_message(conversation_id, {"image": "https://acme.example/map.png"})
    await desk_bot.post_bot_message(conversation_id, {"attachment": {"type": "file", "payload": {"src": "https://acme.example/terms.pdf"}}})
    text, image, document = fake.messages(conversation_id, "business")
    assert text["content"] == {"type": "text", "text": "Hello!", "actions": [{"type": "reply", "text": "End chat", "payload": "/handoff_end"}]}
    assert image["content"]["type"] == "image" and image["content"]["mediaUrl"] == "https://acme.example/map.png"
    assert document["content"]["type"] == "file" and document["content"]["mediaUrl"] == "https://acme.example/terms.pdf"


async def test_a_desk_handoff_passes_control_of_the_same_conversation_and_closing_gives_it_back(fake, desk_bot, store):
    user = fake.widget_user("bo@example.com")
    conversation_id = fake.widget_conversation(user)
    request = a_request(sender_id=sender_for(conversation_id))
    assert await desk_bot.start(request) == conversation_id
    assert fake.conversations[conversation_id].active is fake.agent_workspace
    assert fake.users.keys() == {user["id"]} and len(fake.conversations) == 1 and fake.messages(conversation_id) == []
    # The user's words while the agent has it stay in Zendesk; relaying is a no-op.
    await desk_bot.send(conversation_id, UserMessage("m-4", "hello?", time.time()))
    assert fake.messages(conversation_id) == []
    await desk_bot.close(conversation_id, CloseReason.USER_CLOSED)
    assert fake.conversations[conversation_id].active is fake.bot
    assert fake.conversations[conversation_id].control[-1]["metadata"] == {"rasa_handoff_closed": "user_closed"}


async def test_a_sender_from_another_channel_still_gets_a_channel_handoff_in_switchboard_bot_mode(fake, desk_bot):
    conversation_id = await desk_bot.start(a_request(sender_id="telegram-5511"))
    assert fake.users[fake.conversations[conversation_id].user_id]["externalId"] == "telegram-5511"


def test_senders_and_conversations_map_both_ways():
    assert sender_for("6a1f0c3b9e2d4c7a8b5e3f10") == "zendesk-6a1f0c3b9e2d4c7a8b5e3f10"
    assert conversation_for("zendesk-6a1f0c3b9e2d4c7a8b5e3f10") == "6a1f0c3b9e2d4c7a8b5e3f10"
    assert conversation_for("zendesk-../apps") is None and conversation_for("telegram-1") is None


# -- the webhook's key ------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "whk-wrong"], ids=["missing", "empty", "wrong"])
async def test_a_call_without_the_webhooks_key_is_refused_401(connector, key):
    call = webhook(about("agent_message", "c1"), api_key=key or None)
    if key:
        call.headers["x-api-key"] = key
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(call)
    assert refused.value.status == 401 and "X-API-Key" in refused.value.reason
    assert WEBHOOK_SECRET not in refused.value.reason


# -- status and settings ------------------------------------------------------------------


def section(**fields) -> dict:
    return {"connector": "zendesk", "connectors": {"zendesk": {
        "app_id": APP_ID, "key_id": KEY_ID, "key_secret": KEY_SECRET, "webhook_secret": WEBHOOK_SECRET, **fields}}}


async def test_the_status_is_available_with_the_key_and_unavailable_once_it_is_revoked(fake, store):
    config = parse_config(section(base_url=fake.url))
    made = create_connector(config, store)
    try:
        assert isinstance(made, ZendeskConnector)
        assert await made.check() is ServiceStatus.AVAILABLE
        fake.revoked = True
        assert await made.check() is ServiceStatus.UNAVAILABLE
    finally:
        await made.aclose()
    assert (await connector_statuses(config, store))["zendesk"] is ServiceStatus.UNAVAILABLE
    fake.revoked = False
    assert (await connector_statuses(config, store))["zendesk"] is ServiceStatus.AVAILABLE
    assert fake.calls_to("GET", f"/v2/apps/{APP_ID}")


def test_rasa_handoff_status_exits_0_with_the_key_and_1_once_it_is_revoked(fake, tmp_path, capsys):
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump({**section(base_url=fake.url), "store": {"path": str(tmp_path / "s.sqlite")}}))
    assert cli(["status", "--config", str(path)]) == 0
    fake.revoked = True
    assert cli(["status", "--config", str(path)]) == 1
    assert "zendesk    Unavailable (in use)" in capsys.readouterr().out


def test_the_api_host_follows_the_subdomain_or_the_legacy_region():
    assert ZendeskConnectorSettings(**section(subdomain="acme")["connectors"]["zendesk"]).api_url == "https://acme.zendesk.com/sc"
    assert ZendeskConnectorSettings(**section(region="eu")["connectors"]["zendesk"]).api_url == "https://api.eu-1.smooch.io"
    assert ZendeskConnectorSettings(**section(region="us")["connectors"]["zendesk"]).api_url == "https://api.smooch.io"


@pytest.mark.parametrize(("fields", "named"), [
    ({}, "subdomain"),
    ({"subdomain": "acme.zendesk.com"}, "subdomain"),
    ({"subdomain": "acme", "mode": "switchboard_bot"}, "bot_integration"),
    ({"subdomain": "acme", "webhook_secret": " "}, "webhook_secret"),
    ({"subdomain": "acme", "mode": "messenger"}, "mode"),
])
def test_a_bad_section_is_refused_naming_the_field(fields, named):
    with pytest.raises(ConfigError) as refused:
        parse_config(section(**fields))
    assert named in str(refused.value)
    assert KEY_SECRET not in str(refused.value)
