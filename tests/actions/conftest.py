"""Fixtures for the action tests: the real rasa-sdk action server over HTTP.

One action server per module runs `rasa_handoff_actions` as a subprocess with
a handoff.yml of ours (webhook connector, sqlite store in a temp dir), and a
sidecar on the same store delivers what the actions queue to a reference desk
in this process, as in production: the actions never call the desk
themselves. Each test uses its own sender ids, so tests share the servers but
never each other's conversations.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
import yaml

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from tests.support.http_recorder import Recorded
from tests.support.reference_desk import ReferenceDesk

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
DESK_KEY = "actions-desk-key-5b1e"
MAX_EMAIL_ATTEMPTS = 2
TRANSCRIPT_ROUNDS = 2


class CountingDesk(ReferenceDesk):
    """The reference desk, also noting which calls it answered 200.

    ReferenceDesk records every call, including the ones it refused while
    `down`; tests about delivery need the ones it actually accepted.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._accepted: list[Recorded] = []
        self._accepted_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        status, payload = super()._handle(request)
        if status == 200:
            with self._accepted_lock:
                self._accepted.append(request)
        return status, payload

    def accepted(self, path: str, conversation_id: str | None = None) -> list[dict]:
        with self._accepted_lock:
            bodies = [r.json() for r in self._accepted if r.path == path]
        if conversation_id is not None:
            bodies = [b for b in bodies if b.get("conversation_id") == conversation_id]
        return bodies

    def wait_accepted(
        self, path: str, count: int, conversation_id: str | None = None, timeout: float = 20.0
    ) -> list[dict]:
        self.server.wait_for(lambda _: len(self.accepted(path, conversation_id)) >= count, timeout)
        return self.accepted(path, conversation_id)

    def attempts(self, path: str, conversation_id: str) -> list[dict]:
        """Every call to `path` for the conversation, accepted or not."""
        return [r.json() for r in self.server.matching(path) if r.json().get("conversation_id") == conversation_id]

    def wait_establish_for(self, sender_id: str, count: int = 1, timeout: float = 20.0) -> list[dict]:
        self.server.wait_for(lambda _: len(self.establish_for(sender_id)) >= count, timeout)
        return self.establish_for(sender_id)

    def wait_attempts(self, path: str, count: int, conversation_id: str, timeout: float = 20.0) -> list[dict]:
        self.server.wait_for(lambda _: len(self.attempts(path, conversation_id)) >= count, timeout)
        return self.attempts(path, conversation_id)

    def establish_for(self, sender_id: str) -> list[dict]:
        return [
            body
            for body in self.accepted("/conversation/establish")
            if body["user_info"]["user_id"] == sender_id
        ]


def write_config(path: Path, desk_url: str, store_path: Path, **overrides: Any) -> Path:
    config = {
        "connector": "webhook",
        "transcript_rounds": TRANSCRIPT_ROUNDS,
        "email": {"required": True, "max_attempts": MAX_EMAIL_ATTEMPTS},
        "store": {"type": "sqlite", "path": str(store_path)},
        "connectors": {"webhook": {"url": desk_url, "api_key": DESK_KEY, "bot_id": "actions-test-bot"}},
        **overrides,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(name="write_config")
def write_config_fixture() -> Callable[..., Path]:
    """write_config(path, desk_url, store_path, **top-level overrides) -> path"""
    return write_config


@pytest.fixture(scope="module")
def desk():
    with CountingDesk(api_key=DESK_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("action-server")


@pytest.fixture(scope="module")
def store_path(workdir: Path) -> Path:
    return workdir / "handoff.sqlite"


@pytest.fixture(scope="module")
def config_path(workdir: Path, desk: CountingDesk, store_path: Path) -> Path:
    # No Rasa here: the tests play Rasa's part; the sidecar's pushes (timers) just wait.
    return write_config(workdir / "handoff.yml", desk.url, store_path, rasa={"url": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture(scope="module")
def sidecar(workdir: Path, config_path: Path):
    """Delivers what the actions queue for the desk, from the shared store."""
    service: Service = processes.sidecar(free_port(), config_path, workdir / "logs").start(timeout=60)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def action_server(workdir: Path, config_path: Path):
    service: Service = processes.action_server(free_port(), config_path, workdir / "logs").start(timeout=60)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run_action(action_server: Service, sidecar: Service, domain: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """POST /webhook as Rasa does; the action server's JSON answer."""
    port = action_server.health_url.split(":")[2].split("/")[0]
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def run(action: str, tracker: dict[str, Any], domain_override: dict[str, Any] | None = None) -> dict[str, Any]:
        response = client.post(
            "/webhook",
            json={
                "next_action": action,
                "sender_id": tracker["sender_id"],
                "tracker": tracker,
                "domain": domain_override or domain,
                "version": "3.6.21",
            },
        )
        assert response.status_code == 200, (
            f"{action} answered {response.status_code}: {response.text}\n{action_server.log_tail()}"
        )
        return response.json()

    yield run
    client.close()


@pytest.fixture
def sender_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"
