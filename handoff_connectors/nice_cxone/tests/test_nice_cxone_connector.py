"""The NICE CXone connector against the fake CXone: start, send, close, tokens, status, settings."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
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
)
from handoff_connectors.nice_cxone import NiceCXoneConnector, wire
from handoff_connectors.nice_cxone.connector import START_KEY
from handoff_connectors.nice_cxone.settings import NiceCXoneSettings
from handoff_connectors.registry import connector_statuses, create_connector

from .conftest import BILLING, SUPPORT, settings, with_tokens
from .fake_cxone import FakeCXone


def request(**fields: Any) -> HandoffRequest:
    values = dict(
        handoff_id="h-0001",
        sender_id="web-ana",
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order 7731?"), Turn(Speaker.BOT, "Orders ship within two working days.")),
        latest_question="I want to talk to a human",
        created_at=time.time(),
    )
    values.update(fields)
    return HandoffRequest(**values)


def message(text: str, *attachments: Attachment, message_id: str = "m-1") -> UserMessage:
    return UserMessage(message_id, text, time.time(), tuple(attachments))


async def test_a_handoff_opens_a_thread_in_the_routings_channel_with_the_transcript_then_the_question(connector, fake):
    thread_id = await connector.start(
        request(routing="billing", message_to_agent="Customer wants to pay a bill", attributes={"plan": "gold"})
    )
    assert thread_id == wire.thread_id("h-0001")
    thread = fake.thread(thread_id)
    assert thread.channel_id == BILLING and thread.customer_id == "web-ana"
    summary, question = fake.texts(thread_id)
    assert summary.splitlines() == [
        "Handoff from the bot (email: ana@example.com, language: en, routing: billing, plan: gold)",
        "Message to the agent: Customer wants to pay a bill",
        "",
        "Conversation with the bot:",
        "User: where is my order 7731?",
        "Bot: Orders ship within two working days.",
    ]
    assert question == "I want to talk to a human"
    assert thread.messages[0]["authorEndUserIdentity"] == {"idOnExternalPlatform": "web-ana", "nickname": "ana@example.com"}


async def test_a_routing_without_a_channel_of_its_own_goes_to_the_default_channel(connector, fake):
    thread_id = await connector.start(request(routing="returns"))
    assert fake.thread(thread_id).channel_id == SUPPORT


async def test_a_start_that_failed_part_way_is_resumed_without_posting_twice(connector, fake, store):
    await store.put(START_KEY + "h-0001", {"done": ["summary"]})
    thread_id = await connector.start(request())
    assert fake.texts(thread_id) == ["I want to talk to a human"]
    assert await store.get(START_KEY + "h-0001") is None


async def test_the_users_messages_and_files_reach_the_thread_in_order(connector, fake):
    thread_id = await connector.start(request())
    await connector.send(thread_id, message("my order is late", message_id="m-1"))
    await connector.send(thread_id, message("", Attachment("https://files.example/receipt.pdf", "receipt.pdf"), message_id="m-2"))
    await connector.close(thread_id, CloseReason.USER_CLOSED)
    thread = fake.thread(thread_id)
    assert fake.texts(thread_id)[2:] == ["my order is late", "receipt.pdf", "(The user ended the chat.)"]
    assert thread.messages[3]["attachments"] == [{"url": "https://files.example/receipt.pdf", "friendlyName": "receipt.pdf"}]
    assert [m["idOnExternalPlatform"] for m in thread.messages[2:4]] == ["m-1", "m-2"]


async def test_files_go_as_links_after_the_text_when_configured(fake, store):
    connector = with_tokens(NiceCXoneConnector(settings(fake.url, files_as_links=True), store), store)
    try:
        thread_id = await connector.start(request(routing="billing"))
        await connector.send(thread_id, message("see", Attachment("https://files.example/a.png")))
    finally:
        await connector.aclose()
    last = fake.thread(thread_id).messages[-1]
    assert last["messageContent"]["payload"]["text"] == "see\nhttps://files.example/a.png" and "attachments" not in last
    assert fake.thread(thread_id).channel_id == BILLING


async def test_our_token_expiring_mid_handoff_is_refreshed_without_losing_or_repeating_a_message(connector, fake):
    thread_id = await connector.start(request())
    await connector.send(thread_id, message("before", message_id="m-1"))
    fake.expire_tokens()  # CXone ends our token early: the next call is refused 401
    await connector.send(thread_id, message("after", message_id="m-2"))
    await connector.send(thread_id, message("later", message_id="m-3"))
    assert fake.texts(thread_id)[2:] == ["before", "after", "later"]
    assert fake.refused == [f"POST {wire.messages_path(SUPPORT)}"]
    assert fake.token_fetches == 2


async def test_a_revoked_application_is_an_auth_failure(connector, fake):
    thread_id = await connector.start(request())
    fake.revoke()
    with pytest.raises(DeskError) as failed:
        await connector.send(thread_id, message("hello?"))
    assert failed.value.auth and not failed.value.retryable
    assert "cxone-app-secret" not in str(failed.value)


def config_for(fake: FakeCXone, tmp_path: Path, **extra: Any) -> dict:
    return {
        "connector": "nice_cxone",
        "store": {"path": str(tmp_path / "status.sqlite")},
        "connectors": {"nice_cxone": fake.settings(channels={"billing": BILLING}, **extra)},
    }


async def test_status_is_available_with_working_credentials_and_unavailable_once_revoked(fake, store, tmp_path):
    config = parse_config(config_for(fake, tmp_path))
    made = create_connector(config, store)
    try:
        assert isinstance(made, NiceCXoneConnector) and made.tokens is not None
    finally:
        await made.aclose()
    statuses = await connector_statuses(config, store)
    assert statuses["nice_cxone"] is ServiceStatus.AVAILABLE
    assert statuses["webhook"] is ServiceStatus.NOT_CONFIGURED
    fake.revoke()  # also ends the token the store still holds
    assert (await connector_statuses(config, store))["nice_cxone"] is ServiceStatus.UNAVAILABLE


def test_rasa_handoff_status_says_unavailable_with_revoked_credentials(fake, tmp_path):
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump(config_for(fake, tmp_path, client_secret="${CXONE_SECRET}")))
    env = {"CXONE_SECRET": fake.client[1], "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "handoff_connectors.cli", "status", "--config", str(path)]
    fake.revoke()
    done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "nice_cxone Unavailable (in use)" in done.stdout
    assert fake.client[1] not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "change, field",
    [
        ({"api_url": "ftp://cxone.example"}, "api_url"),
        ({"client_secret": " "}, "client_secret"),
        ({"byoc_client_secret": ""}, "byoc_client_secret"),
        ({"channel_id": ""}, "channel_id"),
        ({"channels": {"billing": " "}}, "channels"),
        ({"byoc_token_ttl": 5}, "byoc_token_ttl"),
        ({"queue": "support"}, "queue"),
    ],
)
def test_a_bad_section_names_the_field(change, field):
    with pytest.raises(ValidationError) as failed:
        settings(**change)
    assert field in str(failed.value)
    assert "cxone-app-secret" not in str(failed.value)


def test_the_auth_url_defaults_to_cxones_token_endpoint():
    assert settings(auth_url=wire.DEFAULT_AUTH_URL).auth_url == "https://cxone.niceincontact.com/auth/token"
    assert not NiceCXoneSettings.model_fields["auth_url"].is_required()
