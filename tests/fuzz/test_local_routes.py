"""The local agent inbox and the demo chat under hostile input, a thousand cases per route.

The inbox takes its token as a bearer header or `?token=`; genuine calls act
on live handoffs (one already joined by the agent the payloads name, so
replies go through to Rasa), forged calls on a handoff of their own, which
must stay untouched and never reach Rasa. The demo chat has no credentials:
its calls carry random headers and go on to the fake Rasa.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Iterator, Optional

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from . import noise
from .conftest import INBOX_TOKEN
from .credentials import Trust, bearer_headers, inbox_credentials, trusts
from .deployment import Sidecar, open_handoff
from .noise import Noise
from .strategies import CHUNKED, Payload, fuzzed_body, header_lists, noises, stray_calls, with_query
from .sweep import swept_bodies
from .wire import EXAMPLES, FORGED_GRACE, Call, Headers, Run, Target, check, fuzz, print_runs, sweep

AGENT = "Fuzz Agent"
JOINED_SENDER = "fuzz-local-joined"
WAITING_SENDER = "fuzz-local-waiting"
FORGED_SENDER = "fuzz-local-forged"
EXAMPLE_SENDER = "fuzz-local-examples"
runs: dict[str, Run] = {}


@pytest.fixture(scope="module")
def live(local_sidecar: Sidecar) -> dict[str, str]:
    """Sender id -> inbox conversation id; the first is joined by AGENT, so replies to it go through."""
    conversations = {
        sender: open_handoff(local_sidecar, sender)
        for sender in (JOINED_SENDER, WAITING_SENDER, FORGED_SENDER, EXAMPLE_SENDER)
    }
    for sender in (JOINED_SENDER, EXAMPLE_SENDER):
        joined = httpx.post(
            f"{local_sidecar.url}/inbox/api/conversations/{conversations[sender]}/join",
            json={"agent": AGENT},
            headers={"Authorization": f"Bearer {INBOX_TOKEN}"},
        )
        assert joined.status_code == 200, joined.text
    return conversations


@pytest.fixture(scope="module", autouse=True)
def report_runs() -> Iterator[None]:
    yield
    print_runs("local sidecar (inbox, demo chat)", runs)


# -- what is sent -----------------------------------------------------------------------------


@functools.cache
def inbox_payload(kind: str) -> Payload:
    """What the inbox page sends for each action."""

    def make(rng: Noise) -> dict[str, Any]:
        if kind == "presence":
            return {"agent": rng.choice([AGENT, "Ana", "Bo"]), "available": rng.random() < 0.5}
        if kind == "reply":
            return {"agent": AGENT, "text": rng.choice(["Hi!", "One moment", "¿Sí?"]), "id": f"r-{rng.randint(0, 9)}"}
        return {"agent": rng.choice([AGENT, AGENT, "Ana"])}

    return make


def inbox_target(path: str, token: Optional[str], rng: Noise) -> str:
    """`path` with a noisy query, and `token=` somewhere in it when given."""
    parts = [noise.query(rng)] + ([] if token is None else [f"token={token}"])
    rng.shuffle(parts)
    return with_query(path, "&".join(part for part in parts if part))


@st.composite
def inbox_calls(
    draw: DrawFn, live: tuple[tuple[str, str], ...], method: str, path: str, kind: Optional[str], stream: bool
) -> Call:
    """A call to a guarded inbox route; `{id}` in `path` is a conversation (forged calls: the forged one)."""
    trust = draw(trusts())
    headers, token = inbox_credentials(draw, INBOX_TOKEN, trust)
    rng = draw(noises())
    sent = fuzzed_body(draw, rng, inbox_payload(kind)) if kind else b""
    ids = dict(live)
    conversation = ids[FORGED_SENDER] if trust is Trust.FORGED else _genuine_conversation(rng, ids)
    target = inbox_target(path.replace("{id}", conversation), token, rng)
    forged = trust is Trust.FORGED
    headers = header_lists(draw, rng, headers)
    return Call(method, target, headers, sent, forged=forged, stream=stream, chunked=draw(CHUNKED))


def _genuine_conversation(rng: Noise, ids: dict[str, str]) -> str:
    """A live conversation (one joined, one waiting), or now and then any path segment at all."""
    if rng.random() < 0.3:
        return noise.url_segment(rng)
    return rng.choice([ids[JOINED_SENDER], ids[WAITING_SENDER]])


@functools.cache
def chat_payload(kind: str) -> Payload:
    """What the chat page sends (`send`), and what Rasa's callback channel posts (`bot`)."""

    def make(rng: Noise) -> dict[str, Any]:
        sender = f"fuzz-chat-{rng.randint(0, 3)}"
        if kind == "send":
            return {"sender": sender, "text": rng.choice(["hello", "I want a human", "end chat"])}
        buttons = [{"title": "Yes", "payload": "/affirm"}]
        return {"recipient_id": sender, "text": "Hi! How can I help?", "buttons": buttons}

    return make


