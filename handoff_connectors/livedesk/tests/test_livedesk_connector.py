"""The LiveDesk connector against the fake project: what differs from Chatwoot (auth, paths, contacts, check)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from handoff_connectors.core.config import parse_config
from handoff_connectors.core.contract import HandoffRequest, ServiceStatus, Speaker, Turn
from handoff_connectors.registry import connector_statuses

from .conftest import API_KEY, API_SECRET, INBOX, TEAMS, TOKEN, settings
from .fake_livedesk import FakeLiveDesk


def request(handoff_id: str = "h1", **extra) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=handoff_id, sender_id="user-77", email="mia@example.com", language="en",
        transcript=(Turn(Speaker.USER, "hello"),), latest_question="I want to talk to a human", **extra,
    )


async def test_a_handoff_creates_contact_conversation_and_messages_with_basic_key_and_secret(connector, fake: FakeLiveDesk):
    conversation_id = await connector.start(request(routing="billing"))

    assert [c.path for c in fake.calls] == [
        "/api/v2/accounts/contacts", "/api/v2/accounts/conversations",
        *[f"/api/v2/accounts/conversations/{conversation_id}/messages"] * 2,
    ]
    conversation = fake.conversations[int(conversation_id)]
    assert conversation.inbox_id == INBOX and conversation.team_id == TEAMS["billing"]
    assert fake.contacts[conversation.contact_id].email == "mia@example.com"
    note, question = fake.messages(int(conversation_id))
    assert note["private"] and (question["message_type"], question["content"]) == ("incoming", "I want to talk to a human")


async def test_a_taken_contact_gets_one_of_the_handoffs_own(connector, fake: FakeLiveDesk):
    await connector.start(request("h1"))
    second = await connector.start(request("h2"))
    assert [c.status for c in fake.calls_to("create_contact")] == [200, 422, 200]
    assert fake.contacts[fake.conversations[int(second)].contact_id].identifier == "rasa:user-77:h2"


def _config(url: str) -> dict:
    return {"connector": "livedesk", "connectors": {"livedesk": {
        "url": url, "api_key": API_KEY, "api_secret": API_SECRET, "inbox_id": INBOX, "webhook_token": TOKEN}}}


async def test_status_is_available_with_the_key_and_unavailable_once_revoked(fake: FakeLiveDesk, store):
    config = parse_config(_config(fake.url))
    assert (await connector_statuses(config, store))["livedesk"] is ServiceStatus.AVAILABLE
    fake.revoke()
    assert (await connector_statuses(config, store))["livedesk"] is ServiceStatus.UNAVAILABLE


def test_settings_need_key_secret_channel_and_token_and_hide_them():
    for missing in ("api_key", "api_secret", "inbox_id", "webhook_token"):
        with pytest.raises(ValidationError, match=missing):
            settings(**{missing: None})
    assert API_SECRET not in repr(settings()) and TOKEN not in repr(settings())
