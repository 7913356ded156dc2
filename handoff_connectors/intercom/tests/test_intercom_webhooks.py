"""Intercom -> sidecar: signed notifications in, neutral events out.

The notifications are our own fixtures (fixtures/*.json), shaped like
Intercom's API 2.14 conversation model and its webhook envelope; a test
checks their conversations against the spec's `conversation` schema.
"""

from __future__ import annotations

import hmac
import json

import pytest

from handoff_connectors.core.contract import (
    AgentJoined,
    CloseReason,
    AgentMessage,
    AgentSnoozed,
    ConversationClosed,
    Transferred,
    WebhookRejected,
)
from handoff_connectors.core.handoffs import BOT_IN, TO_DESK, TO_RASA, HandoffService
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.intercom import IntercomConnector
from handoff_connectors.intercom.connector import CONVERSATION_KEY
from handoff_connectors.intercom.webhooks import signature

from .conftest import (
    CLIENT_SECRET,
    FIXTURE_CONVERSATION,
    FIXTURE_MESSENGER_CONVERSATION,
    FIXTURES,
    fixture_bytes,
    fixture_json,
    settings,
    signed,
)
from .fake_intercom import FakeIntercom, load_spec


async def handed_off(store: SqliteStore, conversation_id: str = FIXTURE_CONVERSATION, messenger: bool = False) -> None:
    """Mark a conversation as one the connector handed off (what start() records)."""
    await store.put(CONVERSATION_KEY + conversation_id, {"handoff_id": "h-1", "contact_id": "c-1", "messenger": messenger})


async def started(service: HandoffService, sender_id: str) -> str:
    """A handoff opened as the action does and started in Intercom as the sidecar's pump does: its conversation."""
    handoff = await service.open(sender_id, "ana@example.com", "en", [], "I need a person")
    await service.deliver_to_desk(TO_DESK + handoff.handoff_id)
    return (await service.record(handoff.handoff_id)).desk_conversation_id


@pytest.fixture
async def offline(store: SqliteStore):
    # No Intercom reachable: parsing must not need the API (the bot's admin id is configured).
    made = IntercomConnector(settings(), store)
    await handed_off(store)
    yield made
    await made.aclose()


async def events_of(connector: IntercomConnector, name: str):
    reply = await connector.parse_webhook(signed(fixture_bytes(name)))
    assert reply.reply.status == 200
    return reply.events


# ======================================================================
# The signature
# ======================================================================


async def test_a_correctly_signed_notification_is_accepted(offline: IntercomConnector) -> None:
    body = fixture_bytes("admin_replied.json")
    expected = "sha1=" + hmac.new(CLIENT_SECRET.encode(), body, "sha1").hexdigest()
    assert signature(CLIENT_SECRET, body) == expected

    reply = await offline.parse_webhook(signed(body, signature=expected))

    assert len(reply.events) == 1


