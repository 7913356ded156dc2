"""Fixtures for the sidecar tests: the real sidecar process, a fake Rasa, the reference desk.

The sidecar runs as a subprocess (`python -m handoff_connectors.cli sidecar`)
with a handoff.yml of ours. Rasa is faked in this process: a small HTTP server
that answers `POST /conversations/{id}/trigger_intent` the way Rasa 3.6 does,
including the tracker whose `handoff_event_id` slot the sidecar waits for.
Handoffs are opened the way the action does it, with HandoffService on the
same sqlite store, against the reference desk.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Sequence
from urllib.parse import parse_qs, unquote

import pytest
import yaml

from handoff_connectors.core.config import load_config
from handoff_connectors.core.contract import Attachment, Speaker, Turn
from handoff_connectors.core.handoffs import HandoffService
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from handoff_connectors.webhook import WebhookConnector
from tests.support.http_recorder import Recorded, RecordingServer
from tests.support.reference_desk import ReferenceDesk

RASA_TOKEN = "fake-rasa-token-4d7e21"
DESK_KEY = "sidecar-desk-key-a93c55"
DESK_USER = "rasa-bot"
DESK_PASSWORD = "desk-basic-password-0b6f"

# Rasa answers 404 to trigger_intent for an intent its domain lacks.
DOMAIN_INTENTS = frozenset(
    yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))["intents"]
)
_TRIGGER = re.compile(r"^/conversations/([^/]+)/trigger_intent$")


@dataclass(frozen=True)
class Call:
    """One trigger_intent call as the fake Rasa saw and answered it."""

    sender_id: str
    intent: Optional[str]
    entities: dict[str, Any]
    query: dict[str, list[str]]
    status: int
    acked: bool

    @property
    def event_id(self) -> Optional[str]:
        return self.entities.get("handoff_event_id")

    @property
    def text(self) -> Optional[str]:
        return self.entities.get("handoff_text")


class FakeRasa:
    """Rasa's HTTP API as far as the sidecar uses it, with switchable failures.

    `failing` = (status, body): every call is answered with it (and not run).
    `acking` = False: calls run, but no handoff action acknowledges the event
    (as when Rasa predicted something else), so the tracker lacks the slot.
    `stop()` and `start()` take the server down entirely and bring it back
    on the same port; the record of calls survives.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.failing: Optional[tuple[int, Any]] = None
        self.acking = True
        # Seconds each call takes to answer, and how many calls have arrived (answered or not).
        self.delay = 0.0
        self.arrived = 0
        self.calls: list[Call] = []
        self._trackers: dict[str, list[dict[str, Any]]] = {}
        self._changed = threading.Condition()
        self._server: Optional[RecordingServer] = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> "FakeRasa":
        self._server = RecordingServer(self._handle, port=self.port).__enter__()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- Rasa ----------------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        match = _TRIGGER.match(request.path)
        if request.method != "POST" or not match:
            return 404, {"version": "3.6.21", "status": "failure", "reason": "NotFound", "code": 404}
        sender_id = unquote(match.group(1))
        with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        time.sleep(self.delay)
        query = parse_qs(request.query)
        try:
            body = request.json()
        except ValueError:
            body = {}
        intent, entities = body.get("name"), body.get("entities") or {}
        status, reply, acked = self._answer(sender_id, query, intent, entities)
        with self._changed:
            self.calls.append(Call(sender_id, intent, entities, query, status, acked))
            self._changed.notify_all()
        return status, reply

    def _answer(
        self, sender_id: str, query: dict[str, list[str]], intent: Optional[str], entities: dict[str, Any]
    ) -> tuple[int, Any, bool]:
        if query.get("token") != [self.token]:
            return 401, {"version": "3.6.21", "status": "failure", "reason": "NotAuthenticated",
                         "message": "User is not authenticated.", "code": 401}, False
        if self.failing is not None:
            return (*self.failing, False)
        if intent not in DOMAIN_INTENTS:
            return 404, {"version": "3.6.21", "status": "failure", "reason": "NotFound",
                         "message": f"The intent '{intent}' does not exist in the domain.", "code": 404}, False
        events = self._trackers.setdefault(sender_id, [])
        now = time.time()
        events.append(
            {
                "event": "user",
                "timestamp": now,
                "text": f"/{intent}",
                "parse_data": {
                    "intent": {"name": intent, "confidence": 1.0},
                    "entities": [{"entity": k, "value": v} for k, v in entities.items()],
                },
                "metadata": {"is_external": True},
            }
        )
        if self.acking:
            events.append({"event": "action", "timestamp": now, "name": "handoff_loop"})
            events.append({"event": "slot", "timestamp": now, "name": "handoff_event_id",
                           "value": entities.get("handoff_event_id")})
        else:
            events.append({"event": "action", "timestamp": now, "name": "action_listen"})
        tracker = {"sender_id": sender_id, "slots": {}, "events": list(events), "paused": False,
                   "latest_message": events[-3 if self.acking else -2]["parse_data"]}
        return 200, {"tracker": tracker, "messages": []}, self.acking

    # -- what the tests look at -------------------------------------------------------

    def calls_for(self, sender_id: str) -> list[Call]:
        with self._changed:
            return [call for call in self.calls if call.sender_id == sender_id]

    def acked(self, sender_id: str) -> list[Call]:
        return [call for call in self.calls_for(sender_id) if call.acked]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; calls so far: {self.calls}")
                self._changed.wait(remaining)

    def wait_acked(self, sender_id: str, count: int, timeout: float = 20.0) -> list[Call]:
        self.wait_for(lambda: len(self.acked(sender_id)) >= count, timeout)
        return self.acked(sender_id)


