"""The Intercom connector's sidecar (messenger mode) under hostile input, a thousand cases per route.

Genuine calls carry the right X-Hub-Signature over the fuzzed body, so the
notification parser behind the check meets every body. They start from
real-shaped notifications (handoff_connectors/intercom/fixtures) about
conversations the connector knows, so the parts, teammates, contacts and
source of a notification are all read; forged calls are about a live
handoff of their own, which must never hear of them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from handoff_connectors.core.store import SqliteStore
from handoff_connectors import intercom
from handoff_connectors.intercom import WEBHOOK_PATH
from handoff_connectors.intercom.connector import CONVERSATION_KEY, sender_for

from . import noise
from .conftest import INTERCOM_SECRET
from .credentials import Trust, signature, signature_headers, trusts
from .deployment import Sidecar, open_handoff
from .noise import Noise
from .strategies import CHUNKED, Payload, fuzzed_body, header_lists, noises, stray_calls, with_query
from .sweep import swept_bodies
from .wire import EXAMPLES, FORGED_GRACE, Call, Headers, Run, Target, check, fuzz, print_runs, sweep

FIXTURES = Path(intercom.__file__).resolve().parent / "fixtures"
# Every well-formed notification among the fixtures: replies, notes, closes, assignments, user messages.
TEMPLATES = tuple(
    json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(FIXTURES.glob("*.json"))
    if not path.name.startswith("malformed")
)
GENUINE_SENDER = "web-fuzz-intercom"
FORGED_SENDER = "web-fuzz-intercom-forged"
EXAMPLE_SENDER = "web-fuzz-intercom-examples"
# Conversations the connector believes it handed off (a record and no handoff): the parser runs in full.
KNOWN = {"51200000000417": False, "51200000000512": True, "fuzz-known-1": False}
runs: dict[str, Run] = {}


@pytest.fixture(scope="module")
def live(intercom_sidecar: Sidecar) -> dict[str, str]:
    """Sender id -> Intercom conversation id of each live handoff the module uses."""
    senders = (GENUINE_SENDER, FORGED_SENDER, EXAMPLE_SENDER)
    return {sender: open_handoff(intercom_sidecar, sender) for sender in senders}


@pytest.fixture(scope="module", autouse=True)
def report_runs() -> Iterator[None]:
    yield
    print_runs("intercom sidecar", runs)


class Records:
    """Keeps the connector's record of some conversations in the store, as a handoff would have left it.

    Why: without the record the notification parser stops short, and a
    handoff that ends on our side (a timeout) forgets it; opening a real
    handoff through the fake Intercom before every case would cost ~100 ms.
    """

    def __init__(self, store_path: str, conversations: dict[str, dict[str, Any]]) -> None:
        self._loop = asyncio.new_event_loop()
        self._store = SqliteStore(store_path)
        self._records = {CONVERSATION_KEY + cid: record for cid, record in conversations.items()}

    async def _ensure(self) -> None:
        for key, record in self._records.items():
            if await self._store.get(key) is None:
                await self._store.put(key, record)

    def ensure(self) -> None:
        self._loop.run_until_complete(self._ensure())

    def close(self) -> None:
        self._loop.run_until_complete(self._store.close())
        self._loop.close()


@pytest.fixture(scope="module")
def records(intercom_sidecar: Sidecar, live: dict[str, str]) -> Iterator[Records]:
    known = {cid: {"handoff_id": f"fuzz-{cid}", "contact_id": None, "messenger": m} for cid, m in KNOWN.items()}
    known[live[GENUINE_SENDER]] = {"handoff_id": "fuzz-genuine", "contact_id": None, "messenger": False}
    store_path = str(intercom_sidecar.config_path.parent / "handoff.sqlite")
    kept = Records(store_path, known)
    try:
        yield kept
    finally:
        kept.close()


# -- what is sent ---------------------------------------------------------------------------------


@functools.cache
def notification(conversation_ids: tuple[str, ...], random_ids: bool) -> Payload:
    """A real-shaped notification about one of these conversations (or a random one)."""

    def make(rng: Noise) -> dict[str, Any]:
        payload = json.loads(json.dumps(rng.choice(TEMPLATES)))
        item = payload["data"]["item"]
        if isinstance(item, dict) and item.get("type") == "conversation":
            use_random = random_ids and rng.random() < 0.2
            item["id"] = noise.text(rng, 16) if use_random else rng.choice(conversation_ids)
        if payload.get("topic") != "ping":
            payload["id"] = f"notif_{rng.getrandbits(64):016x}"
        return payload

    return make


@st.composite
def webhook_posts(draw: DrawFn, genuine_ids: tuple[str, ...], forged_id: str) -> Call:
    """A notification, signed over its (fuzzed) body when genuine; forged ones are about `forged_id`."""
    trust = draw(trusts())
    rng = draw(noises())
    if trust is Trust.FORGED:
        sent = fuzzed_body(draw, rng, notification((forged_id,), False))
    else:
        sent = fuzzed_body(draw, rng, notification(genuine_ids, True))
    headers = header_lists(draw, rng, signature_headers(draw, rng, INTERCOM_SECRET, sent, trust))
    target = with_query(WEBHOOK_PATH, noise.query(rng))
    return Call("POST", target, headers, sent, forged=trust is Trust.FORGED, chunked=draw(CHUNKED))


_SMALL_BODIES = st.sampled_from([b"", b"", b"{}", b"\xff\xfe", b'{"topic": "ping"}'])


@st.composite
def head_checks(draw: DrawFn) -> Call:
    """Intercom's check of a saved endpoint, and anything else a HEAD may carry."""
    trust = draw(trusts())
    rng = draw(noises())
    sent = draw(_SMALL_BODIES)
    headers = header_lists(draw, rng, signature_headers(draw, rng, INTERCOM_SECRET, sent, trust))
    return Call("HEAD", with_query(WEBHOOK_PATH, noise.query(rng)), headers, sent)


