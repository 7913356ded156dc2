"""The LiveChat connector against the fake LiveChat: what reaches the desk, both modes, availability, status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from handoff_connectors.cli import main as cli
from handoff_connectors.core.config import ConfigError, parse_config
from handoff_connectors.core.contract import (
    Attachment, CloseReason, HandoffRequest, ServiceStatus, Speaker, Turn, UserMessage,
)
from handoff_connectors.livechat import WEBHOOK_PATH, LiveChatConnector
from handoff_connectors.livechat.settings import LiveChatSettings
from handoff_connectors.registry import connector_statuses
from handoff_connectors.testing import FailingDesk, desk_call

from .conftest import ACCOUNT, BOT, CLIENT_ID, GROUP_BILLING, GROUP_SUPPORT, ORGANIZATION, PAT, SECRET, settings
from .fake_livechat import FakeLiveChat


def request(sender_id: str = "user-1", routing: str | None = None, message_to_agent: str | None = None) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=f"h-{time.monotonic_ns()}", sender_id=sender_id, email="ana@example.com", language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human", routing=routing, message_to_agent=message_to_agent,
    )


async def test_a_handoff_starts_a_chat_as_the_customer_with_the_transcript_in_the_routing_group(
    connector: LiveChatConnector, fake: FakeLiveChat
) -> None:
    chat_id = await connector.start(request(routing="billing", message_to_agent="Customer wants to pay a bill"))
    chat = fake.chats[chat_id]
    customer = fake.customers[chat.customer_id]
    assert (customer.email, chat.group) == ("ana@example.com", GROUP_BILLING)
    texts = [event["text"] for event in chat.events]
    assert texts[0].splitlines()[1:3] == ["User: where is my order", "Bot: Orders ship within two days."]
    assert "routing: billing" in texts[0]
    assert texts[1:] == ["Message to the agent: Customer wants to pay a bill", "I want to talk to a human"]
    assert all(event["author_id"] == customer.id for event in chat.events)


async def test_without_a_routing_the_chat_goes_to_the_default_group(connector: LiveChatConnector, fake: FakeLiveChat) -> None:
    chat_id = await connector.start(request(routing="nobody-knows-this"))
    assert fake.chats[chat_id].group == GROUP_SUPPORT


async def test_a_users_file_is_uploaded_and_sent_as_a_file_event_after_the_text(
    connector: LiveChatConnector, fake: FakeLiveChat
) -> None:
    chat_id = await connector.start(request())
    fake.files["receipt-7731.pdf"] = (b"%PDF-1.4", "application/pdf")
    files = (Attachment(f"{fake.url}/files/receipt-7731.pdf"), Attachment("http://127.0.0.1:9/gone.png"))
    await connector.send(chat_id, UserMessage("m-1", "here is my receipt", time.time(), files))
    text, file = fake.events(chat_id)[-2:]
    # The file that could not be fetched goes as a link after the text.
    assert text["text"] == "here is my receipt\nhttp://127.0.0.1:9/gone.png"
    assert file["type"] == "file" and file["url"] in fake.uploads
    assert fake.uploads[file["url"]][0] == "receipt-7731.pdf"


async def test_an_expired_customer_token_is_renewed_and_the_message_still_goes(
    connector: LiveChatConnector, fake: FakeLiveChat
) -> None:
    chat_id = await connector.start(request())
    fake.tokens.clear()  # LiveChat no longer takes the kept token
    await connector.send(chat_id, UserMessage("m-2", "still there?", time.time()))
    assert fake.events(chat_id)[-1]["text"] == "still there?"


async def test_closing_tells_the_agent_why_and_deactivates_the_chat_once(connector: LiveChatConnector, fake: FakeLiveChat) -> None:
    chat_id = await connector.start(request())
    await connector.close(chat_id, CloseReason.TIMEOUT)
    assert not fake.chats[chat_id].active
    assert "wrote nothing after the last agent message" in fake.events(chat_id)[-1]["text"]
    await connector.close(chat_id, CloseReason.USER_CLOSED)  # a retry after LiveChat closed it: nothing left to do


async def test_agents_are_available_when_someone_in_the_group_accepts_chats(connector: LiveChatConnector, fake: FakeLiveChat) -> None:
    assert await connector.agents_available(None) is True  # Marta, support
    assert await connector.agents_available("billing") is False  # Jonas is not accepting; the bot does not count
    [call] = fake.calls("list_routing_statuses")[-1:]
    assert call.json() == {"filters": {"group_ids": [GROUP_BILLING]}}
    with FailingDesk(503) as down:
        broken = LiveChatConnector(settings(down.url), connector.store)
        try:
            assert await broken.agents_available(None) is None
        finally:
            await broken.aclose()


def write_config(tmp_path: Path, fake: FakeLiveChat) -> Path:
    section = {
        "organization_id": ORGANIZATION, "client_id": CLIENT_ID, "account_id": ACCOUNT,
        "personal_access_token": "${LC_TEST_PAT}", "webhook_secret": "${LC_TEST_SECRET}",
        "api_url": f"{fake.url}/v3.5", "accounts_url": fake.url,
    }
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump({"connector": "livechat", "store": {"path": str(tmp_path / "s.sqlite")},
                                    "connectors": {"livechat": section}}))
    return path


def test_status_shows_available_with_working_credentials_and_unavailable_with_revoked_ones(
    fake: FakeLiveChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LC_TEST_PAT", PAT)
    monkeypatch.setenv("LC_TEST_SECRET", SECRET)
    config = write_config(tmp_path, fake)
    assert cli(["status", "--config", str(config)]) == 0
    assert "livechat   Available (in use)" in capsys.readouterr().out
    fake.revoke()
    assert cli(["status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "livechat   Unavailable (in use)" in out and PAT not in out


async def test_the_registry_reports_its_status(fake: FakeLiveChat, tmp_path: Path, store, monkeypatch) -> None:
    monkeypatch.setenv("LC_TEST_PAT", PAT)
    monkeypatch.setenv("LC_TEST_SECRET", SECRET)
    config = parse_config(yaml.safe_load(write_config(tmp_path, fake).read_text()))
    assert (await connector_statuses(config, store))["livechat"] is ServiceStatus.AVAILABLE


def test_bot_agent_mode_needs_the_bot_agent_and_secrets_never_print() -> None:
    base = {"organization_id": ORGANIZATION, "client_id": CLIENT_ID, "account_id": ACCOUNT,
            "personal_access_token": PAT, "webhook_secret": SECRET}
    with pytest.raises(ValueError, match="bot_agent_id"):
        LiveChatSettings(mode="bot_agent", **base)
    made = LiveChatSettings(**base, groups={"billing": 2})
    assert PAT not in repr(made) and SECRET not in repr(made)
    with pytest.raises(ConfigError) as caught:
        parse_config({"connector": "livechat", "connectors": {"livechat": {**base, "webhook_secret": " "}}})
    assert "webhook_secret" in str(caught.value)


# -- bot_agent mode ---------------------------------------------------------------


async def test_the_bot_hands_its_chat_to_the_group_with_a_note_only_agents_see(
    bot_agent: LiveChatConnector, fake: FakeLiveChat
) -> None:
    chat_id = fake.customer_starts("Ana", "ana@example.com", "hello")
    assert bot_agent.desk_conversation_of(bot_agent.bot_sender(chat_id)) == chat_id
    assert await bot_agent.start(request(bot_agent.bot_sender(chat_id), routing="billing")) == chat_id
    [note] = fake.events(chat_id, author=BOT.id)
    assert note["visibility"] == "agents" and "User: where is my order" in note["text"]
    [transfer] = fake.calls("transfer_chat")
    assert transfer.headers["x-author-id"] == BOT.id
    assert transfer.json()["target"] == {"type": "group", "ids": [GROUP_BILLING]}
    assert fake.chats[chat_id].group == GROUP_BILLING
    # Nothing was started as a customer: the customer is the widget's own.
    assert fake.calls("start_chat", side="customer") == []


async def test_the_bots_buttons_are_quick_replies_and_a_pick_reads_as_the_buttons_payload(
    bot_agent: LiveChatConnector, fake: FakeLiveChat
) -> None:
    chat_id = fake.customer_starts("Bo", "bo@example.com", "I want to talk to a human")
    await bot_agent.post_bot_message(chat_id, {"text": "Let's send you to an available agent.",
                                               "buttons": [{"title": "End chat", "payload": "/handoff_end"}]})
    text, quick = fake.events(chat_id, author=BOT.id)
    assert text["text"] == "Let's send you to an available agent."
    assert quick["template_id"] == "quick_replies" and quick["elements"][0]["buttons"][0]["text"] == "End chat"
    body = fake.customer_says(chat_id, "End chat")
    [wrote] = (await bot_agent.parse_webhook(desk_call(WEBHOOK_PATH, json.dumps(body).encode()))).events
    assert wrote.payload == "/handoff_end" and wrote.email == "bo@example.com"
