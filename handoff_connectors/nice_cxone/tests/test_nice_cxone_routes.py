"""CXone calling the sidecar: the token endpoint, and the bearer-guarded reply and event routes.

Over real HTTP to the sidecar's own routes (the kit's `served_sidecar`), a
real store and a real HandoffService: what the kit's contract suite checks
for webhooks, written for routes the connector serves itself, plus what a
token endpoint of our own must get right (any replica accepts a token, a
new secret retires the old tokens, an expired bearer is refreshed by CXone
without losing or repeating a message).
"""

from __future__ import annotations

import asyncio
import base64
from typing import AsyncIterator

import httpx
import pytest

from handoff_connectors.core.handoffs import TO_RASA
from handoff_connectors.core.rasa_protocol import ENTITY_TEXT
from handoff_connectors.nice_cxone import NiceCXoneConnector, wire
from handoff_connectors.testing import desk_call, send_call, served_sidecar, unknown_conversation_id, with_wrong_headers, without_headers

from .conftest import BYOC_CLIENT_ID, BYOC_CLIENT_SECRET, SAM, settings, with_tokens
from .fake_cxone import FakeCXone


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def sidecar(fake: FakeCXone, store, clock):
    connector = with_tokens(NiceCXoneConnector(settings(fake.url), store, clock=clock), store)
    try:
        async with served_sidecar(connector, store) as served:
            fake.sidecar_url = served.url
            yield served
    finally:
        await connector.aclose()


async def token_from(http: httpx.AsyncClient, url: str, **request) -> httpx.Response:
    return await http.post(url + wire.TOKEN_PATH, **request)


def credentials(client_id: str = BYOC_CLIENT_ID, client_secret: str = BYOC_CLIENT_SECRET) -> dict:
    return {"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"}


async def bearer(http: httpx.AsyncClient, url: str) -> str:
    answer = await token_from(http, url, json=credentials())
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def reply_call(fake: FakeCXone, thread: str, text: str, token: str, **changes):
    body = {**fake.reply_body(thread, SAM, text), **changes}
    return desk_call(fake.reply_path(thread), body, {"authorization": f"Bearer {token}"})


def texts(items: list[dict]) -> list[str]:
    return [item["entities"].get(ENTITY_TEXT) for item in items]


# -- the token endpoint ------------------------------------------------------------------