@st.composite
def plain_gets(draw: DrawFn, path: str) -> Call:
    """A GET with random headers (a signature among them, or not) and query."""
    rng = draw(noises())
    headers = header_lists(draw, rng, signature_headers(draw, rng, INTERCOM_SECRET, b"", draw(trusts())))
    return Call("GET", with_query(path, noise.query(rng)), headers)


def assert_forged_reached_nobody(target: Target, forged_conversation: str) -> None:
    """Neither as a desk event (trigger_intent) nor as a user message for the bot (REST channel)."""
    time.sleep(FORGED_GRACE)
    assert FORGED_SENDER not in target.rasa.triggered_senders()
    assert sender_for(forged_conversation) not in target.rasa.channel_senders()


# -- the fuzz runs ------------------------------------------------------------------------------------


def test_no_notification_gets_a_5xx(intercom_target: Target, live: dict[str, str], records: Records) -> None:
    genuine_ids = (*KNOWN, live[GENUINE_SENDER])
    calls = webhook_posts(genuine_ids, live[FORGED_SENDER])
    run = runs[f"POST {WEBHOOK_PATH}"] = fuzz(intercom_target, calls, before=lambda call: records.ensure())
    assert run.cases >= EXAMPLES and run.got_past_the_check()
    assert_forged_reached_nobody(intercom_target, live[FORGED_SENDER])


def test_no_head_check_gets_a_5xx(intercom_target: Target) -> None:
    run = runs[f"HEAD {WEBHOOK_PATH}"] = fuzz(intercom_target, head_checks())
    assert run.cases >= EXAMPLES and run.statuses.keys() <= {200, 413}


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_no_probe_gets_a_5xx(intercom_target: Target, path: str) -> None:
    run = runs[path] = fuzz(intercom_target, plain_gets(path))
    assert run.cases >= EXAMPLES and run.statuses.keys() <= {200, 413}


def test_no_stray_call_gets_a_5xx(intercom_target: Target) -> None:
    known = (WEBHOOK_PATH, WEBHOOK_PATH + "/", "/health", "/ready", "/metrics", "/v1/human/close")
    run = runs["any method, any path"] = fuzz(intercom_target, stray_calls(known))
    assert run.cases >= EXAMPLES


