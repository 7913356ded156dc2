"""The generic webhook connector (GPTBots human-service protocol), in and out.

Inbound payloads live in fixtures/ as the desk would post them; outbound calls
go to a real local HTTP server and are checked field by field and against the
reference desk's protocol rules.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.webhook.settings import WebhookConnectorSettings
from handoff_connectors.core.contract import (
    AgentMessage,
    Attachment,
    CloseReason,
    ConversationClosed,
    DeskError,
    HandoffRequest,
    HttpReply,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
    WebhookRejected,
    WebhookRequest,
)
from handoff_connectors.webhook import CLOSE_PATH, RECEIVE_PATH, WebhookConnector
from tests.support.http_recorder import Recorded, RecordingServer
from tests.support.reference_desk import ReferenceDesk, protocol_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[3]
NOTES = REPO_ROOT / ".." / "shared" / "reference" / "gptbots-webhook" / "NOTES.md"

API_KEY = "desk-key-3f9a1c77e2"
CONVERSATION = "4c1f0e9a7b2d4f6e8a3c5b7d9e1f2a3b"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def inbound(
    path: str, body: bytes | dict | list, authorization: str | None = f"Bearer {API_KEY}"
) -> WebhookRequest:
    # The sidecar lower-cases header names before handing them over.
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest(method="POST", path=path, headers=headers, body=raw)


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> WebhookConnectorSettings:
    return WebhookConnectorSettings(url=url, api_key=API_KEY, **fields)


@pytest.fixture
async def connector() -> AsyncIterator[WebhookConnector]:
    made = WebhookConnector(settings())
    yield made
    await made.aclose()


async def rejection(connector: WebhookConnector, request: WebhookRequest) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        await connector.parse_webhook(request)
    return caught.value


# ======================================================================
# Inbound: the desk calls us
# ======================================================================


async def test_agent_reply_becomes_an_agent_message(connector: WebhookConnector) -> None:
    payload = fixture_json("agent_reply.json")

    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, fixture_bytes("agent_reply.json")))

    assert reply.reply == HttpReply(200, {"code": 0, "message": "ok"})
    [event] = reply.events
    assert isinstance(event, AgentMessage)
    assert event.desk_conversation_id == CONVERSATION == payload["conversation_id"]
    assert event.text == payload["body"]
    assert event.agent_name is None
    assert event.event_id.startswith("fp:")


async def test_the_same_reply_posted_again_has_the_same_event_id(connector: WebhookConnector) -> None:
    payload = fixture_json("agent_reply.json")
    first = await connector.parse_webhook(inbound(RECEIVE_PATH, fixture_bytes("agent_reply.json")))
    # Re-serialised differently (key order, spacing): still the same reply.
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=4).encode()
    again = await connector.parse_webhook(inbound(RECEIVE_PATH, reordered))

    assert first.events[0].event_id == again.events[0].event_id


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": 1767225600124},
        {"body": "Hi Ana, this is Marta from Acme support. I'm looking at order 124 now."},
        {"conversation_id": "0" * 32},
    ],
)
async def test_a_different_reply_has_a_different_event_id(connector: WebhookConnector, change: dict) -> None:
    payload = fixture_json("agent_reply.json")
    original = await connector.parse_webhook(inbound(RECEIVE_PATH, payload))
    changed = await connector.parse_webhook(inbound(RECEIVE_PATH, {**payload, **change}))

    assert original.events[0].event_id != changed.events[0].event_id


async def test_the_same_text_twice_in_a_conversation_is_two_messages(connector: WebhookConnector) -> None:
    # An agent may really say "ok" twice; only the timestamp tells them apart.
    first = await connector.parse_webhook(
        inbound(RECEIVE_PATH, {"conversation_id": CONVERSATION, "timestamp": 1000, "body": "ok"})
    )
    second = await connector.parse_webhook(
        inbound(RECEIVE_PATH, {"conversation_id": CONVERSATION, "timestamp": 2000, "body": "ok"})
    )
    assert first.events[0].event_id != second.events[0].event_id


async def test_message_id_is_the_event_id_when_present(connector: WebhookConnector) -> None:
    payload = fixture_json("agent_reply_with_message_id.json")

    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, fixture_bytes("agent_reply_with_message_id.json")))

    [event] = reply.events
    assert isinstance(event, AgentMessage)
    assert event.event_id == f"{CONVERSATION}:{payload['message_id']}" == f"{CONVERSATION}:desk-msg-000871"
    assert event.text == payload["body"]
    assert event.desk_conversation_id == CONVERSATION


async def test_message_id_identifies_the_reply_whatever_the_timestamp(connector: WebhookConnector) -> None:
    payload = fixture_json("agent_reply_with_message_id.json")
    retried = {**payload, "timestamp": payload["timestamp"] + 5000}
    first = await connector.parse_webhook(inbound(RECEIVE_PATH, payload))
    again = await connector.parse_webhook(inbound(RECEIVE_PATH, retried))
    assert first.events[0].event_id == again.events[0].event_id == f"{CONVERSATION}:desk-msg-000871"


@pytest.mark.parametrize("message_id", ["", 871, None, ["desk-msg-1"]])
async def test_unusable_message_id_falls_back_to_the_fingerprint(
    connector: WebhookConnector, message_id: Any
) -> None:
    payload = fixture_json("agent_reply.json")
    plain = await connector.parse_webhook(inbound(RECEIVE_PATH, payload))
    with_id = await connector.parse_webhook(inbound(RECEIVE_PATH, {**payload, "message_id": message_id}))
    assert with_id.events[0].event_id == plain.events[0].event_id


async def test_agent_close_becomes_conversation_closed(connector: WebhookConnector) -> None:
    reply = await connector.parse_webhook(inbound(CLOSE_PATH, fixture_bytes("agent_close.json")))

    assert reply.reply == HttpReply(200, {"code": 0, "message": "ok"})
    [event] = reply.events
    assert isinstance(event, ConversationClosed)
    assert event.desk_conversation_id == CONVERSATION
    assert event.event_id == f"close:{CONVERSATION}"


@pytest.mark.parametrize("path, fixture", [(RECEIVE_PATH, "agent_reply.json"), (CLOSE_PATH, "agent_close.json")])
async def test_a_call_for_no_live_handoff_is_answered_404_so_the_desk_stops_retrying(
    connector: WebhookConnector, path: str, fixture: str
) -> None:
    # The sidecar answers `when_unknown` when no live handoff owns the conversation.
    reply = await connector.parse_webhook(inbound(path, fixture_bytes(fixture)))

    assert reply.when_unknown is not None
    assert reply.when_unknown.status == 404
    assert reply.when_unknown.body["code"] == 404


async def test_a_repeated_close_is_the_same_event(connector: WebhookConnector) -> None:
    payload = fixture_json("agent_close.json")
    first = await connector.parse_webhook(inbound(CLOSE_PATH, payload))
    again = await connector.parse_webhook(inbound(CLOSE_PATH, {**payload, "timestamp": payload["timestamp"] + 1}))
    assert first.events[0].event_id == again.events[0].event_id


async def test_close_needs_no_body_field(connector: WebhookConnector) -> None:
    assert "body" not in fixture_json("agent_close.json")
    reply = await connector.parse_webhook(inbound(CLOSE_PATH, fixture_bytes("agent_close.json")))
    assert len(reply.events) == 1


async def test_unknown_extra_fields_are_tolerated(connector: WebhookConnector) -> None:
    payload = {**fixture_json("agent_reply.json"), "agent": {"name": "Marta"}, "channel": "web"}
    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, payload))
    assert reply.events[0].text == payload["body"]


async def test_float_timestamps_are_accepted(connector: WebhookConnector) -> None:
    payload = {**fixture_json("agent_reply.json"), "timestamp": 1767225600123.5}
    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, payload))
    assert isinstance(reply.events[0], AgentMessage)


def test_the_connector_routes_exactly_the_two_documented_webhooks() -> None:
    assert set(WebhookConnector.webhook_routes) == {
        ("POST", "/v1/human/message/receive"),
        ("POST", "/v1/human/close"),
    }


# -- authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-key",
        f"Bearer {API_KEY}x",
        f"Bearer {API_KEY[:-1]}",
        f"Bearer {API_KEY.upper()}",
        f"Basic {API_KEY}",
        API_KEY,
        f"Token {API_KEY}",
    ],
)
@pytest.mark.parametrize("path", [RECEIVE_PATH, CLOSE_PATH])
async def test_missing_or_wrong_bearer_key_is_401(
    connector: WebhookConnector, authorization: str | None, path: str
) -> None:
    rejected = await rejection(connector, inbound(path, fixture_bytes("agent_reply.json"), authorization))
    assert rejected.status == 401
    # The reason never echoes what was sent.
    assert API_KEY not in rejected.reason


@pytest.mark.parametrize("authorization", [f"bearer {API_KEY}", f"BEARER {API_KEY}", f"Bearer  {API_KEY} "])
async def test_bearer_scheme_is_case_insensitive_and_spaces_are_trimmed(
    connector: WebhookConnector, authorization: str
) -> None:
    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, fixture_bytes("agent_reply.json"), authorization))
    assert len(reply.events) == 1


async def test_authentication_comes_before_parsing(connector: WebhookConnector) -> None:
    # A forged call learns nothing about what a valid body looks like.
    rejected = await rejection(connector, inbound(RECEIVE_PATH, b"not json at all", "Bearer nope"))
    assert rejected.status == 401


async def test_unknown_path_with_a_good_key_is_404(connector: WebhookConnector) -> None:
    rejected = await rejection(connector, inbound("/v1/human/transfer", fixture_bytes("agent_reply.json")))
    assert rejected.status == 404


# -- malformed payloads ----------------------------------------------------------------

MALFORMED = {
    "malformed_truncated.json": "not JSON",
    "malformed_not_an_object.json": "JSON object",
    "malformed_missing_conversation_id.json": "conversation_id",
    "malformed_empty_conversation_id.json": "conversation_id",
    "malformed_conversation_id_number.json": "conversation_id",
    "malformed_missing_timestamp.json": "timestamp",
    "malformed_timestamp_string.json": "timestamp",
    "malformed_timestamp_boolean.json": "timestamp",
    "malformed_missing_body.json": "body",
    "malformed_blank_body.json": "body",
    "malformed_body_object.json": "body",
}


def test_every_malformed_fixture_is_covered() -> None:
    on_disk = {path.name for path in FIXTURES.glob("malformed_*.json")}
    assert on_disk == set(MALFORMED)


@pytest.mark.parametrize("name, field", sorted(MALFORMED.items()))
async def test_malformed_reply_is_400_naming_the_problem(
    connector: WebhookConnector, name: str, field: str
) -> None:
    rejected = await rejection(connector, inbound(RECEIVE_PATH, fixture_bytes(name)))
    assert rejected.status == 400
    assert field in rejected.reason


@pytest.mark.parametrize(
    "name",
    [
        "malformed_truncated.json",
        "malformed_not_an_object.json",
        "malformed_missing_conversation_id.json",
        "malformed_empty_conversation_id.json",
        "malformed_conversation_id_number.json",
        "malformed_missing_timestamp.json",
        "malformed_timestamp_string.json",
        "malformed_timestamp_boolean.json",
    ],
)
async def test_malformed_close_is_400(connector: WebhookConnector, name: str) -> None:
    rejected = await rejection(connector, inbound(CLOSE_PATH, fixture_bytes(name)))
    assert rejected.status == 400


@pytest.mark.parametrize("body", [b"", b"\xff\xfe\x00garbage", b"null", b"42", b'"a string"', b"true"])
async def test_bodies_that_are_not_an_object_are_400(connector: WebhookConnector, body: bytes) -> None:
    rejected = await rejection(connector, inbound(RECEIVE_PATH, body))
    assert rejected.status == 400


# ======================================================================
# Outbound: we call the desk
# ======================================================================


def handoff_request(**fields: Any) -> HandoffRequest:
    values: dict[str, Any] = dict(
        handoff_id="b8e2c4a6d0f14e3a9c7b5d3f1e0a2c4b",
        sender_id="web-user-77",
        email="ana@example.com",
        language="en",
        transcript=(
            Turn(Speaker.USER, "hi"),
            Turn(Speaker.BOT, "Hello! How can I help?"),
            Turn(Speaker.USER, "where is my order 123"),
            Turn(Speaker.BOT, "Order 123 was shipped on Monday."),
            Turn(Speaker.BOT, "It should arrive this week."),
        ),
        latest_question="it has not arrived, I want to talk to a person",
        created_at=1767225000.5,
    )
    values.update(fields)
    return HandoffRequest(**values)


def accept_all(request: Recorded) -> tuple[int, Any]:
    return 200, {"code": 0, "message": "ok"}


@pytest.fixture(scope="module")
def shared_server() -> Iterator[RecordingServer]:
    # One server for the module: stopping one takes up to half a second.
    with RecordingServer(accept_all) as server:
        yield server


@pytest.fixture
def desk(shared_server: RecordingServer) -> Iterator[RecordingServer]:
    """The shared server, emptied, answering 200 unless a test says otherwise."""
    shared_server.handler = accept_all
    with shared_server._changed:
        shared_server.requests.clear()
    yield shared_server
    shared_server.handler = accept_all


@pytest.fixture
async def outbound(desk: RecordingServer) -> AsyncIterator[WebhookConnector]:
    made = WebhookConnector(settings(desk.url, bot_id="acme-support-bot"))
    yield made
    await made.aclose()


def only(server: RecordingServer) -> Recorded:
    assert len(server.requests) == 1, [(r.method, r.path) for r in server.requests]
    return server.requests[0]


async def test_start_posts_the_documented_establish_body(
    outbound: WebhookConnector, desk: RecordingServer
) -> None:
    request = handoff_request()

    desk_id = await outbound.start(request)

    assert desk_id == request.handoff_id
    call = only(desk)
    assert (call.method, call.path) == ("POST", "/conversation/establish")
    assert "application/json" in call.headers["content-type"]
    assert protocol_errors(call) == []
    assert call.json() == {
        "conversation_id": request.handoff_id,
        "timestamp": 1767225000500,
        "email": "ana@example.com",
        "bot_id": "acme-support-bot",
        "body": [
            {"text": "hi", "message_type": "QUESTION"},
            {"text": "Hello! How can I help?", "message_type": "ANSWER"},
            {"text": "where is my order 123", "message_type": "QUESTION"},
            {"text": "Order 123 was shipped on Monday.", "message_type": "ANSWER"},
            {"text": "It should arrive this week.", "message_type": "ANSWER"},
            {"text": "it has not arrived, I want to talk to a person", "message_type": "QUESTION"},
        ],
        "user_info": {
            "phone": None,
            "email": "ana@example.com",
            "user_id": "web-user-77",
            "anonymous_id": "web-user-77",
        },
    }
    # No credentials unless configured.
    assert "authorization" not in call.headers


async def test_start_without_history_sends_just_the_question(
    outbound: WebhookConnector, desk: RecordingServer
) -> None:
    await outbound.start(handoff_request(transcript=(), latest_question="human please"))

    assert only(desk).json()["body"] == [{"text": "human please", "message_type": "QUESTION"}]


async def test_message_to_agent_goes_first_and_the_question_stays_last(
    outbound: WebhookConnector, desk: RecordingServer
) -> None:
    await outbound.start(handoff_request(message_to_agent="Premium customer, order 123"))

    body = only(desk).json()["body"]
    assert body[0] == {"text": "Premium customer, order 123", "message_type": "ANSWER"}
    assert body[-1] == {"text": "it has not arrived, I want to talk to a person", "message_type": "QUESTION"}
    assert len(body) == 7
    assert protocol_errors(only(desk)) == []


async def test_send_posts_the_documented_chat_body(outbound: WebhookConnector, desk: RecordingServer) -> None:
    await outbound.send("conv-1", UserMessage(message_id="m1", text="It is order 123", sent_at=1767225100.25))

    call = only(desk)
    assert (call.method, call.path) == ("POST", "/chat")
    assert protocol_errors(call) == []
    assert call.json() == {"conversation_id": "conv-1", "timestamp": 1767225100250, "body": "It is order 123"}


async def test_user_files_go_as_links_after_the_text_in_the_chat_body(
    outbound: WebhookConnector, desk: RecordingServer
) -> None:
    files = (
        Attachment("https://files.example.com/receipt.pdf", "receipt.pdf", "application/pdf"),
        Attachment("https://files.example.com/box.jpg"),
    )

    await outbound.send("conv-1", UserMessage("m1", "Here is the receipt", 1767225100.25, attachments=files))
    await outbound.send("conv-1", UserMessage("m2", "", 1767225101.0, attachments=files[1:]))

    assert [protocol_errors(call) for call in desk.requests] == [[], []]
    assert [call.json()["body"] for call in desk.requests] == [
        "Here is the receipt\nhttps://files.example.com/receipt.pdf\nhttps://files.example.com/box.jpg",
        "https://files.example.com/box.jpg",
    ]


@pytest.mark.parametrize(
    "reason, wire",
    [
        (CloseReason.USER_CLOSED, "USER_CLOSED"),
        (CloseReason.TIMEOUT, "TIMEOUT"),
        (CloseReason.BOT_ENDED, "USER_CLOSED"),
    ],
)
async def test_close_posts_the_documented_close_body(
    outbound: WebhookConnector, desk: RecordingServer, reason: CloseReason, wire: str
) -> None:
    before = int(time.time() * 1000)
    await outbound.close("conv-1", reason)
    after = int(time.time() * 1000)

    call = only(desk)
    assert (call.method, call.path) == ("POST", "/conversation/close")
    assert protocol_errors(call) == []
    payload = call.json()
    assert set(payload) == {"conversation_id", "timestamp", "type"}
    assert payload["conversation_id"] == "conv-1"
    assert payload["type"] == wire
    assert before <= payload["timestamp"] <= after


async def test_calls_go_below_a_base_path(desk: RecordingServer) -> None:
    connector = WebhookConnector(settings(f"{desk.url}/human/service/"))
    try:
        await connector.start(handoff_request())
        await connector.send("c", UserMessage("m", "hello", 1.0))
        await connector.close("c", CloseReason.TIMEOUT)
    finally:
        await connector.aclose()

    assert [r.path for r in desk.requests] == [
        "/human/service/conversation/establish",
        "/human/service/chat",
        "/human/service/conversation/close",
    ]


async def test_basic_auth_is_sent_when_configured(desk: RecordingServer) -> None:
    connector = WebhookConnector(settings(desk.url, username="rasa", password="s3cret:with-colon"))
    try:
        await connector.send("c", UserMessage("m", "hello", 1.0))
        await connector.close("c", CloseReason.USER_CLOSED)
    finally:
        await connector.aclose()

    expected = "Basic " + base64.b64encode(b"rasa:s3cret:with-colon").decode()
    assert [r.headers.get("authorization") for r in desk.requests] == [expected, expected]


async def test_the_reference_desk_accepts_every_call() -> None:
    with ReferenceDesk(API_KEY, basic_auth=("rasa", "pw")) as reference:
        connector = WebhookConnector(settings(reference.url, username="rasa", password="pw"))
        try:
            await connector.start(handoff_request())
            await connector.send("conv-9", UserMessage("m", "still there?", 2.0))
            await connector.close("conv-9", CloseReason.TIMEOUT)
        finally:
            await connector.aclose()

        assert len(reference.received("/conversation/establish")) == 1
        assert reference.received("/chat") == [{"conversation_id": "conv-9", "timestamp": 2000, "body": "still there?"}]
        assert reference.received("/conversation/close")[0]["type"] == "TIMEOUT"


# -- failures ---------------------------------------------------------------------------


@pytest.fixture
def failure_of(desk: RecordingServer):
    async def fail_with(status: int) -> DeskError:
        desk.handler = lambda request: (status, {"code": status, "message": "no"})
        connector = WebhookConnector(settings(desk.url))
        try:
            with pytest.raises(DeskError) as caught:
                await connector.send("conv-1", UserMessage("m", "hello", 1.0))
        finally:
            await connector.aclose()
        assert [r.path for r in desk.requests] == ["/chat"]
        return caught.value

    return fail_with


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retryable(failure_of, status: int) -> None:
    error = await failure_of(status)
    assert error.retryable is True
    assert error.auth is False
    assert str(status) in str(error)
    assert "/chat" in str(error)


@pytest.mark.parametrize("status", [408, 429])
async def test_busy_answers_are_retryable(failure_of, status: int) -> None:
    assert (await failure_of(status)).retryable is True


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_refusals_are_not_retryable(failure_of, status: int) -> None:
    error = await failure_of(status)
    assert error.retryable is False
    assert error.auth is False


@pytest.mark.parametrize("status", [401, 403])
async def test_credential_failures_are_marked_auth(failure_of, status: int) -> None:
    error = await failure_of(status)
    assert error.auth is True
    assert error.retryable is False


async def test_wrong_basic_auth_against_the_reference_desk_is_an_auth_error() -> None:
    with ReferenceDesk(API_KEY, basic_auth=("rasa", "right")) as reference:
        connector = WebhookConnector(settings(reference.url, username="rasa", password="wrong"))
        try:
            with pytest.raises(DeskError) as caught:
                await connector.start(handoff_request())
        finally:
            await connector.aclose()
    assert caught.value.auth is True
    assert "wrong" not in str(caught.value)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_connection_refused_is_retryable() -> None:
    connector = WebhookConnector(settings(f"http://127.0.0.1:{unused_port()}", username="u", password="pw-x9"))
    try:
        with pytest.raises(DeskError) as caught:
            await connector.start(handoff_request())
    finally:
        await connector.aclose()
    assert caught.value.retryable is True
    assert caught.value.auth is False
    assert "pw-x9" not in str(caught.value)


async def test_a_desk_that_does_not_answer_in_time_is_retryable() -> None:
    def slow(request: Recorded) -> tuple[int, Any]:
        time.sleep(0.6)
        return 200, {"code": 0, "message": "ok"}

    with RecordingServer(slow) as server:
        connector = WebhookConnector(settings(server.url, timeout=0.2))
        try:
            started = time.monotonic()
            with pytest.raises(DeskError) as caught:
                await connector.send("conv-1", UserMessage("m", "hello", 1.0))
            assert time.monotonic() - started < 0.5
        finally:
            await connector.aclose()
    assert caught.value.retryable is True


async def test_check_reports_a_reachable_service_available(desk: RecordingServer) -> None:
    connector = WebhookConnector(settings(desk.url))
    try:
        assert await connector.check() is ServiceStatus.AVAILABLE
    finally:
        await connector.aclose()
    # Checking has no side effects on the desk's conversations.
    assert [r.method for r in desk.requests] == ["GET"]


async def test_check_reports_an_unreachable_service_unavailable() -> None:
    connector = WebhookConnector(settings(f"http://127.0.0.1:{unused_port()}"))
    try:
        assert await connector.check() is ServiceStatus.UNAVAILABLE
    finally:
        await connector.aclose()


# ======================================================================
# The protocol notes' own examples
# ======================================================================


def notes_example(heading_fragment: str) -> dict:
    """The first ```json block in the NOTES section whose heading names `heading_fragment`."""
    if not NOTES.is_file():
        pytest.skip(f"protocol notes not found at {NOTES.resolve()} (the shared reference is not checked out)")
    text = NOTES.read_text(encoding="utf-8")
    sections = re.split(r"^###\s+", text, flags=re.MULTILINE)
    for section in sections[1:]:
        heading, _, rest = section.partition("\n")
        if heading_fragment in heading:
            block = re.search(r"```json\s*\n(.*?)```", rest, flags=re.DOTALL)
            assert block, f"no JSON example under '### {heading}'"
            return json.loads(block.group(1))
    pytest.fail(f"NOTES.md has no section for {heading_fragment}")


async def test_notes_example_of_message_receive_parses(connector: WebhookConnector) -> None:
    example = notes_example("/v1/human/message/receive")

    reply = await connector.parse_webhook(inbound(RECEIVE_PATH, json.dumps(example).encode()))

    [event] = reply.events
    assert isinstance(event, AgentMessage)
    assert event.desk_conversation_id == example["conversation_id"]
    assert event.text == example["body"]


async def test_notes_example_of_close_parses(connector: WebhookConnector) -> None:
    example = notes_example("/v1/human/close")

    reply = await connector.parse_webhook(inbound(CLOSE_PATH, json.dumps(example).encode()))

    [event] = reply.events
    assert isinstance(event, ConversationClosed)
    assert event.desk_conversation_id == example["conversation_id"]


@pytest.mark.parametrize(
    "heading, path",
    [
        ("/conversation/establish", "/conversation/establish"),
        ("/chat", "/chat"),
        ("/conversation/close", "/conversation/close"),
    ],
)
async def test_outbound_bodies_have_the_fields_of_the_notes_examples(
    outbound: WebhookConnector, desk: RecordingServer, heading: str, path: str
) -> None:
    example = notes_example(heading)

    await outbound.start(handoff_request())
    await outbound.send("conv-1", UserMessage("m", "hello", 1.0))
    await outbound.close("conv-1", CloseReason.USER_CLOSED)

    [call] = desk.matching(path)
    sent = call.json()
    assert set(sent) == set(example)
    if "user_info" in example:
        assert set(sent["user_info"]) == set(example["user_info"])
        assert {item["message_type"] for item in sent["body"]} <= {i["message_type"] for i in example["body"]}