async def test_cxone_gets_a_bearer_token_with_the_client_it_was_issued(sidecar, http):
    basic = base64.b64encode(f"{BYOC_CLIENT_ID}:{BYOC_CLIENT_SECRET}".encode()).decode()
    for request in (
        {"json": credentials()},
        {"data": credentials()},
        {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": f"Basic {basic}"}},
    ):
        answer = await token_from(http, sidecar.url, **request)
        assert answer.status_code == 200, (request, answer.text)
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 40
        assert answer.headers["cache-control"] == "no-store"
    # The store keeps a digest of each token, never the token itself.
    stored = await sidecar.store.get("nice_cxone:bearers")
    assert len(stored["tokens"]) == 3 and body["access_token"] not in str(stored)


async def test_a_wrong_client_gets_no_token(sidecar, http):
    wrong = await token_from(http, sidecar.url, json=credentials(client_secret="guessed"))
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    unknown = await token_from(http, sidecar.url, json=credentials(client_id="someone-else"))
    assert unknown.status_code == 401
    grant = await token_from(http, sidecar.url, json={**credentials(), "grant_type": "password"})
    assert grant.status_code == 400 and grant.json() == {"error": "unsupported_grant_type"}
    missing = await token_from(http, sidecar.url, json={"client_id": BYOC_CLIENT_ID, "grant_type": "client_credentials"})
    assert missing.status_code == 400 and "client_secret" in missing.json()["error_description"]
    assert await sidecar.store.get("nice_cxone:bearers") is None


# -- the guarded routes --------------------------------------------------------------------


async def test_a_forged_or_unsigned_call_is_refused_and_reaches_nobody(sidecar, fake, http, clock):
    handoff = await sidecar.open_handoff()
    token = await bearer(http, sidecar.url)
    genuine = reply_call(fake, handoff.desk_conversation_id, "Hi, I'm Sam", token)
    old = await bearer(http, sidecar.url)
    clock.now += 3600  # `old` and `token` expire
    before = await sidecar.store.depths()
    forged = {
        "unsigned": without_headers(genuine, ["authorization"]),
        "a wrong token": with_wrong_headers(genuine, ["authorization"]),
        "another scheme": desk_call(genuine.path, genuine.body, {"authorization": f"Basic {token}"}),
        "an expired token": desk_call(genuine.path, genuine.body, {"authorization": f"Bearer {old}"}),
    }
    for kind, call in forged.items():
        answer = await send_call(http, sidecar.url, call)
        assert answer.status_code == 401, f"{kind}: {answer.status_code} {answer.text}"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    events = fake.event_body(handoff.desk_conversation_id, wire.STATUS_CHANGED, case={"id": "1", "status": "resolved"})
    answer = await send_call(http, sidecar.url, desk_call(wire.EVENTS_PATH, events))
    assert answer.status_code == 401
    assert await sidecar.queued_for_rasa(handoff.sender_id) == []
    assert await sidecar.store.depths() == before, "a refused call changed the store's queues"
    # A live token gets the same call through: the refusals were the token's doing.
    fresh = await bearer(http, sidecar.url)
    answer = await send_call(http, sidecar.url, reply_call(fake, handoff.desk_conversation_id, "Hi, I'm Sam", fresh))
    assert answer.status_code == 200, answer.text
    assert texts(await sidecar.queued_for_rasa(handoff.sender_id)) == ["Hi, I'm Sam"]


async def test_a_malformed_body_is_answered_400_naming_the_field(sidecar, fake, http):
    handoff = await sidecar.open_handoff()
    thread = handoff.desk_conversation_id
    token = await bearer(http, sidecar.url)
    auth = {"authorization": f"Bearer {token}"}
    outbound = fake.reply_path(thread, outbound=True)
    calls = [
        (desk_call(outbound, {**fake.reply_body(thread, SAM, "x"), "thread": {}}, auth), "thread.idOnExternalPlatform"),
        (reply_call(fake, thread, "x", token, messageContent=None), "messageContent"),
        (reply_call(fake, thread, "x", token, messageContent={"type": "TEXT", "payload": {"text": ["x"]}}), "messageContent.payload.text"),
        (reply_call(fake, thread, "x", token, authorUser="Sam"), "authorUser"),
        (reply_call(fake, thread, "x", token, attachments=[{"url": "file:///etc/passwd"}]), "attachments[0].url"),
        (desk_call(fake.reply_path(thread), b"not json", auth), "JSON"),
        (desk_call(wire.EVENTS_PATH, {**fake.event_body(thread, wire.TYPING_STARTED), "eventId": ""}, auth), "eventId"),
        (desk_call(wire.EVENTS_PATH, fake.event_body(thread, wire.STATUS_CHANGED, case={"id": "1"}), auth), "case.status"),
    ]
    for call, field in calls:
        answer = await send_call(http, sidecar.url, call)
        assert answer.status_code == 400, f"{field}: {answer.status_code} {answer.text}"
        assert field in answer.json()["error_description"], answer.text
    assert await sidecar.queued_for_rasa(handoff.sender_id) == []


async def test_a_duplicate_call_is_delivered_once(sidecar, fake, http):
    handoff = await sidecar.open_handoff()
    token = await bearer(http, sidecar.url)
    call = reply_call(fake, handoff.desk_conversation_id, "Hi, I'm Sam", token)
    first = await send_call(http, sidecar.url, call)
    again = await send_call(http, sidecar.url, call)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert texts(await sidecar.queued_for_rasa(handoff.sender_id)) == ["Hi, I'm Sam"]


async def test_a_call_for_an_unknown_conversation_is_answered_so_cxone_stops_retrying(sidecar, fake, http):
    token = await bearer(http, sidecar.url)
    thread = wire.thread_id(unknown_conversation_id())
    reply = await send_call(http, sidecar.url, reply_call(fake, thread, "anyone there?", token))
    assert reply.status_code == 200 and set(reply.json()) == {"idOnExternalPlatform"}
    event = desk_call(wire.EVENTS_PATH, fake.event_body(thread, wire.TYPING_STARTED, user=SAM.json()), {"authorization": f"Bearer {token}"})
    assert (await send_call(http, sidecar.url, event)).status_code == 200
    assert await sidecar.store.queues(TO_RASA) == []


# -- tokens across replicas, rotations and expiry ------------------------------------------


async def test_any_sidecar_replica_accepts_a_token_another_issued(fake, store, http):
    first = with_tokens(NiceCXoneConnector(settings(fake.url), store), store)
    second = NiceCXoneConnector(settings(fake.url), store)
    try:
        async with served_sidecar(first, store) as one, served_sidecar(second, store) as other:
            handoff = await one.open_handoff()
            token = await bearer(http, one.url)
            answer = await send_call(http, other.url, reply_call(fake, handoff.desk_conversation_id, "from the other replica", token))
            assert answer.status_code == 200, answer.text
            assert texts(await other.queued_for_rasa(handoff.sender_id)) == ["from the other replica"]
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_new_byoc_secret_retires_the_tokens_issued_under_the_old_one(fake, store, http):
    before = NiceCXoneConnector(settings(fake.url), store)
    after = NiceCXoneConnector(settings(fake.url, byoc_client_secret="rotated-secret-91c2"), store)
    try:
        async with served_sidecar(before, store) as old, served_sidecar(after, store) as new:
            token = await bearer(http, old.url)
            call = reply_call(fake, wire.thread_id("x"), "hello", token)
            assert (await send_call(http, old.url, call)).status_code == 200
            assert (await send_call(http, new.url, call)).status_code == 401
            assert (await token_from(http, new.url, json=credentials())).status_code == 401
    finally:
        await before.aclose()
        await after.aclose()


async def test_cxones_bearer_expiring_mid_handoff_is_refreshed_without_losing_or_repeating_a_message(sidecar, fake, clock):
    handoff = await sidecar.open_handoff()
    thread = handoff.desk_conversation_id
    assert (await asyncio.to_thread(fake.agent_says, thread, SAM, "first")).status_code == 200
    clock.now += 3601  # the bearer CXone holds has expired
    assert (await asyncio.to_thread(fake.agent_says, thread, SAM, "second")).status_code == 200
    assert (await asyncio.to_thread(fake.agent_says, thread, SAM, "third")).status_code == 200
    assert texts(await sidecar.queued_for_rasa(handoff.sender_id)) == ["first", "second", "third"]
    # One token, a 401 for the expired one, a second token, and the same message again once.
    assert fake.sidecar_tokens == 2
    assert [status for _, status, _ in fake.deliveries] == [200, 401, 200, 200]
