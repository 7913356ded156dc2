"""Intercom webhooks through the real sidecar process, over HTTP.

The sidecar runs as a subprocess with `connector: intercom`; Intercom is the
spec-checking fake (which also signs and posts the notifications), Rasa a
small recording server that acknowledges trigger_intent the way Rasa 3.6
does (the handoff action's `handoff_event_id` slot in the returned tracker).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from handoff_connectors.core.handoffs import HandoffService
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.intercom import WEBHOOK_PATH, IntercomConnector
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import free_port
from tests.support.http_recorder import Recorded, RecordingServer

from .conftest import BOT, CLIENT_SECRET, TOKEN, settings
from .fake_intercom import FakeIntercom, sign

_TRIGGER = re.compile(r"^/conversations/([^/]+)/trigger_intent$")


def rasa_answer(request: Recorded) -> tuple[int, Any]:
    if not _TRIGGER.match(request.path):
        return 404, {}
    entities = request.json().get("entities") or {}
    event = {"event": "slot", "name": "handoff_event_id", "value": entities.get("handoff_event_id")}
    return 200, {"tracker": {"events": [event]}, "messages": []}


@pytest.fixture
def rasa() -> Iterator[RecordingServer]:
    with RecordingServer(rasa_answer) as server:
        yield server


@pytest.fixture
def sidecar(fake: FakeIntercom, rasa: RecordingServer, tmp_path: Path) -> Iterator[str]:
    config = {
        "connector": "intercom",
        "rasa": {"url": rasa.url, "timeout": 10},
        "store": {"path": str(tmp_path / "handoff.sqlite")},
        "sidecar": {"poll_interval": 0.1, "max_retry_delay": 1},
        "connectors": {"intercom": {
            "access_token": "${IC_TEST_TOKEN}", "client_secret": "${IC_TEST_SECRET}",
            "admin_id": BOT.id, "base_url": fake.url, "default_team": "6100009",
        }},
    }
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    service = processes.sidecar(port, path, tmp_path / "logs", env={"IC_TEST_TOKEN": TOKEN, "IC_TEST_SECRET": CLIENT_SECRET})
    service.start(timeout=60)
    url = f"http://127.0.0.1:{port}"
    fake.webhook_url = url + WEBHOOK_PATH
    try:
        yield url
    finally:
        service.stop()
        log = service.log_path.read_text(errors="replace")
        assert TOKEN not in log and CLIENT_SECRET not in log, "a secret reached the sidecar's log"


def triggers(rasa: RecordingServer) -> list[dict]:
    return [r.json() for r in rasa.requests if _TRIGGER.match(r.path)]


async def test_intercom_webhooks_through_the_real_sidecar(
    sidecar: str, fake: FakeIntercom, rasa: RecordingServer, tmp_path: Path
) -> None:
    health = httpx.get(sidecar + "/health").json()
    assert health == {"status": "ok", "connector": "intercom", "service": "Available"}
    # Intercom's check when the endpoint is saved.
    assert httpx.head(sidecar + WEBHOOK_PATH).status_code == 200

    # A handoff, opened the way the action does it (same store file).
    store = SqliteStore(str(tmp_path / "handoff.sqlite"))
    connector = IntercomConnector(settings(base_url=fake.url), store)
    service = HandoffService(store, connector)
    handoff = await service.open("web-ana", "ana@example.com", "en", [], "I need a person")
    # The sidecar's pump starts the conversation in Intercom.
    conversation_id = await desk_conversation_of(service, handoff.handoff_id)
    await connector.aclose()
    marta = fake.admins["8100002"]

    # Forged: a wrong, a missing and a foreign signature get 401 and reach nobody.
    forged = fake.agent_replies(conversation_id, marta, "<p>Please send your card number</p>", send=False)
    raw = json.dumps(forged).encode()
    for header in ("sha1=" + "0" * 40, None, sign("another-apps-secret", raw)):
        headers = {"Content-Type": "application/json"} | ({"X-Hub-Signature": header} if header else {})
        answer = httpx.post(sidecar + WEBHOOK_PATH, content=raw, headers=headers)
        assert answer.status_code == 401, answer.text
    time.sleep(0.6)
    assert triggers(rasa) == []

    # Genuine: the agent's HTML reply reaches Rasa as text, once even when redelivered.
    genuine = fake.agent_replies(conversation_id, marta, "<p>Hi <b>Ana</b>, see <a href=\"https://acme.example/faq\">the FAQ</a></p>", send=False)
    assert fake.deliver(genuine).status_code == 200
    assert fake.deliver(genuine).status_code == 200
    rasa.wait_for(lambda requests: any(_TRIGGER.match(r.path) for r in requests))
    time.sleep(0.6)
    [pushed] = triggers(rasa)
    assert pushed["name"] == "EXTERNAL_handoff_agent_message"
    assert pushed["entities"]["handoff_text"] == "Hi Ana, see the FAQ (https://acme.example/faq)"
    assert pushed["entities"]["handoff_agent"] == "Marta Ruiz"
    assert pushed["entities"]["handoff_event_id"] == f"intercom:{genuine['id']}"

    # Ping, and a conversation that is no handoff of ours: 200, nothing pushed.
    ping = {"type": "notification_event", "id": None, "topic": "ping", "data": {"type": "notification_event_data", "item": {"type": "ping", "message": "hi"}}}
    assert fake.deliver(ping).status_code == 200
    other = fake.add_contact("bob@example.com")
    elsewhere, _ = fake.user_starts(other, "hello", send=False)
    assert fake.deliver(fake.agent_replies(elsewhere, marta, "<p>Hi Bob</p>", send=False)).status_code == 200
    time.sleep(0.4)
    assert len(triggers(rasa)) == 1


async def desk_conversation_of(service: HandoffService, handoff_id: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = await service.record(handoff_id)
        if record is not None and record.desk_conversation_id:
            return record.desk_conversation_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"handoff {handoff_id} never reached the desk")
