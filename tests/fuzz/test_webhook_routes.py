"""The generic webhook connector's sidecar under hostile input: every route, a thousand cases each.

Genuine calls aim at live handoffs (so bodies that pass the parser go on into
the store and to Rasa); forged calls aim at a handoff of their own, which
must never hear of them.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Iterator

import pytest
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from handoff_connectors.webhook.connector import CLOSE_PATH, RECEIVE_PATH

from . import noise
from .conftest import DESK_KEY
from .credentials import Trust, bearer_headers, trusts
from .deployment import Sidecar, open_handoff
from .noise import Noise
from .strategies import CHUNKED, Payload, fuzzed_body, header_lists, noises, stray_calls, with_query
from .sweep import swept_bodies
from .wire import EXAMPLES, FORGED_GRACE, Call, Headers, Run, Target, check, fuzz, print_runs, sweep

GENUINE_SENDERS = ("fuzz-webhook-a", "fuzz-webhook-b", "fuzz-webhook-c")
FORGED_SENDER = "fuzz-webhook-forged"
# Its own handoff, so a fuzzed close of the others cannot change what the examples see.
EXAMPLE_SENDER = "fuzz-webhook-examples"
runs: dict[str, Run] = {}


@pytest.fixture(scope="module")
def live(webhook_sidecar: Sidecar) -> dict[str, str]:
    """Sender id -> desk conversation id of each live handoff the module uses."""
    senders = (*GENUINE_SENDERS, FORGED_SENDER, EXAMPLE_SENDER)
    return {sender: open_handoff(webhook_sidecar, sender) for sender in senders}


@pytest.fixture(scope="module", autouse=True)
def report_runs() -> Iterator[None]:
    yield
    print_runs("webhook sidecar", runs)


@functools.cache
def payload(path: str, conversation_ids: tuple[str, ...], random_ids: bool) -> Payload:
    """Valid bodies of `path` as a desk following the protocol sends them, for these conversations."""

    def make(rng: Noise) -> dict[str, Any]:
        if random_ids and rng.random() < 0.3:
            conversation_id = noise.text(rng, 20)
        else:
            conversation_id = rng.choice(conversation_ids)
        body: dict[str, Any] = {"conversation_id": conversation_id, "timestamp": rng.randint(0, 2**42)}
        if path == RECEIVE_PATH:
            body["body"] = rng.choice(["Hello!", "Your order shipped.", "¿Algo más?", "\U0001f44d"])
            if rng.random() < 0.5:
                body["message_id"] = f"m-{rng.randint(0, 10**9)}"
        return body

    return make


@st.composite
def webhook_calls(draw: DrawFn, path: str, live: tuple[tuple[str, str], ...]) -> Call:
    """A call to `path`: genuine ones aim at the genuine handoffs, forged ones at the forged one."""
    ids = dict(live)
    trust = draw(trusts())
    rng = draw(noises())
    if trust is Trust.FORGED:
        sent = fuzzed_body(draw, rng, payload(path, (ids[FORGED_SENDER],), False))
    else:
        sent = fuzzed_body(draw, rng, payload(path, tuple(ids[s] for s in GENUINE_SENDERS), True))
    headers = header_lists(draw, rng, bearer_headers(draw, DESK_KEY, trust))
    target = with_query(path, noise.query(rng))
    return Call("POST", target, headers, sent, forged=trust is Trust.FORGED, chunked=draw(CHUNKED))


@st.composite
def plain_gets(draw: DrawFn, path: str) -> Call:
    """A GET with random headers and query: what a probe, a scraper or a scanner sends."""
    rng = draw(noises())
    headers = header_lists(draw, rng, bearer_headers(draw, DESK_KEY, draw(trusts())))
    return Call("GET", with_query(path, noise.query(rng)), headers)


def assert_forged_reached_nobody(target: Target) -> None:
    """The pump polls every 0.1 s: give it time to deliver anything that slipped through."""
    time.sleep(FORGED_GRACE)
    assert FORGED_SENDER not in target.rasa.triggered_senders()


# -- the fuzz runs ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RECEIVE_PATH, CLOSE_PATH])
def test_no_webhook_call_gets_a_5xx(webhook_target: Target, live: dict[str, str], path: str) -> None:
    run = runs[path] = fuzz(webhook_target, webhook_calls(path, tuple(live.items())))
    assert run.cases >= EXAMPLES and run.got_past_the_check()
    assert_forged_reached_nobody(webhook_target)


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_no_probe_gets_a_5xx(webhook_target: Target, path: str) -> None:
    run = runs[path] = fuzz(webhook_target, plain_gets(path))
    assert run.cases >= EXAMPLES and run.statuses.keys() <= {200, 413}


def test_no_stray_call_gets_a_5xx(webhook_target: Target) -> None:
    known = (RECEIVE_PATH, CLOSE_PATH, "/health", "/ready", "/metrics", "/inbox", "/chat")
    run = runs["any method, any path"] = fuzz(webhook_target, stray_calls(known))
    assert run.cases >= EXAMPLES


@pytest.mark.parametrize("path", [RECEIVE_PATH, CLOSE_PATH])
def test_every_field_of_a_webhook_with_every_wrong_value_gets_no_5xx(
    webhook_target: Target, live: dict[str, str], path: str
) -> None:
    valid = [{"conversation_id": live[GENUINE_SENDERS[0]], "timestamp": 1, "body": "hi", "message_id": "m-1"}]
    run = runs[f"{path} (every field)"] = sweep(webhook_target, "POST", path, swept_bodies(valid), genuine_headers)
    assert 400 in run.statuses


def genuine_headers(body: bytes) -> Headers:
    return ((b"Authorization", b"Bearer " + DESK_KEY.encode()), (b"Content-Type", b"application/json"))


# -- the inputs that gave 500 before, one behaviour each ---------------------------------------


def post(target: Target, path: str, body: bytes, authorization: bytes) -> int:
    headers = ((b"Authorization", authorization), (b"Content-Type", b"application/json"))
    return check(target, Call("POST", path, headers, body))


def test_a_non_utf8_byte_in_the_bearer_key_is_refused_with_401(webhook_target: Target, live: dict[str, str]) -> None:
    body = json.dumps({"conversation_id": live[FORGED_SENDER], "timestamp": 1, "body": "hi"}).encode()

    for bad in (b"\xff", b"\xed\xa0\xbd", b"\xc3"):
        assert post(webhook_target, RECEIVE_PATH, body, b"Bearer " + DESK_KEY.encode()[:-1] + bad) == 401
    assert_forged_reached_nobody(webhook_target)


@pytest.mark.parametrize("depth", [1000, 1001, 5000])
def test_json_nested_a_thousand_levels_or_more_is_a_400(webhook_target: Target, depth: int) -> None:
    body = ("[" * depth + "]" * depth).encode()
    inside = ('{"conversation_id": "x", "timestamp": 1, "body": ' + "[" * depth + "]" * depth + "}").encode()

    assert post(webhook_target, RECEIVE_PATH, body, b"Bearer " + DESK_KEY.encode()) == 400
    assert post(webhook_target, RECEIVE_PATH, inside, b"Bearer " + DESK_KEY.encode()) == 400


def test_a_lone_surrogate_in_the_conversation_id_is_answered_404_not_500(webhook_target: Target) -> None:
    body = b'{"conversation_id": "conv-\\ud83d", "timestamp": 1, "body": "hi"}'

    assert post(webhook_target, RECEIVE_PATH, body, b"Bearer " + DESK_KEY.encode()) == 404
    assert post(webhook_target, CLOSE_PATH, body, b"Bearer " + DESK_KEY.encode()) == 404


def test_a_lone_surrogate_in_the_message_id_reaches_rasa_repaired(
    webhook_target: Target, live: dict[str, str]
) -> None:
    conversation = live[EXAMPLE_SENDER]
    body = json.dumps({"conversation_id": conversation, "timestamp": 2, "body": "m-id", "message_id": "m-\ud83d"})

    assert post(webhook_target, RECEIVE_PATH, body.encode(), b"Bearer " + DESK_KEY.encode()) == 200
    pushed = webhook_target.rasa.wait_for(EXAMPLE_SENDER, "handoff_text", "m-id")
    assert pushed["handoff_event_id"].endswith(":m-\ufffd")


def test_a_lone_surrogate_in_the_body_reaches_rasa_as_a_replacement_character(
    webhook_target: Target, live: dict[str, str]
) -> None:
    conversation = live[EXAMPLE_SENDER]
    body = b'{"conversation_id": "%s", "timestamp": 3, "body": "half \\ud83d an emoji"}' % conversation.encode()

    assert post(webhook_target, RECEIVE_PATH, body, b"Bearer " + DESK_KEY.encode()) == 200
    webhook_target.rasa.wait_for(EXAMPLE_SENDER, "handoff_text", "half \ufffd an emoji")