@st.composite
def open_calls(draw: DrawFn, method: str, path: str, kind: Optional[str] = None, stream: bool = False) -> Call:
    """A call to a route without credentials (demo chat, static files, probes), with random headers."""
    rng = draw(noises())
    headers = header_lists(draw, rng, bearer_headers(draw, INBOX_TOKEN, draw(trusts())))
    sent = fuzzed_body(draw, rng, chat_payload(kind)) if kind else b""
    target = with_query(path.replace("{name}", _asset_name(rng)), noise.query(rng))
    return Call(method, target, headers, sent, stream=stream, chunked=bool(sent) and draw(CHUNKED))


def _asset_name(rng: Noise) -> str:
    """A static file that exists, or any path segment at all."""
    if rng.random() < 0.3:
        return rng.choice(["inbox.js", "inbox.css", "chat.js", "chat.css"])
    return noise.url_segment(rng)


def forged_conversation(target: Target, conversation_id: str) -> dict[str, Any]:
    """The forged calls' conversation as the inbox shows it."""
    listing = target.client.get(
        target.sidecar.url + "/inbox/api/conversations", headers={"Authorization": f"Bearer {INBOX_TOKEN}"}
    ).json()
    return next(c for c in listing["conversations"] if c["id"] == conversation_id)


def assert_forged_changed_nothing(target: Target, live: dict[str, str]) -> None:
    """No desk event reached Rasa, and the conversation is as it was: waiting, no agent, no message."""
    time.sleep(FORGED_GRACE)
    assert FORGED_SENDER not in target.rasa.triggered_senders()
    untouched = forged_conversation(target, live[FORGED_SENDER])
    assert (untouched["status"], untouched["agent"], untouched["messages"]) == ("waiting", None, [])


# -- the fuzz runs ------------------------------------------------------------------------------------

INBOX_ROUTES = [
    ("GET", "/inbox", None, False),
    ("GET", "/inbox/api/conversations", None, False),
    ("GET", "/inbox/api/events", None, True),
    ("POST", "/inbox/api/presence", "presence", False),
    ("POST", "/inbox/api/conversations/{id}/join", "join", False),
    ("POST", "/inbox/api/conversations/{id}/reply", "reply", False),
    ("POST", "/inbox/api/conversations/{id}/close", "close", False),
]
OPEN_ROUTES = [
    ("GET", "/inbox/static/{name}", None, False),
    ("GET", "/chat", None, False),
    ("GET", "/chat/static/{name}", None, False),
    ("POST", "/chat/api/send", "send", False),
    ("GET", "/chat/api/events", None, True),
    ("POST", "/demo/bot", "bot", False),
    ("GET", "/health", None, False),
    ("GET", "/ready", None, False),
    ("GET", "/metrics", None, False),
]


@pytest.mark.parametrize("method, path, kind, stream", INBOX_ROUTES, ids=[r[1] for r in INBOX_ROUTES])
def test_no_inbox_call_gets_a_5xx(
    local_target: Target, live: dict[str, str], method: str, path: str, kind: Optional[str], stream: bool
) -> None:
    calls = inbox_calls(tuple(live.items()), method, path, kind, stream)
    run = runs[f"{method} {path}"] = fuzz(local_target, calls)
    assert run.cases >= EXAMPLES and run.got_past_the_check()
    assert_forged_changed_nothing(local_target, live)


@pytest.mark.parametrize("method, path, kind, stream", OPEN_ROUTES, ids=[r[1] for r in OPEN_ROUTES])
def test_no_chat_static_or_probe_call_gets_a_5xx(
    local_target: Target, method: str, path: str, kind: Optional[str], stream: bool
) -> None:
    run = runs[f"{method} {path}"] = fuzz(local_target, open_calls(method, path, kind, stream))
    assert run.cases >= EXAMPLES