def write_config(path: Path, rasa_url: str, desk_url: str, store_path: Path) -> Path:
    config = {
        "connector": "webhook",
        "rasa": {"url": rasa_url, "token": RASA_TOKEN, "timeout": 10},
        "store": {"type": "sqlite", "path": str(store_path)},
        "sidecar": {"max_retry_delay": 1, "poll_interval": 0.1, "status_check_interval": 0.3},
        "connectors": {
            "webhook": {
                "url": desk_url,
                "api_key": DESK_KEY,
                "username": DESK_USER,
                "password": DESK_PASSWORD,
                "bot_id": "sidecar-test-bot",
            }
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Handoffs:
    """Opens handoffs the way the action does: HandoffService on the shared store."""

    def __init__(self, config_path: Path) -> None:
        self.config = load_config(str(config_path))

    def _with_service(self, use: Callable[[HandoffService], Awaitable[Any]]) -> Any:
        async def using() -> Any:
            service = HandoffService(
                SqliteStore(self.config.store.path), WebhookConnector(self.config.connectors.webhook)
            )
            try:
                return await use(service)
            finally:
                await service.connector.aclose()
                await service.store.close()

        return asyncio.run(using())

    def open(self, sender_id: str, question: str = "I want to talk to a human") -> str:
        """A live handoff for `sender_id`; its id, which is the desk's conversation id."""

        async def opening(service: HandoffService) -> str:
            handoff = await service.open(
                sender_id=sender_id,
                email="ana@example.com",
                language="en",
                transcript=[Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi! How can I help?")],
                latest_question=question,
            )
            return handoff.handoff_id

        return self._with_service(opening)

    def relay(self, handoff_id: str, text: str, attachments: Sequence[Attachment] = ()) -> None:
        """A user message for the desk, queued as the action queues it; the sidecar delivers it."""

        async def relaying(service: HandoffService) -> None:
            await service.relay(await service.record(handoff_id), text, attachments)

        self._with_service(relaying)


def start_sidecar(config_path: Path, log_dir: Path, log_level: Optional[str] = None) -> Service:
    if log_level is None:
        return processes.sidecar(free_port(), config_path, log_dir).start(timeout=60)
    port = free_port()
    service = processes.sidecar(port, config_path, log_dir)
    # The same command with the global option before the subcommand.
    service.command = [*service.command[:3], "--log-level", log_level, *service.command[3:]]
    return service.start(timeout=60)


# -- the shared deployment (one per module) ---------------------------------------------


@pytest.fixture(scope="module")
def desk():
    with ReferenceDesk(api_key=DESK_KEY, basic_auth=(DESK_USER, DESK_PASSWORD)) as running:
        yield running


@pytest.fixture(scope="module")
def fake_rasa_server():
    server = FakeRasa(RASA_TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sidecar")


@pytest.fixture(scope="module")
def config_path(workdir: Path, fake_rasa_server: FakeRasa, desk: ReferenceDesk) -> Path:
    return write_config(workdir / "handoff.yml", fake_rasa_server.url, desk.url, workdir / "handoff.sqlite")


@pytest.fixture(scope="module")
def sidecar(config_path: Path, workdir: Path, desk: ReferenceDesk):
    service = start_sidecar(config_path, workdir / "logs")
    desk.sidecar_url = service.health_url.removesuffix("/health")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def rasa(fake_rasa_server: FakeRasa):
    """The module's fake Rasa, healthy again after each test."""
    yield fake_rasa_server
    fake_rasa_server.failing = None
    fake_rasa_server.acking = True
    if fake_rasa_server._server is None:
        fake_rasa_server.start()


@pytest.fixture(scope="module")
def handoffs(config_path: Path) -> Handoffs:
    return Handoffs(config_path)


@pytest.fixture
def sender_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture(name="sidecar_tools")
def sidecar_tools_fixture() -> dict[str, Any]:
    """What the log-hygiene test needs to build a deployment of its own."""
    return {
        "FakeRasa": FakeRasa,
        "Handoffs": Handoffs,
        "write_config": write_config,
        "start_sidecar": start_sidecar,
        "secrets": {"rasa token": RASA_TOKEN, "desk api_key": DESK_KEY, "desk password": DESK_PASSWORD},
        "desk_key": DESK_KEY,
        "desk_auth": (DESK_USER, DESK_PASSWORD),
    }
