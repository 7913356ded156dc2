"""The Genesys connector against the fake org: what agents get, the shared token, the status, the settings."""

from __future__ import annotations

import time
import uuid

import pytest
from pydantic import ValidationError

from handoff_connectors import cli
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
from handoff_connectors.genesys import WEBHOOK_PATH, GenesysConnector, GenesysSettings
from handoff_connectors.genesys.webhooks import signature
from handoff_connectors.registry import connector_statuses
from handoff_connectors.testing import desk_call, hmac_hex

from .conftest import CLIENT_ID, CLIENT_SECRET, INTEGRATION_ID, SECRET_TOKEN, built, settings
from .fake_genesys import FakeGenesys


def handoff(routing: str | None = None, **extra) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=uuid.uuid4().hex,
        sender_id=f"user-{uuid.uuid4().hex[:10]}",
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human",
        routing=routing,
        created_at=time.time(),
        **extra,
    )


def said(text: str, *files: Attachment) -> UserMessage:
    return UserMessage(uuid.uuid4().hex, text, time.time(), tuple(files))


async def test_a_handoff_reaches_genesys_as_the_summary_then_the_question_from_the_rasa_sender(genesys, connector):
    request = handoff("billing", message_to_agent="Customer wants to pay a bill", attributes={"plan": "gold"})
    assert await connector.start(request) == request.sender_id

    summary, question = genesys.conversation(request.sender_id).messages
    assert summary["channel"]["from"] == {"id": request.sender_id, "idType": "Opaque", "nickname": "ana@example.com", "email": "ana@example.com"}
    assert summary["text"].splitlines() == [
        "Handoff from the bot.", "Email: ana@example.com", "Language: en", "Routing: billing", "Queue: Billing", "plan: gold",
        "Message to the agent: Customer wants to pay a bill", "",
        "Conversation with the bot:", "User: where is my order", "Bot: Orders ship within two days.",
    ]
    assert question["text"] == "I want to talk to a human"
    assert summary["channel"]["time"] < question["channel"]["time"]
    # The inbound message flow routes on these (Get Participant Data).
    assert question["channel"]["metadata"]["customAttributes"] == {
        "handoff_id": request.handoff_id, "handoff_language": "en", "handoff_email": "ana@example.com",
        "handoff_routing": "billing", "handoff_queue": "Billing", "plan": "gold",
    }
    assert summary["channel"]["metadata"] == question["channel"]["metadata"]


async def test_without_a_routing_the_default_queue_is_named(genesys, connector):
    request = handoff()
    await connector.start(request)
    attributes = genesys.conversation(request.sender_id).messages[0]["channel"]["metadata"]["customAttributes"]
    assert attributes["handoff_queue"] == "Support" and "handoff_routing" not in attributes


async def test_a_start_that_failed_half_way_sends_only_what_is_left(genesys, connector):
    request = handoff()
    genesys.fail_inbound(503, after=1)  # the summary is taken, the question refused
    with pytest.raises(DeskError) as refused:
        await connector.start(request)
    assert refused.value.retryable and not refused.value.auth
    assert await connector.start(request) == request.sender_id
    assert [m["channel"]["messageId"] for m in genesys.conversation(request.sender_id).messages] == [
        f"{request.handoff_id}-summary", f"{request.handoff_id}-question",
    ]
    assert genesys.duplicates == []


async def test_the_users_messages_keep_their_ids_and_files_go_as_attachments(genesys, connector):
    request = handoff()
    user = await connector.start(request)
    receipt = said("here is my receipt", Attachment("https://files.example/receipt-7731.pdf"),
                   Attachment("https://files.example/box.jpg", name="damaged box.jpg"))
    await connector.send(user, receipt)

    text, photo = genesys.conversation(user).messages[2:]
    assert text["channel"]["messageId"] == receipt.message_id and text["text"] == "here is my receipt"
    assert text["content"] == [{"contentType": "Attachment", "attachment": {
        "mediaType": "File", "url": "https://files.example/receipt-7731.pdf", "mime": "application/pdf", "filename": "receipt-7731.pdf"}}]
    assert photo["channel"]["messageId"] == f"{receipt.message_id}-file1" and "text" not in photo
    assert photo["content"][0]["attachment"]["mediaType"] == "Image"
    assert photo["content"][0]["attachment"]["filename"] == "damaged box.jpg"

    # A retry carries the same id and time: Genesys can tell it is the same message.
    await connector.send(user, UserMessage(receipt.message_id, receipt.text, receipt.sent_at))
    assert genesys.duplicates == [receipt.message_id]


async def test_closing_tells_the_agent_once(genesys, connector):
    request = handoff()
    user = await connector.start(request)
    genesys.fail_inbound(502)
    with pytest.raises(DeskError):
        await connector.close(user, CloseReason.USER_CLOSED)
    await connector.close(user, CloseReason.USER_CLOSED)
    last = genesys.conversation(user).messages[-1]
    assert last["text"] == "The customer ended the chat."
    assert last["channel"]["messageId"] == f"{request.handoff_id}-close"
    assert len(genesys.conversation(user).messages) == 3