def test_no_stray_call_gets_a_5xx(local_target: Target, live: dict[str, str]) -> None:
    conversation = f"/inbox/api/conversations/{live[WAITING_SENDER]}"
    known = tuple(path for _, path, _, _ in INBOX_ROUTES + OPEN_ROUTES if "{" not in path) + (
        f"{conversation}/join", f"{conversation}/reply", f"{conversation}/close", conversation, "/inbox/static/",
    )
    run = runs["any method, any path"] = fuzz(local_target, stray_calls(known))
    assert run.cases >= EXAMPLES


@pytest.mark.parametrize("kind", ["presence", "join", "reply", "close"])
def test_every_field_of_an_inbox_action_with_every_wrong_value_gets_no_5xx(
    local_target: Target, live: dict[str, str], kind: str
) -> None:
    path = "/inbox/api/presence" if kind == "presence" else f"/inbox/api/conversations/{live[JOINED_SENDER]}/{kind}"
    valid = [inbox_payload(kind)(Noise(0))]
    run = runs[f"POST {path} (every field)"] = sweep(local_target, "POST", path, swept_bodies(valid), bearer)
    assert 400 in run.statuses


@pytest.mark.parametrize("kind", ["send", "bot"])
def test_every_field_of_a_chat_message_with_every_wrong_value_gets_no_5xx(local_target: Target, kind: str) -> None:
    path = "/chat/api/send" if kind == "send" else "/demo/bot"
    valid = [chat_payload(kind)(Noise(0))]
    runs[f"POST {path} (every field)"] = sweep(local_target, "POST", path, swept_bodies(valid), json_headers)


def bearer(body: bytes) -> Headers:
    return ((b"Authorization", b"Bearer " + INBOX_TOKEN.encode()), (b"Content-Type", b"application/json"))


def json_headers(body: bytes) -> Headers:
    return ((b"Content-Type", b"application/json"),)


# -- the inputs that gave 500 before, one behaviour each ---------------------------------------------


def test_a_non_utf8_byte_in_the_inbox_token_header_is_refused_with_401(
    local_target: Target, live: dict[str, str]
) -> None:
    for bad in (b"\xff", b"\xed\xa0\xbd", b"\xc3"):
        headers = ((b"Authorization", b"Bearer " + INBOX_TOKEN.encode()[:-1] + bad),)
        path = f"/inbox/api/conversations/{live[FORGED_SENDER]}/close"
        assert check(local_target, Call("POST", path, headers, json.dumps({"agent": AGENT}).encode())) == 401
        assert check(local_target, Call("GET", "/inbox", headers)) == 401
    assert_forged_changed_nothing(local_target, live)


@pytest.mark.parametrize("depth", [1000, 5000])
def test_an_inbox_action_nested_a_thousand_levels_or_more_is_a_400(
    local_target: Target, live: dict[str, str], depth: int
) -> None:
    body = ('{"agent": ' + "[" * depth + "]" * depth + "}").encode()
    path = f"/inbox/api/conversations/{live[EXAMPLE_SENDER]}/reply"

    assert check(local_target, Call("POST", path, bearer(body), body)) == 400


def test_a_lone_surrogate_in_a_reply_reaches_rasa_repaired(local_target: Target, live: dict[str, str]) -> None:
    body = b'{"agent": "Fuzz Agent", "text": "half \\ud83d an emoji", "id": "surrogate-\\ud83d"}'
    path = f"/inbox/api/conversations/{live[EXAMPLE_SENDER]}/reply"

    assert check(local_target, Call("POST", path, bearer(body), body)) == 200
    local_target.rasa.wait_for(EXAMPLE_SENDER, "handoff_text", "half \ufffd an emoji")


def test_a_lone_surrogate_in_the_conversation_id_is_a_404(local_target: Target) -> None:
    body = json.dumps({"agent": AGENT}).encode()

    assert check(local_target, Call("POST", "/inbox/api/conversations/x%ED%A0%BD/join", bearer(body), body)) == 404


@pytest.mark.parametrize("field", ["sender", "text"])
def test_a_lone_surrogate_in_a_chat_message_goes_on_to_rasa(local_target: Target, field: str) -> None:
    message = {"sender": "fuzz-chat-surrogate", "text": "hello"}
    message[field] = message[field] + "\ud83d"
    body = json.dumps(message).encode()

    assert check(local_target, Call("POST", "/chat/api/send", json_headers(body), body)) == 200