@pytest.mark.parametrize(
    "header",
    [
        "",  # missing
        "sha1=",
        "sha1=0000000000000000000000000000000000000000",
        "sha256=" + "ab" * 32,
        "not-a-signature",
    ],
)
async def test_a_missing_or_wrong_signature_is_401(offline: IntercomConnector, header: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        await offline.parse_webhook(signed(fixture_bytes("admin_replied.json"), signature=header))
    assert caught.value.status == 401
    assert CLIENT_SECRET not in caught.value.reason


async def test_a_signature_made_with_another_secret_is_401(offline: IntercomConnector) -> None:
    with pytest.raises(WebhookRejected) as caught:
        await offline.parse_webhook(signed(fixture_bytes("admin_closed.json"), secret="someone-elses-secret"))
    assert caught.value.status == 401


async def test_a_signature_of_another_body_is_401(offline: IntercomConnector) -> None:
    body = fixture_bytes("admin_replied.json")
    tampered = body.replace(b"Marta", b"Malory")
    with pytest.raises(WebhookRejected) as caught:
        await offline.parse_webhook(signed(tampered, signature=signature(CLIENT_SECRET, body)))
    assert caught.value.status == 401


async def test_the_signature_is_checked_before_the_body_is_read(offline: IntercomConnector) -> None:
    with pytest.raises(WebhookRejected) as caught:
        await offline.parse_webhook(signed(b"{not json", signature="sha1=" + "0" * 40))
    assert caught.value.status == 401


async def test_intercoms_head_check_is_answered_without_a_signature(offline: IntercomConnector) -> None:
    reply = await offline.parse_webhook(signed(b"", signature="", method="HEAD"))
    assert reply.reply.status == 200 and reply.events == []


@pytest.mark.parametrize(
    "name", ["malformed_not_json.txt", "malformed_no_topic.json", "malformed_no_item.json", "malformed_no_id.json"]
)
async def test_a_signed_but_malformed_notification_is_400(offline: IntercomConnector, name: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        await offline.parse_webhook(signed(fixture_bytes(name)))
    assert caught.value.status == 400


# ======================================================================
# Topics
# ======================================================================


async def test_an_agent_reply_becomes_readable_text_with_links(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_replied.json")

    assert isinstance(event, AgentMessage)
    assert event.desk_conversation_id == FIXTURE_CONVERSATION
    assert event.event_id == fixture_json("admin_replied.json")["id"]
    assert event.agent_name == "Marta Ruiz"
    assert event.text == (
        "Hi Ana, I'm Marta from billing.\n"
        "I can see the double charge. Our refund policy (https://help.acme.example/refunds) explains the next steps:\n"
        "- the refund takes 3\u20135 days\n"
        "- you get an email when it's done"
    )
    assert event.attachments == ()


async def test_an_agents_files_and_inline_images_become_attachments(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_replied_with_attachments.json")

    assert isinstance(event, AgentMessage)
    assert event.text == "Here is your corrected invoice and a screenshot."
    assert event.attachments == (
        "https://downloads.intercomcdn.example/i/o/9912/invoice-7731.pdf",
        "https://downloads.intercomcdn.example/i/o/9911/marked-up.png",
    )


async def test_an_image_without_text_is_still_a_message(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_replied_image_only.json")

    assert isinstance(event, AgentMessage)
    assert event.text == ""
    assert event.attachments == ("https://downloads.intercomcdn.example/i/o/9913/where-to-click.png",)


@pytest.mark.parametrize(
    "name",
    [
        "admin_replied_by_bot.json",  # the bot's own words
        "admin_noted.json",  # notes are for agents only
        "admin_assigned_team_by_bot.json",  # the bot's own team assignment
        "admin_closed_by_bot.json",  # the bot closed it: our side already ended
        "conversation_read.json",
    ],
)
async def test_the_bots_own_parts_notes_and_reads_reach_nobody(offline: IntercomConnector, name: str) -> None:
    assert await events_of(offline, name) == []


async def test_an_agent_close_ends_the_handoff(offline: IntercomConnector, store: SqliteStore) -> None:
    [event] = await events_of(offline, "admin_closed.json")

    assert isinstance(event, ConversationClosed)
    assert event.desk_conversation_id == FIXTURE_CONVERSATION
    assert event.event_id == fixture_json("admin_closed.json")["id"]


async def test_reading_a_close_writes_nothing_so_intercoms_retry_finds_the_conversation(
    offline: IntercomConnector, store: SqliteStore
) -> None:
    # Should queueing the close fail, the sidecar answers 503 and Intercom sends it again.
    first = await events_of(offline, "admin_closed.json")
    again = await events_of(offline, "admin_closed.json")

    assert first == again and isinstance(again[0], ConversationClosed)
    assert await store.get(CONVERSATION_KEY + FIXTURE_CONVERSATION) is not None


async def test_after_an_agent_close_a_late_reply_reaches_nobody(
    connector: IntercomConnector, store: SqliteStore, fake: FakeIntercom
) -> None:
    service = HandoffService(store, connector)
    conversation_id = await started(service, "user-1")
    marta = fake.admins["8100002"]

    for event in (await connector.parse_webhook(signed(fake.agent_closes(conversation_id, marta, send=False)))).events:
        assert await service.accept(event)
    assert await service.active("user-1") is None

    # It is no handoff of ours any more: a late reply is ignored, not an error.
    late = (await connector.parse_webhook(signed(fake.agent_replies(conversation_id, marta, "<p>Still there?</p>", send=False))))
    assert late.reply.status == 200
    assert [await service.accept(event) for event in late.events] == [False]
    await store.pop(TO_RASA + "user-1", (await store.peek(TO_RASA + "user-1"))["id"])  # the close
    assert await store.peek(TO_RASA + "user-1") is None


async def test_our_own_close_forgets_the_conversation(connector: IntercomConnector, store: SqliteStore, fake: FakeIntercom) -> None:
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hello", send=False)
    await handed_off(store, conversation_id)

    await connector.close(conversation_id, CloseReason.USER_CLOSED)

    assert await store.get(CONVERSATION_KEY + conversation_id) is None
    assert (await connector.parse_webhook(signed(fake.agent_replies(conversation_id, fake.admins["8100002"], "<p>Hi</p>", send=False)))).events == []


async def test_a_snooze_tells_the_user_and_keeps_the_handoff(offline: IntercomConnector, store: SqliteStore) -> None:
    [event] = await events_of(offline, "admin_snoozed.json")

    assert isinstance(event, AgentSnoozed)
    assert event.agent_name == "Marta Ruiz"
    assert await store.get(CONVERSATION_KEY + FIXTURE_CONVERSATION) is not None


async def test_an_agent_taking_the_conversation_joins(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_assigned.json")

    assert isinstance(event, AgentJoined)
    assert event.agent_name == "Marta Ruiz"
    assert event.event_id == fixture_json("admin_assigned.json")["id"]


async def test_an_agent_passing_it_to_another_agent_transfers_to_the_new_agent(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_assigned_transfer.json")

    assert isinstance(event, Transferred)
    assert event.to_agent == "Jonas Weber" and event.to_queue is None
    assert event.event_id == fixture_json("admin_assigned_transfer.json")["id"]


async def test_an_agent_passing_it_to_a_team_transfers_to_the_team_by_its_intercom_name(
    connector: IntercomConnector, store: SqliteStore, fake: FakeIntercom
) -> None:
    await handed_off(store)

    [event] = (await connector.parse_webhook(signed(fixture_bytes("admin_assigned_team_transfer.json")))).events

    assert isinstance(event, Transferred)
    assert event.to_queue == "support" and event.to_agent is None
    assert [c.path for c in fake.calls_to("GET", "/teams/{team_id}")] == ["/teams/6100009"]


async def test_a_team_transfer_is_still_told_when_intercom_cannot_name_the_team(offline: IntercomConnector) -> None:
    [event] = await events_of(offline, "admin_assigned_team_transfer.json")

    assert isinstance(event, Transferred) and event.to_queue is None


async def test_a_transfer_names_the_agent_from_the_api_when_the_notification_does_not(
    connector: IntercomConnector, store: SqliteStore, fake: FakeIntercom
) -> None:
    await handed_off(store)
    payload = fixture_json("admin_assigned_transfer.json")
    payload["data"]["item"]["teammates"] = None

    reply = await connector.parse_webhook(signed(payload))

    assert [e.to_agent for e in reply.events] == ["Jonas Weber"]
    assert [c.path for c in fake.calls_to("GET", "/admins/{admin_id}")] == ["/admins/8100003"]


async def test_ping_is_answered_with_no_events(offline: IntercomConnector) -> None:
    assert await events_of(offline, "ping.json") == []


async def test_an_unknown_topic_is_ignored(offline: IntercomConnector) -> None:
    payload = fixture_json("admin_replied.json")
    payload["topic"] = "conversation.priority.updated"
    assert (await offline.parse_webhook(signed(payload))).events == []


async def test_a_conversation_that_is_no_handoff_of_ours_is_ignored_with_200(store: SqliteStore) -> None:
    made = IntercomConnector(settings(), store)
    try:
        reply = await made.parse_webhook(signed(fixture_bytes("admin_replied.json")))
    finally:
        await made.aclose()
    assert reply.reply.status == 200 and reply.events == []


async def test_the_same_notification_twice_has_the_same_event_id(offline: IntercomConnector) -> None:
    first = await events_of(offline, "admin_replied.json")
    again = json.dumps(fixture_json("admin_replied.json"), indent=1).encode()  # re-serialised, same notification
    second = (await offline.parse_webhook(signed(again))).events
    assert first[0].event_id == second[0].event_id


async def test_a_redelivered_notification_reaches_rasa_once(
    connector: IntercomConnector, store: SqliteStore, fake: FakeIntercom
) -> None:
    service = HandoffService(store, connector)
    conversation_id = await started(service, "user-1")
    notification = fake.agent_replies(conversation_id, fake.admins["8100002"], "<p>Hello</p>", send=False)

    for _ in range(2):  # Intercom retries a notification with the same id
        for event in (await connector.parse_webhook(signed(notification))).events:
            await service.accept(event)

    queued = await store.peek(TO_RASA + "user-1")
    assert queued["entities"]["handoff_text"] == "Hello"
    await store.pop(TO_RASA + "user-1", queued["id"])
    assert await store.peek(TO_RASA + "user-1") is None


# ======================================================================
# Messenger mode (desk to desk)
# ======================================================================


@pytest.fixture
async def messenger_offline(store: SqliteStore):
    made = IntercomConnector(settings(mode="messenger"), store)
    yield made
    await made.aclose()


async def queued_for_the_bot(connector: IntercomConnector, store: SqliteStore, name: str) -> None:
    """Parse a fixture and queue its events the way the sidecar does (Rasa is not asked here)."""
    service = HandoffService(store, connector, rasa_url="http://127.0.0.1:9")
    for event in await events_of(connector, name):
        assert await service.accept(event)


async def test_in_messenger_mode_agent_replies_are_not_echoed(messenger_offline: IntercomConnector, store: SqliteStore) -> None:
    await handed_off(store, messenger=True)
    assert await events_of(messenger_offline, "admin_replied.json") == []
    # ... but the close still ends the handoff, and a snooze is still told.
    assert [type(e) for e in await events_of(messenger_offline, "admin_snoozed.json")] == [AgentSnoozed]
    assert [type(e) for e in await events_of(messenger_offline, "admin_closed.json")] == [ConversationClosed]


async def test_in_messenger_mode_a_new_conversation_is_queued_for_the_bot(
    messenger_offline: IntercomConnector, store: SqliteStore
) -> None:
    await queued_for_the_bot(messenger_offline, store, "user_created.json")

    item = await store.peek(BOT_IN + FIXTURE_MESSENGER_CONVERSATION)
    assert item["text"] == "Hello, do you ship to Portugal?"
    assert item["conversation_id"] == FIXTURE_MESSENGER_CONVERSATION
    assert item["email"] == "ana@example.com"
    assert item["metadata"]["intercom"]["contact_id"] == "665f1c2a9b3e4d0012ab34cd"


async def test_in_messenger_mode_replies_quick_replies_and_files_are_queued_once(
    messenger_offline: IntercomConnector, store: SqliteStore
) -> None:
    # The bot offered the quick reply the fixture picks.
    await messenger_offline._remember_quick_replies(
        FIXTURE_MESSENGER_CONVERSATION, {"3f1c2b7a-9d84-4e1f-a6b2-5c0d9e8f7a61": {"title": "End chat", "payload": "/handoff_end"}}
    )
    for name in ("user_replied.json", "user_replied.json", "user_replied_quick_reply.json", "user_replied_with_file.json"):
        await queued_for_the_bot(messenger_offline, store, name)

    queue = BOT_IN + FIXTURE_MESSENGER_CONVERSATION
    items = []
    while (item := await store.peek(queue)) is not None:
        items.append(item)
        await store.pop(queue, item["id"])
    assert [i["text"] for i in items] == ["I want to talk to a human & fast", "End chat", "Here is the receipt"]
    assert items[1]["payload"] == "/handoff_end"
    assert items[2]["attachments"] == [
        {"url": "https://downloads.intercomcdn.example/i/o/9920/receipt.jpg", "name": "receipt.jpg", "content_type": "image/jpeg"}
    ]


async def test_in_channel_mode_user_messages_are_not_for_the_bot(offline: IntercomConnector, store: SqliteStore) -> None:
    # In channel mode they are the user's own messages, which we posted for them.
    assert await events_of(offline, "user_replied.json") == []
    assert await store.peek(BOT_IN + FIXTURE_MESSENGER_CONVERSATION) is None


# ======================================================================
# The fixtures themselves
# ======================================================================


@pytest.mark.parametrize("path", sorted(p.name for p in FIXTURES.glob("*.json") if not p.name.startswith(("malformed", "ping"))))
def test_fixture_conversations_follow_intercoms_conversation_schema(path: str) -> None:
    spec = load_spec()
    item = fixture_json(path)["data"]["item"]
    problems = spec.schema_errors("conversation", item)
    assert not problems, problems
    assert fixture_json(path)["type"] == "notification_event"


async def test_a_snooze_without_its_part_is_still_told(offline: IntercomConnector) -> None:
    payload = fixture_json("admin_snoozed.json")
    payload["data"]["item"]["conversation_parts"] = {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0}
    [event] = (await offline.parse_webhook(signed(payload))).events
    assert isinstance(event, AgentSnoozed) and event.agent_name is None
    assert event.event_id == payload["id"]
