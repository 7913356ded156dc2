"""The Intercom connector's calls to Intercom, against the spec-checking fake.

Every request below is validated by the fake against Intercom's OpenAPI 2.14
description (operation, version header, body schema); the `fake` fixture
fails the test on any violation.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

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
)
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.intercom import IntercomConnector, conversation_for, sender_for
from handoff_connectors.intercom.api import INTERCOM_VERSION, REGIONS
from handoff_connectors.registry import connector_names, connector_statuses, create_connector

from .conftest import BOT, CLIENT_SECRET, TEAM_BILLING, TEAM_SUPPORT, TOKEN, settings
from .fake_intercom import FakeIntercom


def request(**fields: Any) -> HandoffRequest:
    values = dict(
        handoff_id="h-0001",
        sender_id="web-ana",
        email="ana@example.com",
        language="en",
        transcript=(
            Turn(Speaker.USER, "hi, my order <b>7731</b> & the invoice"),
            Turn(Speaker.BOT, "Orders ship within two working days."),
            Turn(Speaker.USER, "see https://shop.example/orders/7731\nsecond line"),
        ),
        latest_question="I want to talk to a human",
        routing="billing",
        message_to_agent="Customer wants to pay a bill <urgent>",
        created_at=1767261000.0,
    )
    values.update(fields)
    return HandoffRequest(**values)


# ======================================================================
# start
# ======================================================================


async def test_start_creates_the_contact_and_the_conversation_with_notes_and_team(
    connector: IntercomConnector, fake: FakeIntercom
) -> None:
    conversation_id = await connector.start(request())

    [search] = fake.calls_to("POST", "/contacts/search")
    assert search.body["query"] == {"field": "email", "operator": "=", "value": "ana@example.com"}
    [create] = fake.calls_to("POST", "/contacts")
    assert create.body == {"email": "ana@example.com", "role": "user"}
    [opened] = fake.calls_to("POST", "/conversations")
    assert opened.body["body"] == "I want to talk to a human"
    assert opened.body["from"]["type"] == "user"
    assert fake.conversations[conversation_id].contact_id == opened.body["from"]["id"]

    transcript, agent_note = fake.parts(conversation_id, "note")
    assert transcript["author"]["id"] == BOT.id
    note = transcript["body"]
    # One paragraph per turn, who said it, user text escaped, links kept.
    assert "<p><b>User:</b> hi, my order &lt;b&gt;7731&lt;/b&gt; &amp; the invoice</p>" in note
    assert "<p><b>Bot:</b> Orders ship within two working days.</p>" in note
    assert '<a href="https://shop.example/orders/7731">https://shop.example/orders/7731</a><br>second line' in note
    assert "<p><b>User (latest question):</b> I want to talk to a human</p>" in note
    assert "email: ana@example.com" in note and "routing: billing" in note
    assert "<b>7731</b>" not in note
    assert agent_note["body"] == "<p><b>Message to the agent:</b> Customer wants to pay a bill &lt;urgent&gt;</p>"

    [assignment] = fake.parts(conversation_id, "assignment")
    assert assignment["assigned_to"] == {"type": "team", "id": TEAM_BILLING}
    assert fake.conversations[conversation_id].team_assignee_id == TEAM_BILLING
    # The order the brief asks for: transcript, assignment, message to the agent.
    assert [p["part_type"] for p in fake.parts(conversation_id)] == ["note", "assignment", "note"]


async def test_the_handoffs_attributes_are_in_the_transcript_note_escaped(connector: IntercomConnector, fake: FakeIntercom) -> None:
    conversation_id = await connector.start(request(attributes={"plan": "Pro <annual>", "order": "7731"}))

    transcript, _ = fake.parts(conversation_id, "note")
    assert "plan: Pro &lt;annual&gt;, order: 7731" in transcript["body"]


async def test_every_call_carries_the_token_and_the_pinned_version(connector: IntercomConnector, fake: FakeIntercom) -> None:
    await connector.start(request())
    assert fake.calls
    for call in fake.calls:
        assert call.headers["authorization"] == f"Bearer {TOKEN}"
        assert call.headers["intercom-version"] == INTERCOM_VERSION == "2.14"


async def test_an_existing_contact_is_found_by_email_and_reused(connector: IntercomConnector, fake: FakeIntercom) -> None:
    lead = fake.add_contact("ana@example.com", role="lead")

    conversation_id = await connector.start(request())

    assert fake.calls_to("POST", "/contacts") == []
    [opened] = fake.calls_to("POST", "/conversations")
    assert opened.body["from"] == {"type": "lead", "id": lead.id}
    assert fake.conversations[conversation_id].contact_id == lead.id


async def test_a_contact_search_has_not_caught_up_with_yet_is_taken_from_the_conflict(
    connector: IntercomConnector, fake: FakeIntercom, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = fake.add_contact("ana@example.com")
    # Intercom's search lags behind creation: the search finds nobody, the create conflicts.
    monkeypatch.setattr(fake, "_search_contacts", lambda call: (200, {"type": "list", "data": [], "total_count": 0, "pages": {"type": "pages", "page": 1, "per_page": 5, "total_pages": 0}}))

    conversation_id = await connector.start(request())

    [create] = fake.calls_to("POST", "/contacts")
    assert create.status == 409
    assert fake.conversations[conversation_id].contact_id == existing.id


async def test_without_an_email_a_lead_is_created(connector: IntercomConnector, fake: FakeIntercom) -> None:
    await connector.start(request(email=""))
    assert fake.calls_to("POST", "/contacts/search") == []
    [create] = fake.calls_to("POST", "/contacts")
    assert create.body == {"role": "lead"}


async def test_without_routing_the_default_team_gets_it(connector: IntercomConnector, fake: FakeIntercom) -> None:
    conversation_id = await connector.start(request(routing=None, message_to_agent=None, transcript=()))
    [assignment] = fake.parts(conversation_id, "assignment")
    assert assignment["assigned_to"]["id"] == TEAM_SUPPORT
    # No transcript turns: the note still carries the request; no message to the agent: no second note.
    [note] = fake.parts(conversation_id, "note")
    assert "I want to talk to a human" in note["body"]


async def test_without_any_team_the_new_conversation_stays_unassigned(fake: FakeIntercom, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=fake.url, default_team=None, teams={}), store)
    try:
        conversation_id = await made.start(request())
    finally:
        await made.aclose()
    assert fake.parts(conversation_id, "assignment") == []


async def test_a_start_that_failed_part_way_resumes_without_a_second_conversation(
    connector: IntercomConnector, fake: FakeIntercom
) -> None:
    fake.fail("POST", r"/parts$", 503)

    with pytest.raises(DeskError) as caught:
        await connector.start(request())
    assert caught.value.retryable and not caught.value.auth

    conversation_id = await connector.start(request())

    assert len(fake.calls_to("POST", "/conversations")) == 1
    assert [p["part_type"] for p in fake.parts(conversation_id)] == ["note", "assignment", "note"]


async def test_the_bot_admin_is_looked_up_once_when_not_configured(fake: FakeIntercom, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=fake.url, admin_id=None), store)
    try:
        first = await made.start(request())
        await made.close(first, CloseReason.USER_CLOSED)
    finally:
        await made.aclose()
    assert len(fake.calls_to("GET", "/me")) == 1
    assert all(p["author"]["id"] == BOT.id for p in fake.parts(first) if p["author"]["type"] == "admin")


# ======================================================================
# send and close
# ======================================================================


async def test_a_user_message_becomes_the_contacts_reply(connector: IntercomConnector, fake: FakeIntercom) -> None:
    conversation_id = await connector.start(request())

    await connector.send(conversation_id, UserMessage("m-1", "still there? <script>x</script>\nhttps://files.example/r.pdf", 1767261100.0))

    [reply] = fake.calls_to("POST", "/conversations/{conversation_id}/reply")[-1:]
    contact_id = fake.conversations[conversation_id].contact_id
    assert reply.body["type"] == "user" and reply.body["message_type"] == "comment"
    assert reply.body["intercom_user_id"] == contact_id
    assert reply.body["body"] == (
        "<p>still there? &lt;script&gt;x&lt;/script&gt;</p>"
        '<p><a href="https://files.example/r.pdf">https://files.example/r.pdf</a></p>'
    )
    [comment] = fake.parts(conversation_id, "comment")
    assert comment["author"]["id"] == contact_id


async def test_a_users_images_become_intercom_attachments_and_other_files_links(
    connector: IntercomConnector, fake: FakeIntercom
) -> None:
    conversation_id = await connector.start(request())
    files = (
        Attachment("https://files.example/screen.png"),  # an image by its name
        Attachment("https://files.example/f/8812", "photo", "image/jpeg"),  # an image by the type the channel gave
        Attachment("https://files.example/receipt.pdf", "receipt.pdf", "application/pdf"),
    )

    await connector.send(conversation_id, UserMessage("m-3", "the receipt and a screenshot", 1767261100.0, files))

    [reply] = fake.calls_to("POST", "/conversations/{conversation_id}/reply")[-1:]
    assert reply.body["attachment_urls"] == ["https://files.example/screen.png", "https://files.example/f/8812"]
    assert reply.body["body"] == (
        "<p>the receipt and a screenshot</p>"
        '<p><a href="https://files.example/receipt.pdf">https://files.example/receipt.pdf</a></p>'
    )
    [comment] = fake.parts(conversation_id, "comment")
    assert [a["url"] for a in comment["attachments"]] == ["https://files.example/screen.png", "https://files.example/f/8812"]


async def test_images_past_the_ten_intercom_takes_reach_the_agent_as_links(connector: IntercomConnector, fake: FakeIntercom) -> None:
    conversation_id = await connector.start(request())
    images = tuple(Attachment(f"https://files.example/page-{n}.jpg") for n in range(12))

    await connector.send(conversation_id, UserMessage("m-4", "", 1767261100.0, images))

    [reply] = fake.calls_to("POST", "/conversations/{conversation_id}/reply")[-1:]
    assert reply.body["attachment_urls"] == [a.url for a in images[:10]]
    assert reply.body["body"] == "".join(f'<p><a href="{a.url}">{a.url}</a></p>' for a in images[10:])


async def test_send_finds_the_contact_from_the_conversation_when_it_was_not_recorded(
    connector: IntercomConnector, fake: FakeIntercom, store: SqliteStore
) -> None:
    conversation_id = await connector.start(request())
    await store.delete("intercom:conversation:" + conversation_id)

    await connector.send(conversation_id, UserMessage("m-2", "hello", 1767261100.0))

    assert fake.calls_to("GET", "/conversations/{conversation_id}")
    assert fake.parts(conversation_id, "comment")[0]["body"] == "<p>hello</p>"


@pytest.mark.parametrize("reason", list(CloseReason))
async def test_close_leaves_a_note_and_closes_as_the_bot(connector: IntercomConnector, fake: FakeIntercom, reason: CloseReason) -> None:
    conversation_id = await connector.start(request())

    await connector.close(conversation_id, reason)

    *_, note, closing = fake.parts(conversation_id)
    assert note["part_type"] == "note" and note["author"]["id"] == BOT.id
    assert closing["part_type"] == "close" and closing["author"]["id"] == BOT.id
    assert fake.conversations[conversation_id].state == "closed"


async def test_closing_a_conversation_intercom_no_longer_has_is_refused_for_good(connector: IntercomConnector) -> None:
    with pytest.raises(DeskError) as caught:
        await connector.close("999999", CloseReason.TIMEOUT)
    assert not caught.value.retryable and not caught.value.auth


# ======================================================================
# Errors, availability, status
# ======================================================================


@pytest.mark.parametrize(
    ("status", "retryable", "auth"),
    [(500, True, False), (502, True, False), (429, True, False), (401, False, True), (403, False, True), (404, False, False), (422, False, False)],
)
async def test_http_errors_map_to_desk_errors(connector: IntercomConnector, fake: FakeIntercom, status: int, retryable: bool, auth: bool) -> None:
    fake.fail("POST", r"^/contacts/search$", status)
    with pytest.raises(DeskError) as caught:
        await connector.start(request())
    assert (caught.value.retryable, caught.value.auth) == (retryable, auth)
    assert str(status) in str(caught.value)
    assert TOKEN not in str(caught.value) and CLIENT_SECRET not in str(caught.value)
    assert "ana@example.com" not in str(caught.value)


async def test_a_wrong_token_is_an_auth_error(fake: FakeIntercom, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=fake.url, access_token="not-the-token"), store)
    try:
        with pytest.raises(DeskError) as caught:
            await made.start(request())
        assert await made.check() is ServiceStatus.UNAVAILABLE
    finally:
        await made.aclose()
    assert caught.value.auth and not caught.value.retryable
    assert "(unauthorized)" in str(caught.value)


async def test_a_timeout_is_retryable(store: SqliteStore) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    made = IntercomConnector(settings(), store, http=httpx.AsyncClient(transport=httpx.MockTransport(hang)))
    try:
        with pytest.raises(DeskError) as caught:
            await made.send("1", UserMessage("m", "hi", 1.0))
    finally:
        await made.aclose()
    assert caught.value.retryable and "ReadTimeout" in str(caught.value)


async def test_check_is_available_with_a_good_token(connector: IntercomConnector, fake: FakeIntercom) -> None:
    assert await connector.check() is ServiceStatus.AVAILABLE
    assert [c.path for c in fake.calls] == ["/me"]


async def test_check_is_unavailable_when_intercom_cannot_be_reached(store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url="http://127.0.0.1:9"), store)
    try:
        assert await made.check() is ServiceStatus.UNAVAILABLE
    finally:
        await made.aclose()


async def test_agents_are_available_when_someone_in_the_team_is_not_away(connector: IntercomConnector, fake: FakeIntercom) -> None:
    assert await connector.agents_available("billing") is True  # Marta
    assert await connector.agents_available(None) is True  # the default team: Jonas
    fake.admins["8100002"].away = True
    assert await connector.agents_available("billing") is False
    fake.admins["8100003"].has_inbox_seat = False
    assert await connector.agents_available(None) is False


async def test_the_bot_admin_never_counts_as_an_available_agent(fake: FakeIntercom, store: SqliteStore) -> None:
    fake.admins[BOT.id].team_ids = [int(TEAM_BILLING)]
    fake.admins["8100002"].away = True
    made = IntercomConnector(settings(base_url=fake.url), store)
    try:
        assert await made.agents_available("billing") is False
    finally:
        await made.aclose()


async def test_without_teams_anyone_not_away_counts(fake: FakeIntercom, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=fake.url, default_team=None, teams={}), store)
    try:
        assert await made.agents_available("anything") is True
        for admin_id in ("8100002", "8100003"):
            fake.admins[admin_id].away = True
        assert await made.agents_available("anything") is False
    finally:
        await made.aclose()


async def test_availability_is_unknown_when_intercom_cannot_tell(connector: IntercomConnector, fake: FakeIntercom) -> None:
    fake.fail("GET", r"^/admins$", 503)
    assert await connector.agents_available("billing") is None


# ======================================================================
# Messenger mode: the conversation already exists
# ======================================================================


async def test_messenger_start_assigns_the_users_own_conversation(messenger: IntercomConnector, fake: FakeIntercom) -> None:
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hello", send=False)

    returned = await messenger.start(request(sender_id=sender_for(conversation_id)))

    assert returned == conversation_id
    assert fake.calls_to("POST", "/contacts/search") == [] and fake.calls_to("POST", "/conversations") == []
    assert [p["part_type"] for p in fake.parts(conversation_id)] == ["note", "assignment", "note"]
    assert fake.conversations[conversation_id].team_assignee_id == TEAM_BILLING


async def test_messenger_send_posts_nothing_the_user_wrote_it_in_intercom(messenger: IntercomConnector, fake: FakeIntercom) -> None:
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hello", send=False)
    await messenger.start(request(sender_id=sender_for(conversation_id)))
    before = len(fake.calls)

    await messenger.send(conversation_id, UserMessage("m-1", "hello?", 1.0))

    assert len(fake.calls) == before


async def test_messenger_mode_still_opens_conversations_for_other_channels(messenger: IntercomConnector, fake: FakeIntercom) -> None:
    conversation_id = await messenger.start(request(sender_id="web-ana"))
    assert len(fake.calls_to("POST", "/conversations")) == 1
    await messenger.send(conversation_id, UserMessage("m-1", "hello?", 1.0))
    assert fake.parts(conversation_id, "comment")


async def test_messenger_start_without_a_team_takes_it_off_the_bot(fake: FakeIntercom, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=fake.url, mode="messenger", default_team=None, teams={}), store)
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hello", send=False)
    try:
        await made.start(request(sender_id=sender_for(conversation_id), routing=None))
    finally:
        await made.aclose()
    [assignment] = fake.parts(conversation_id, "assignment")
    assert assignment["assigned_to"] == {"type": "admin", "id": "0"}


def test_sender_ids_map_to_conversations_and_back() -> None:
    assert sender_for("51200000000512") == "intercom-51200000000512"
    assert conversation_for("intercom-51200000000512") == "51200000000512"
    assert conversation_for("web-ana") is None
    assert conversation_for("intercom-") is None
    assert conversation_for("intercom-../admins") is None


async def test_bot_messages_become_comments_and_quick_replies(messenger: IntercomConnector, fake: FakeIntercom) -> None:
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hello", send=False)

    await messenger.post_bot_message(conversation_id, {"text": "Pick one <please>:", "buttons": [
        {"title": "End chat", "payload": "/handoff_end"}, {"title": "Keep waiting", "payload": "/handoff_keep_waiting"}]})
    await messenger.post_bot_message(conversation_id, {"image": "https://cdn.example/map.png"})

    comment, quick, image = fake.parts(conversation_id)
    assert comment["part_type"] == "comment" and comment["author"]["id"] == BOT.id
    assert comment["body"] == "<p>Pick one &lt;please&gt;:</p>"
    assert quick["part_type"] == "quick_reply"
    options = quick["metadata"]["quick_reply_options"]
    assert [o["text"] for o in options] == ["End chat", "Keep waiting"]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", o["uuid"]) for o in options)
    assert await messenger.quick_reply_payload(conversation_id, options[0]["uuid"], "End chat") == "/handoff_end"
    assert await messenger.quick_reply_payload(conversation_id, None, "keep waiting") == "/handoff_keep_waiting"
    assert await messenger.quick_reply_payload(conversation_id, None, "something else") is None
    assert image["attachments"][0]["url"] == "https://cdn.example/map.png"


# ======================================================================
# Configuration and the registry
# ======================================================================


def minimal(**intercom: Any) -> dict:
    return {"connector": "intercom", "connectors": {"intercom": {"access_token": "t", "client_secret": "s", **intercom}}}


def test_the_intercom_section_parses_with_defaults() -> None:
    config = parse_config(minimal(teams={"billing": 6100007}, default_team=6100009, admin_id=8100001))
    section = config.connectors.intercom
    assert (section.mode, section.region, section.base_url) == ("channel", "us", None)
    assert section.teams == {"billing": "6100007"} and section.default_team == "6100009" and section.admin_id == "8100001"
    assert "intercom" in connector_names()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_secret": " "}, "client_secret"),
        ({"access_token": ""}, "access_token"),
        ({"region": "mars"}, "region"),
        ({"mode": "both"}, "mode"),
        ({"base_url": "api.intercom.io"}, "base_url"),
        ({"intercom_version": "2.11"}, "intercom_version"),
    ],
)
def test_bad_intercom_settings_name_the_field(fields: dict, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal(**fields))
    assert f"connectors.intercom.{field}" in str(caught.value)


def test_a_missing_intercom_section_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"connector": "intercom"})
    assert "connectors.intercom is missing" in str(caught.value)


def test_secrets_never_show_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IC_TOKEN", "very-secret-token-value")
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal(access_token="${IC_TOKEN}", region="nowhere"))
    assert "very-secret-token-value" not in str(caught.value)
    section = parse_config(minimal(access_token="${IC_TOKEN}")).connectors.intercom
    assert "very-secret-token-value" not in repr(section)


@pytest.mark.parametrize("region", ["us", "eu", "au"])
async def test_each_region_has_its_api_host(region: str, store: SqliteStore) -> None:
    made = IntercomConnector(settings(base_url=None, region=region), store)
    try:
        assert made.api.base_url == REGIONS[region]
    finally:
        await made.aclose()
    assert REGIONS == {"us": "https://api.intercom.io", "eu": "https://api.eu.intercom.io", "au": "https://api.au.intercom.io"}


async def test_the_registry_builds_it_and_reports_its_status(fake: FakeIntercom, store: SqliteStore) -> None:
    config = parse_config(minimal(base_url=fake.url, access_token=TOKEN, client_secret=CLIENT_SECRET))
    made = create_connector(config, store)
    try:
        assert isinstance(made, IntercomConnector)
    finally:
        await made.aclose()
    statuses = await connector_statuses(config, store)
    assert statuses["intercom"] is ServiceStatus.AVAILABLE
    assert statuses["webhook"] is ServiceStatus.NOT_CONFIGURED
