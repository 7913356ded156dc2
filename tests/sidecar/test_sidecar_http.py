"""The sidecar over real HTTP: desk webhooks in, trigger_intent calls into (a fake) Rasa out."""

from __future__ import annotations

import asyncio

import base64
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import httpx
import pytest

from handoff_connectors.core.contract import Attachment
from handoff_connectors.rasa_runtime.processes import free_port
from tests.support.reference_desk import ReferenceDesk

RECEIVE = "/v1/human/message/receive"
CLOSE = "/v1/human/close"
AGENT_MESSAGE = "EXTERNAL_handoff_agent_message"
CLOSED = "EXTERNAL_handoff_closed"


def base_url(sidecar) -> str:
    return sidecar.health_url.removesuffix("/health")


def post(
    sidecar,
    path: str,
    payload: Any,
    key: Optional[str],
    headers: Optional[dict[str, str]] = None,
) -> httpx.Response:
    """A call to the sidecar; `payload` is sent as JSON unless it is bytes."""
    headers = dict(headers or {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if isinstance(payload, bytes):
        headers.setdefault("Content-Type", "application/json")
        return httpx.post(base_url(sidecar) + path, content=payload, headers=headers, timeout=30)
    return httpx.post(base_url(sidecar) + path, json=payload, headers=headers, timeout=30)


def now_ms() -> int:
    return int(time.time() * 1000)


def texts(calls) -> list[Optional[str]]:
    return [call.text for call in calls]


def wait_for_log(service, needle: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in service.log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never appeared in the sidecar's log:\n{service.log_tail()}")
        time.sleep(0.05)


# -- plain delivery -----------------------------------------------------------------------


def test_health(sidecar):
    response = httpx.get(sidecar.health_url, timeout=10)

    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["connector"]) == ("ok", "webhook")


async def test_an_unavailable_desk_is_checked_again_until_it_is_back(sidecar, desk, config_path):
    from handoff_connectors.core.config import load_config
    from handoff_connectors.core.store import open_store

    store = open_store(load_config(str(config_path)).store)
    try:
        # As after a desk call refused our credentials; the desk works again now.
        await store.put("status:webhook", {"status": "Unavailable", "at": 0})
        deadline = time.monotonic() + 10
        while httpx.get(sidecar.health_url, timeout=10).json()["service"] != "Available":
            assert time.monotonic() < deadline, "the sidecar never checked the desk again"
            await asyncio.sleep(0.1)
        # Written anew by the sidecar's check (the check runs every 0.3 s here,
        # so the Unavailable we wrote may never be seen through /health).
        assert (await store.get("status:webhook"))["at"] > 0
    finally:
        await store.close()


def test_an_oversized_body_is_refused_before_it_is_read(sidecar, desk):
    huge = b'{"conversation_id": "x", "timestamp": 1, "body": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{desk.sidecar_url}/v1/human/message/receive",
        content=huge,
        headers={"Authorization": f"Bearer {desk.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_an_agent_reply_is_pushed_into_the_rasa_conversation(sidecar, rasa, desk, handoffs, sender_id):
    sender_id = f"whatsapp:+49 151 {sender_id}"  # ids with characters a URL path must escape
    conversation_id = handoffs.open(sender_id)

    response = desk.reply(conversation_id, "Hi, I'm Sam. How can I help?")

    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "ok"}
    [call] = rasa.wait_acked(sender_id, 1)
    assert call.intent == AGENT_MESSAGE
    assert set(call.entities) == {"handoff_event_id", "handoff_text"}
    assert call.text == "Hi, I'm Sam. How can I help?"
    assert call.event_id.startswith("webhook:")
    assert call.query["token"] == [rasa.token]
    assert call.query["output_channel"] == ["latest"]
    assert rasa.calls_for(sender_id) == [call]


def test_replies_arrive_in_the_order_the_agent_sent_them(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    sent = [f"message {n} of 8" for n in range(1, 9)]

    for text in sent:
        assert desk.reply(conversation_id, text).status_code == 200

    delivered = rasa.wait_acked(sender_id, len(sent))
    assert texts(delivered) == sent
    assert len({call.event_id for call in delivered}) == len(sent)
    assert len(rasa.calls_for(sender_id)) == len(sent)


def test_a_redelivered_reply_is_pushed_once(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    timestamp = now_ms()

    # The desk retries a webhook: same conversation, timestamp and text.
    assert desk.reply(conversation_id, "Your refund is on its way.", timestamp=timestamp).status_code == 200
    assert desk.reply(conversation_id, "Your refund is on its way.", timestamp=timestamp).status_code == 200
    # Same message_id, even with another timestamp: the same reply.
    assert desk.reply(conversation_id, "Anything else?", timestamp=timestamp + 5, message_id="m-77").status_code == 200
    assert desk.reply(conversation_id, "Anything else?", timestamp=timestamp + 900, message_id="m-77").status_code == 200
    # The same words at another time are a new message.
    assert desk.reply(conversation_id, "Your refund is on its way.", timestamp=timestamp + 1000).status_code == 200

    delivered = rasa.wait_acked(sender_id, 3)
    assert texts(delivered) == ["Your refund is on its way.", "Anything else?", "Your refund is on its way."]
    assert delivered[1].event_id == f"webhook:{conversation_id}:m-77"
    assert len({call.event_id for call in delivered}) == 3
    assert len(rasa.calls_for(sender_id)) == 3


def test_a_reply_posted_many_times_at_once_is_pushed_once(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    timestamp = now_ms()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda _: desk.reply(conversation_id, "Same reply, eight deliveries", timestamp=timestamp).status_code,
            range(8),
        ))

    assert statuses == [200] * 8
    assert desk.reply(conversation_id, "the next one").status_code == 200
    delivered = rasa.wait_acked(sender_id, 2)
    assert texts(delivered) == ["Same reply, eight deliveries", "the next one"]
    assert texts(rasa.calls_for(sender_id)) == ["Same reply, eight deliveries", "the next one"]


# -- rejected webhooks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-key"},
        {"Authorization": "Bearer null"},
        {"Authorization": "bearer"},
        {"Authorization": "Basic {key}"},
        {"Authorization": "Bearer {key}x"},
        {"Authorization": "Bearer x{key}"},
        {"Authorization": "{key}"},
        {"X-Api-Key": "{key}"},
    ],
    ids=["missing", "wrong", "null", "no key", "basic scheme", "key plus suffix", "prefix plus key", "no scheme", "other header"],
)
def test_a_call_without_the_right_bearer_key_is_refused(sidecar, rasa, desk, handoffs, sender_id, headers):
    conversation_id = handoffs.open(sender_id)
    headers = {name: value.format(key=desk.api_key) for name, value in headers.items()}

    for path, payload in (
        (RECEIVE, {"conversation_id": conversation_id, "timestamp": now_ms(), "body": "forged"}),
        (CLOSE, {"conversation_id": conversation_id, "timestamp": now_ms()}),
    ):
        response = post(sidecar, path, payload, key=None, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == 401

    # A genuine reply behind them on the same conversation: once it is in,
    # anything the forged calls had queued would have been delivered before it.
    assert desk.reply(conversation_id, "genuine").status_code == 200
    rasa.wait_acked(sender_id, 1)
    assert texts(rasa.calls_for(sender_id)) == ["genuine"]


@pytest.mark.parametrize(
    "path, payload, reason",
    [
        (RECEIVE, b"{not json", "body is not JSON"),
        (RECEIVE, b"\xff\xfe\x00", "body is not JSON"),
        (RECEIVE, b"", "body is not JSON"),
        (RECEIVE, b'["a list"]', "body must be a JSON object"),
        (RECEIVE, {"timestamp": 1, "body": "hi"}, "conversation_id"),
        (RECEIVE, {"conversation_id": "", "timestamp": 1, "body": "hi"}, "conversation_id"),
        (RECEIVE, {"conversation_id": "{conversation}", "body": "hi"}, "timestamp"),
        (RECEIVE, {"conversation_id": "{conversation}", "timestamp": "yesterday", "body": "hi"}, "timestamp"),
        (RECEIVE, {"conversation_id": "{conversation}", "timestamp": True, "body": "hi"}, "timestamp"),
        (RECEIVE, {"conversation_id": "{conversation}", "timestamp": 1}, "body"),
        (RECEIVE, {"conversation_id": "{conversation}", "timestamp": 1, "body": "   "}, "body"),
        (RECEIVE, {"conversation_id": "{conversation}", "timestamp": 1, "body": {"text": "hi"}}, "body"),
        (CLOSE, {"conversation_id": "{conversation}"}, "timestamp"),
        (CLOSE, {"timestamp": 1}, "conversation_id"),
    ],
    ids=[
        "broken JSON", "not UTF-8", "empty", "a list", "no conversation", "empty conversation", "no timestamp",
        "text timestamp", "boolean timestamp", "no body", "blank body", "object body", "close without timestamp",
        "close without conversation",
    ],
)
def test_a_malformed_call_is_refused(sidecar, rasa, desk, handoffs, sender_id, path, payload, reason):
    conversation_id = handoffs.open(sender_id)
    if isinstance(payload, dict):
        payload = {k: v.format(conversation=conversation_id) if isinstance(v, str) else v for k, v in payload.items()}

    response = post(sidecar, path, payload, key=desk.api_key)

    assert response.status_code == 400, response.text
    assert reason in response.json()["message"]
    assert desk.reply(conversation_id, "genuine").status_code == 200
    rasa.wait_acked(sender_id, 1)
    assert [call.intent for call in rasa.calls_for(sender_id)] == [AGENT_MESSAGE]
    assert texts(rasa.calls_for(sender_id)) == ["genuine"]


def test_a_user_file_reaches_the_webhook_desk_as_a_link_after_the_text(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    receipt = Attachment("https://files.example.com/receipt.pdf", "receipt.pdf", "application/pdf")

    handoffs.relay(conversation_id, "Here is the receipt", [receipt])

    def chats() -> list[dict]:
        return [c for c in desk.received("/chat") if c["conversation_id"] == conversation_id]

    desk.server.wait_for(lambda _: chats(), timeout=20)
    assert [c["body"] for c in chats()] == ["Here is the receipt\nhttps://files.example.com/receipt.pdf"]


def test_a_reply_to_an_unknown_conversation_is_not_found(sidecar, rasa, desk, handoffs, sender_id):
    response = desk.reply("no-such-conversation-5f1c", "hello?")

    assert response.status_code == 404
    assert response.json()["code"] == 404
    # Behind it, a genuine reply; the stray one never reached Rasa.
    conversation_id = handoffs.open(sender_id)
    assert desk.reply(conversation_id, "genuine").status_code == 200
    rasa.wait_acked(sender_id, 1)
    assert "hello?" not in texts(rasa.calls)


def test_an_unknown_route_is_not_found(sidecar, desk):
    response = post(sidecar, "/v1/human/other", {"conversation_id": "x", "timestamp": 1}, key=desk.api_key)
    assert response.status_code == 404
    response = httpx.get(base_url(sidecar) + RECEIVE, timeout=10)
    assert response.status_code == 405


# -- closing ---------------------------------------------------------------------------------


def test_the_agent_closing_is_pushed_and_ends_the_conversation(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    assert desk.reply(conversation_id, "Glad I could help. Bye!").status_code == 200

    response = desk.close(conversation_id)

    assert response.status_code == 200
    delivered = rasa.wait_acked(sender_id, 2)
    assert [call.intent for call in delivered] == [AGENT_MESSAGE, CLOSED]
    assert delivered[1].entities == {"handoff_event_id": f"webhook:close:{conversation_id}"}

    # The conversation is over: a late reply and a repeated close are both
    # "no such conversation" (404, so the desk stops retrying) and change nothing.
    late = desk.reply(conversation_id, "one more thing")
    assert late.status_code == 404
    assert desk.close(conversation_id).status_code == 404

    # A new handoff for the same user: its reply queues behind anything the
    # calls above could have queued, so once it is in, the record is complete.
    new_conversation = handoffs.open(sender_id)
    assert desk.reply(new_conversation, "Hello again, this is Kim.").status_code == 200
    rasa.wait_acked(sender_id, 3)
    assert [(call.intent, call.text) for call in rasa.calls_for(sender_id)] == [
        (AGENT_MESSAGE, "Glad I could help. Bye!"),
        (CLOSED, None),
        (AGENT_MESSAGE, "Hello again, this is Kim."),
    ]


# -- Rasa in trouble ---------------------------------------------------------------------------


def test_rasa_answering_503_delays_but_never_drops_reorders_or_repeats(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    rasa.failing = (503, {"version": "3.6.21", "status": "failure", "reason": "ServiceUnavailable", "code": 503})
    sent = ["first", "second", "third"]

    for text in sent:
        assert desk.reply(conversation_id, text).status_code == 200
    assert desk.close(conversation_id).status_code == 200
    # Refused, and tried again (0.5 s later, then 1 s).
    rasa.wait_for(lambda: len(rasa.calls_for(sender_id)) >= 3)
    assert rasa.acked(sender_id) == []
    # Only the oldest is ever tried while Rasa refuses: nothing overtakes it.
    assert set(texts(rasa.calls_for(sender_id))) == {"first"}
    rasa.failing = None

    delivered = rasa.wait_acked(sender_id, 4)
    assert texts(delivered) == [*sent, None]
    # The close comes last, even though the handoff was forgotten when it arrived.
    assert [call.intent for call in delivered] == [AGENT_MESSAGE] * 3 + [CLOSED]
    # Each exactly once.
    assert texts(call for call in settled(rasa, desk, handoffs, sender_id) if call.acked) == [*sent, None]


def test_an_event_rasa_ran_but_no_action_acknowledged_is_pushed_again(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    rasa.acking = False

    for text in ("are you there?", "hello?"):
        assert desk.reply(conversation_id, text).status_code == 200
    rasa.wait_for(lambda: len(rasa.calls_for(sender_id)) >= 2)
    assert set(texts(rasa.calls_for(sender_id))) == {"are you there?"}
    rasa.acking = True

    delivered = rasa.wait_acked(sender_id, 2)
    assert texts(delivered) == ["are you there?", "hello?"]
    assert texts(call for call in settled(rasa, desk, handoffs, sender_id) if call.acked) == ["are you there?", "hello?"]


def test_rasa_down_entirely_gets_everything_once_it_is_back(sidecar, rasa, desk, handoffs, sender_id):
    conversation_id = handoffs.open(sender_id)
    rasa.stop()

    sent = ["while Rasa is down", "still down", "and one more"]
    for text in sent:
        assert desk.reply(conversation_id, text).status_code == 200
    # The sidecar tried, failed, and keeps the queue for later.
    wait_for_log(sidecar, f"to_rasa:{sender_id}")
    assert rasa.calls_for(sender_id) == []

    rasa.start()  # the same port

    delivered = rasa.wait_acked(sender_id, 3)
    assert texts(delivered) == sent
    assert texts(settled(rasa, desk, handoffs, sender_id)) == sent


def settled(rasa, desk, handoffs, sender_id: str) -> list:
    """All of the user's calls, once any stray resend would have arrived.

    A probe reply to the same user (on a new handoff) queues behind
    everything before it, and nothing in a user's queue overtakes an older
    item: once the probe is acknowledged, a duplicate of an earlier item
    would be in the record too. The probe itself is left out.
    """
    before = len(rasa.acked(sender_id))
    conversation_id = handoffs.open(sender_id)
    assert desk.reply(conversation_id, "(probe)").status_code == 200
    acked = rasa.wait_acked(sender_id, before + 1)
    assert acked[-1].text == "(probe)"
    return [call for call in rasa.calls_for(sender_id) if call.text != "(probe)"]


# -- what the sidecar writes to its log ---------------------------------------------------------


def test_no_secret_reaches_the_log_even_at_debug_level(tmp_path: Path, sidecar_tools, sender_id):
    tools = sidecar_tools
    secrets = tools["secrets"]
    desk = ReferenceDesk(api_key=tools["desk_key"], basic_auth=tools["desk_auth"])
    rasa = tools["FakeRasa"](secrets["rasa token"])
    with desk:
        rasa.start()
        config = tools["write_config"](tmp_path / "handoff.yml", rasa.url, desk.url, tmp_path / "handoff.sqlite")
        handoffs = tools["Handoffs"](config)
        # The desk is down when the handoff opens: the sidecar's pump must
        # deliver the opening later, with the Basic-auth password.
        desk.down = True
        conversation_id = handoffs.open(sender_id)
        rasa.failing = (503, {"version": "3.6.21", "status": "failure", "code": 503})
        sidecar = tools["start_sidecar"](config, tmp_path / "logs", log_level="debug")
        try:
            desk.sidecar_url = base_url(sidecar)
            wait_for_log(sidecar, f"to_desk:{conversation_id} is waiting")
            desk.down = False
            wait_for_log(sidecar, f"to_desk:{conversation_id} delivered after")

            # Rejected calls, some carrying the key or the password.
            key, (user, password) = tools["desk_key"], tools["desk_auth"]
            payload = {"conversation_id": conversation_id, "timestamp": now_ms(), "body": "forged"}
            assert post(sidecar, RECEIVE, payload, key=key + "x").status_code == 401
            assert post(sidecar, RECEIVE, payload, key=None, headers={"Authorization": key}).status_code == 401
            assert post(sidecar, RECEIVE, payload, key=None, headers={"Authorization": f"Basic {user}:{password}"}).status_code == 401
            assert post(sidecar, RECEIVE, b"{broken " + key.encode(), key=key).status_code == 400
            assert desk.reply("unknown-conversation", "hello?").status_code == 404

            # Accepted ones, first into a Rasa that refuses, then into a healthy one.
            assert desk.reply(conversation_id, "Hi, I'm Sam.").status_code == 200
            rasa.wait_for(lambda: len(rasa.calls_for(sender_id)) >= 2)
            rasa.failing = None
            assert desk.close(conversation_id).status_code == 200
            delivered = rasa.wait_acked(sender_id, 2)
            assert [call.intent for call in delivered] == [AGENT_MESSAGE, CLOSED]
            assert delivered[0].query["token"] == [secrets["rasa token"]]
        finally:
            sidecar.stop()
            rasa.stop()

    log = sidecar.log_path.read_text(errors="replace")
    # The log did record all of that, at debug level...
    assert " DEBUG " in log
    assert "Rejected POST /v1/human/message/receive: missing or wrong bearer key" in log
    assert f"to_rasa:{sender_id} is waiting" in log
    # ...without any secret, in any spelling.
    basic = base64.b64encode(f"{tools['desk_auth'][0]}:{tools['desk_auth'][1]}".encode()).decode()
    for name, secret in {**secrets, "basic credentials": basic}.items():
        for spelling in {secret, quote(secret, safe="")}:
            assert spelling not in log, f"the {name} appears in the sidecar's log"


def test_a_bad_config_stops_the_sidecar_naming_the_field_not_the_value(tmp_path: Path):
    config = tmp_path / "handoff.yml"
    config.write_text(
        "connector: webhook\n"
        "sidecar: {poll_interval: -1}\n"
        "connectors:\n"
        "  webhook:\n"
        "    url: http://127.0.0.1:9\n"
        "    api_key: key-in-the-right-place-31\n"
        "    pasword: leaky-password-77e0\n",
        encoding="utf-8",
    )

    completed = subprocess.run(
        [sys.executable, "-m", "handoff_connectors.cli", "sidecar", "--config", str(config), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 2
    assert "sidecar.poll_interval: Input should be greater than 0" in completed.stderr
    assert "connectors.webhook.pasword: unknown key" in completed.stderr
    assert "leaky-password-77e0" not in completed.stdout + completed.stderr
    assert "key-in-the-right-place-31" not in completed.stdout + completed.stderr


def test_message_ids_are_told_apart_per_conversation(sidecar, rasa, desk, handoffs, sender_id):
    # A desk that numbers messages per conversation: both conversations have a message "1".
    other_sender = sender_id + "-other"
    first, second = handoffs.open(sender_id), handoffs.open(other_sender)

    assert desk.reply(first, "Hello from the first conversation", message_id="1").status_code == 200
    assert desk.reply(second, "Hello from the second conversation", message_id="1").status_code == 200

    assert texts(rasa.wait_acked(sender_id, 1)) == ["Hello from the first conversation"]
    assert texts(rasa.wait_acked(other_sender, 1)) == ["Hello from the second conversation"]


# -- what a production deployment watches ------------------------------------------------------


def metric(sidecar, name: str, **labels: str) -> float:
    """One sample of the sidecar's /metrics (0 when the series is not there yet)."""
    page = httpx.get(base_url(sidecar) + "/metrics", timeout=10)
    assert page.status_code == 200
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in page.text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        if "{" in series:
            series_name, rest = series.split("{", 1)
            series_labels = ",".join(sorted(rest.rstrip("}").split(",")))
        else:
            series_name, series_labels = series, ""
        if series_name == name and series_labels == wanted:
            return float(value)
    return 0.0


def test_metrics_count_messages_deliveries_and_queue_depth(sidecar, rasa, desk, handoffs, sender_id):
    before = metric(sidecar, "rasa_handoff_messages_total", desk="webhook", direction="agent_to_user")
    delivered_before = metric(sidecar, "rasa_handoff_delivery_seconds_count", direction="to_rasa")
    conversation_id = handoffs.open(sender_id)

    assert desk.reply(conversation_id, "Hi, I'm Sam.").status_code == 200
    rasa.wait_acked(sender_id, 1)

    deadline = time.monotonic() + 10
    while metric(sidecar, "rasa_handoff_messages_total", desk="webhook", direction="agent_to_user") < before + 1:
        assert time.monotonic() < deadline, "the agent's message was never counted"
        time.sleep(0.05)
    assert metric(sidecar, "rasa_handoff_delivery_seconds_count", direction="to_rasa") >= delivered_before + 1
    page = httpx.get(base_url(sidecar) + "/metrics", timeout=10).text
    assert "rasa_handoff_queue_depth" in page or "rasa_handoff_parked_items" in page
    assert 'rasa_handoff_desk_status{desk="webhook",status="available"} 1.0' in page
    # No conversation id ever becomes a label.
    assert conversation_id not in page and sender_id not in page


def test_ready_only_while_the_store_and_rasa_answer(sidecar, tmp_path: Path, sidecar_tools):
    ready = httpx.get(base_url(sidecar) + "/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["ready"] is True

    # The same deployment with a Rasa that is not there: alive, but not ready.
    tools = sidecar_tools
    dead_rasa = f"http://127.0.0.1:{free_port()}"
    config = tools["write_config"](tmp_path / "handoff.yml", dead_rasa, "http://127.0.0.1:9", tmp_path / "s.sqlite")
    lonely = tools["start_sidecar"](config, tmp_path / "logs")
    try:
        assert httpx.get(lonely.health_url, timeout=10).status_code == 200
        answer = httpx.get(base_url(lonely) + "/ready", timeout=10)
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["store"]["ok"] is True
        assert checks["rasa"]["ok"] is False
    finally:
        lonely.stop()


def test_a_graceful_stop_lets_a_push_in_flight_finish_instead_of_cutting_it(
    tmp_path: Path, sidecar_tools, sender_id
):
    """Cutting a push short makes Rasa drop its tracker save after sending the
    message, so the retry would show it twice: SIGTERM waits for it instead."""
    tools = sidecar_tools
    desk = ReferenceDesk(api_key=tools["desk_key"], basic_auth=tools["desk_auth"])
    rasa = tools["FakeRasa"](tools["secrets"]["rasa token"])
    with desk:
        rasa.start()
        config = tools["write_config"](tmp_path / "handoff.yml", rasa.url, desk.url, tmp_path / "handoff.sqlite")
        conversation_id = tools["Handoffs"](config).open(sender_id)
        sidecar = tools["start_sidecar"](config, tmp_path / "logs")
        try:
            desk.sidecar_url = base_url(sidecar)
            rasa.delay = 2.0
            assert desk.reply(conversation_id, "Hi, I'm Sam.").status_code == 200
            rasa.wait_for(lambda: rasa.arrived >= 1)
            sidecar.stop()  # SIGTERM while Rasa is still answering
            assert sidecar.process.returncode is not None
            rasa.delay = 0.0
            # The push finished and was acknowledged: a new sidecar has nothing to redo.
            assert [call.text for call in rasa.acked(sender_id)] == ["Hi, I'm Sam."]
            restarted = tools["start_sidecar"](config, tmp_path / "logs")
            try:
                time.sleep(1.5)
                assert rasa.arrived == 1, "the message was pushed again after the restart"
            finally:
                restarted.stop()
        finally:
            sidecar.stop()
            rasa.stop()