def test_every_field_of_a_notification_with_every_wrong_value_gets_no_5xx(
    intercom_target: Target, records: Records
) -> None:
    valid = [about(json.loads(json.dumps(t)), "51200000000417") for t in TEMPLATES if t.get("topic") != "ping"]
    run = runs[f"POST {WEBHOOK_PATH} (every field)"] = sweep(
        intercom_target, "POST", WEBHOOK_PATH, swept_bodies(valid), genuine_headers, before=records.ensure
    )
    assert 400 in run.statuses


def genuine_headers(body: bytes) -> Headers:
    return ((b"X-Hub-Signature", signature(INTERCOM_SECRET, body)), (b"Content-Type", b"application/json"))


# -- the inputs that gave 500 before, one behaviour each ---------------------------------------------


def template(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def post(target: Target, body: bytes, signed: bytes | None = None) -> int:
    headers = ((b"X-Hub-Signature", signed or signature(INTERCOM_SECRET, body)), (b"Content-Type", b"application/json"))
    return check(target, Call("POST", WEBHOOK_PATH, headers, body))


def about(payload: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    payload["data"]["item"]["id"] = conversation_id
    payload["id"] = f"notif_{time.monotonic_ns()}"
    return payload


def test_a_non_utf8_byte_in_the_signature_is_refused_with_401(intercom_target: Target, live: dict[str, str]) -> None:
    body = json.dumps(about(template("admin_replied.json"), live[FORGED_SENDER])).encode()
    right = signature(INTERCOM_SECRET, body)

    for bad in (b"\xff", b"\xed\xa0\xbd", b"\xc3"):
        assert post(intercom_target, body, right[:-1] + bad) == 401
    assert_forged_reached_nobody(intercom_target, live[FORGED_SENDER])


def test_a_notification_nested_a_thousand_levels_or_more_is_a_400(intercom_target: Target) -> None:
    for depth in (1000, 1001, 5000):
        nested = '{"type": "notification_event", "id": "n", "topic": "x", "data": ' + "[" * depth + "]" * depth + "}"
        assert post(intercom_target, nested.encode()) == 400


def test_a_lone_surrogate_in_the_notification_id_reaches_rasa_repaired(
    intercom_target: Target, live: dict[str, str]
) -> None:
    payload = about(template("admin_replied.json"), live[EXAMPLE_SENDER])
    payload["id"] = "notif_half_\ud83d"

    assert post(intercom_target, json.dumps(payload).encode()) == 200
    intercom_target.rasa.wait_for(EXAMPLE_SENDER, "handoff_event_id", "intercom:notif_half_\ufffd")


def test_a_lone_surrogate_in_the_conversation_id_is_no_handoff_of_ours(intercom_target: Target) -> None:
    payload = about(template("admin_replied.json"), "5120000\ud83d")

    assert post(intercom_target, json.dumps(payload).encode()) == 200


def test_conversation_parts_that_are_a_number_are_a_400_naming_the_field(
    intercom_target: Target, records: Records
) -> None:
    records.ensure()
    payload = about(template("admin_replied.json"), "51200000000417")
    payload["data"]["item"]["conversation_parts"]["conversation_parts"] = 7
    body = json.dumps(payload).encode()

    assert post(intercom_target, body) == 400
    assert "conversation_parts" in _answer(intercom_target, body)["message"]


def test_teammates_that_are_a_string_are_a_400_naming_the_field(intercom_target: Target, records: Records) -> None:
    records.ensure()
    # Marta hands it to Jonas: his name is looked up among the teammates.
    payload = about(template("admin_assigned_transfer.json"), "51200000000417")
    payload["data"]["item"]["teammates"] = "Marta"
    body = json.dumps(payload).encode()

    assert post(intercom_target, body) == 400
    assert "teammates" in _answer(intercom_target, body)["message"]


def _answer(target: Target, body: bytes) -> dict[str, Any]:
    headers = {"X-Hub-Signature": signature(INTERCOM_SECRET, body).decode(), "Content-Type": "application/json"}
    return target.client.post(target.sidecar.url + WEBHOOK_PATH, content=body, headers=headers).json()