async def test_a_token_that_expires_mid_handoff_is_refreshed_without_losing_or_repeating_a_message(genesys, connector):
    user = await connector.start(handoff())
    await connector.send(user, said("first"))
    assert genesys.issued == 1
    genesys.expire_tokens()  # Genesys refuses the stored token from now on (401)
    await connector.send(user, said("second"))
    await connector.send(user, said("third"))
    assert genesys.issued == 2
    assert genesys.conversation(user).texts()[2:] == ["first", "second", "third"]
    assert genesys.duplicates == []
    inbound = [r for r in genesys.requests if r.path.endswith("/inbound/open/message")]
    assert len(inbound) == 6  # two for the start, three messages, and the one refused with the expired token


async def test_one_token_serves_every_process(genesys, store):
    # An action server and a sidecar: two connectors, one store.
    first, second = built(genesys.url, store), built(genesys.url, store)
    try:
        user = await first.start(handoff())
        await second.send(user, said("hello"))
        assert genesys.issued == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_token_close_to_its_end_is_refreshed_before_use(store):
    with FakeGenesys(CLIENT_ID, CLIENT_SECRET, INTEGRATION_ID, SECRET_TOKEN, token_lifetime=30) as genesys:
        made = built(genesys.url, store)
        try:
            user = await made.start(handoff())
            await made.send(user, said("hello"))
        finally:
            await made.aclose()
        # 30 s is inside the refresh margin: every use fetched a fresh one, none was refused.
        assert genesys.issued == 3
        assert genesys.conversation(user).texts()[-1] == "hello"
        assert not genesys.violations


async def test_the_status_is_available_with_working_credentials_and_unavailable_once_revoked(genesys, connector, store, tmp_path, capsys):
    assert await connector.check() is ServiceStatus.AVAILABLE
    config = parse_config({
        "connector": "genesys",
        "store": {"path": str(tmp_path / "status.sqlite")},
        "connectors": {"genesys": {
            "login_url": genesys.url, "api_url": genesys.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "integration_id": INTEGRATION_ID, "secret_token": SECRET_TOKEN,
        }},
    })
    assert (await connector_statuses(config, store))["genesys"] is ServiceStatus.AVAILABLE

    genesys.revoke()
    assert await connector.check() is ServiceStatus.UNAVAILABLE
    assert (await connector_statuses(config, store))["genesys"] is ServiceStatus.UNAVAILABLE
    with pytest.raises(DeskError) as refused:
        await connector.send("user-1", said("hello"))
    assert refused.value.auth and CLIENT_SECRET not in str(refused.value)


def test_rasa_handoff_status_prints_unavailable_for_revoked_credentials(genesys, tmp_path, capsys):
    handoff_yml = tmp_path / "handoff.yml"
    handoff_yml.write_text(
        "connector: genesys\n"
        f"store: {{path: {tmp_path / 'cli.sqlite'}}}\n"
        "connectors:\n  genesys:\n"
        f"    login_url: {genesys.url}\n    api_url: {genesys.url}\n"
        f"    client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n"
        f"    integration_id: {INTEGRATION_ID}\n    secret_token: {SECRET_TOKEN}\n"
    )
    assert cli.main(["status", "--config", str(handoff_yml)]) == 0
    assert "genesys    Available" in capsys.readouterr().out
    genesys.revoke()  # the stored token is refused, and so is the fetch of a new one
    assert cli.main(["status", "--config", str(handoff_yml)]) == 1
    out = capsys.readouterr().out
    assert "genesys    Unavailable" in out and CLIENT_SECRET not in out


async def test_the_signature_is_base64_of_the_hmac_not_hex(connector):
    raw = b'{"id":"m1","type":"Text","text":"hi","channel":{"to":{"id":"u1"}},"direction":"Outbound"}'
    [event] = (await connector.parse_webhook(desk_call(WEBHOOK_PATH, raw, {"x-hub-signature-256": signature(SECRET_TOKEN, raw)}))).events
    assert event.text == "hi"
    for wrong in ("sha256=" + hmac_hex(SECRET_TOKEN, raw), signature("another-token", raw), ""):
        with pytest.raises(WebhookRejected) as refused:
            await connector.parse_webhook(desk_call(WEBHOOK_PATH, raw, {"x-hub-signature-256": wrong} if wrong else {}))
        assert refused.value.status == 401


def test_the_region_gives_the_login_and_api_hosts():
    section = GenesysSettings(client_id="c", client_secret="s", integration_id="i", secret_token="t", region="usw2.pure.cloud")
    assert (section.login_base, section.api_base) == ("https://login.usw2.pure.cloud", "https://api.usw2.pure.cloud")
    default = GenesysSettings(client_id="c", client_secret="s", integration_id="i", secret_token="t")
    assert default.api_base == "https://api.mypurecloud.com"
    assert settings("http://127.0.0.1:8000").login_base == "http://127.0.0.1:8000"


@pytest.mark.parametrize("field, value", [
    ("region", "https://api.mypurecloud.com"), ("client_secret", " "), ("secret_token", ""), ("api_url", "ftp://x"), ("client_id", ""),
])
def test_a_bad_section_names_its_field_and_never_prints_a_secret(field, value):
    with pytest.raises(ValidationError) as refused:
        settings(**{field: value})
    assert field in str(refused.value)
    assert CLIENT_SECRET not in repr(settings()) and SECRET_TOKEN not in repr(settings())


def test_the_connector_is_installed_under_its_name():
    from handoff_connectors.registry import connector_class

    assert connector_class("genesys") is GenesysConnector
