"""A whole handoff deployment on this machine, for end-to-end tests.

Real Rasa Open Source 3.6.21 (its own venv, the callback channel, a SQL
tracker store so it survives a restart), the real rasa-sdk action server with
rasa_handoff_actions, the real sidecar, and the reference webhook desk.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import yaml

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from handoff_connectors.rasa_runtime.project import DEMO_BOT_ACTIONS
from tests.support.http_recorder import RecordingServer
from tests.support.reference_desk import ReferenceDesk

DESK_KEY = "e2e-desk-key-0f3a9c"
RASA_TOKEN = "e2e-rasa-token-77d1"


class Deployment:
    def __init__(self, rasa: Path, model: Path, project: Path, workdir: Path) -> None:
        self.rasa_exe, self.model, self.project, self.workdir = rasa, model, project, workdir
        self.logs = workdir / "logs"
        self.desk = ReferenceDesk(api_key=DESK_KEY, basic_auth=("rasa", "desk-password"))
        self.user_channel = RecordingServer()
        self.rasa_port, self.action_port, self.sidecar_port = free_port(), free_port(), free_port()
        self.config_path = workdir / "handoff.yml"
        self.services: dict[str, Service] = {}
        # Whether the processes run the default handoff.yml, and whether a reconfigured block is open.
        self._running_default, self._in_block = True, False

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "Deployment":
        self.desk.__enter__()
        self.user_channel.__enter__()
        self.config_path.write_text(yaml.safe_dump(self._config()))
        processes.write_rasa_endpoints(
            self.project,
            self.action_port,
            f"callback:\n  url: {self.user_channel.url}/bot\nrest:\n",
        )
        self.services["actions"] = processes.action_server(
            self.action_port, self.config_path, self.logs, actions=DEMO_BOT_ACTIONS
        ).start()
        self.start_sidecar()
        self.start_rasa()
        self.desk.sidecar_url = f"http://127.0.0.1:{self.sidecar_port}"
        return self

    def _config(self) -> dict[str, Any]:
        return {
            "connector": "webhook",
            "transcript_rounds": 3,
            "escalation": {
                "planned": [
                    {"intent": "pay_bill", "routing": "billing", "message_to_agent": "Customer wants to pay a bill ({handoff_language})"}
                ],
                "fallback": {"mode": "handoff", "after": 2},
            },
            "rasa": {"url": f"http://127.0.0.1:{self.rasa_port}", "token": "${E2E_RASA_TOKEN:-" + RASA_TOKEN + "}", "timeout": 60},
            "store": {"path": str(self.workdir / "handoff.sqlite")},
            "sidecar": {"max_retry_delay": 2},
            "connectors": {
                "webhook": {
                    "url": self.desk.url,
                    "api_key": DESK_KEY,
                    "username": "rasa",
                    "password": "desk-password",
                    "bot_id": "e2e-bot",
                }
            },
        }

    @contextmanager
    def reconfigured(self, **overrides: Any) -> Iterator["Deployment"]:
        """Run with handoff.yml changed (top-level keys replaced); Rasa keeps running.

        Only the action server and the sidecar read handoff.yml, so only they
        restart. The default config comes back when a test next needs it
        (`as_configured`, run before every test that uses the deployment), not
        at the end of the block: modules that each reconfigure, one after the
        other, then restart the processes once each instead of twice.
        """
        self._restart_handoff_processes({**self._config(), **overrides})
        self._running_default, self._in_block = False, True
        try:
            yield self
        finally:
            self._in_block = False

    def as_configured(self) -> None:
        """The default handoff.yml again, if a finished `reconfigured` block left another one running."""
        if not self._in_block and not self._running_default:
            self._restart_handoff_processes(self._config())
            self._running_default = True

    def _restart_handoff_processes(self, config: dict[str, Any]) -> None:
        # Both stop, then both start, side by side: each waits for its own health check.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(Service.stop, [self.services.pop("sidecar"), self.services.pop("actions")]))
        self.config_path.write_text(yaml.safe_dump(config))
        actions = processes.action_server(self.action_port, self.config_path, self.logs, actions=DEMO_BOT_ACTIONS)
        sidecar = processes.sidecar(self.sidecar_port, self.config_path, self.logs)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(Service.start, [actions, sidecar]))
        self.services["actions"], self.services["sidecar"] = actions, sidecar

    def stop_sidecar(self) -> None:
        self.services.pop("sidecar").stop()

    def start_sidecar(self) -> None:
        self.services["sidecar"] = processes.sidecar(self.sidecar_port, self.config_path, self.logs).start()

    def start_rasa(self) -> None:
        self.services["rasa"] = processes.rasa_server(
            self.rasa_exe, self.model, self.project, self.rasa_port, self.logs, token=RASA_TOKEN
        ).start(timeout=240)

    def stop_rasa(self) -> None:
        self.services.pop("rasa").stop()

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        self.user_channel.__exit__(None, None, None)
        self.desk.__exit__(None, None, None)

    # -- the user's side ---------------------------------------------------------

    def new_user(self) -> "User":
        return User(self, f"user-{uuid.uuid4().hex[:10]}")

    def bot_messages(self, sender_id: str) -> list[dict]:
        return [
            r.json() for r in self.user_channel.matching("/bot") if r.json().get("recipient_id") == sender_id
        ]

    def tracker(self, sender_id: str) -> dict:
        response = httpx.get(
            f"http://127.0.0.1:{self.rasa_port}/conversations/{sender_id}/tracker",
            params={"token": RASA_TOKEN},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def log(self, name: str) -> str:
        return self.services[name].log_path.read_text(errors="replace") if name in self.services else ""


class User:
    """One person chatting with the bot through Rasa's callback channel."""

    def __init__(self, deployment: Deployment, sender_id: str) -> None:
        self.deployment = deployment
        self.sender_id = sender_id
        self._seen = 0

    def say(self, text: str, metadata: Optional[dict] = None, expect: int = 1, timeout: float = 30) -> list[str]:
        """Send `text`; return the texts of the next `expect` bot messages."""
        payload = {"sender": self.sender_id, "message": text}
        if metadata:
            payload["metadata"] = metadata
        response = httpx.post(
            f"http://127.0.0.1:{self.deployment.rasa_port}/webhooks/callback/webhook", json=payload, timeout=60
        )
        response.raise_for_status()
        return self.next_messages(expect, timeout) if expect else []

    def say_rest(self, text: str, metadata: Optional[dict] = None) -> list[str]:
        """Send through Rasa's REST channel, which (unlike callback) keeps message metadata."""
        payload = {"sender": self.sender_id, "message": text, "metadata": metadata or {}}
        response = httpx.post(
            f"http://127.0.0.1:{self.deployment.rasa_port}/webhooks/rest/webhook", json=payload, timeout=60
        )
        response.raise_for_status()
        return [m.get("text") or "" for m in response.json()]

    def next_messages(self, count: int = 1, timeout: float = 30) -> list[str]:
        """The texts of the next `count` bot messages."""
        return [m.get("text") or "" for m in self.next_payloads(count, timeout)]

    def next_payloads(self, count: int = 1, timeout: float = 30) -> list[dict]:
        """The next `count` bot messages whole (a custom payload, an attachment), whatever arrives after them."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages()
            if len(messages) >= self._seen + count:
                fresh = messages[self._seen : self._seen + count]
                self._seen += count
                return fresh
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} new bot message(s) for {self.sender_id}, "
                    f"got {[m.get('text') for m in messages[self._seen:]]}"
                )
            time.sleep(0.1)

    def messages(self) -> list[dict]:
        return self.deployment.bot_messages(self.sender_id)

    def assert_quiet(self, seconds: float = 1.5) -> None:
        """No new bot message arrives within `seconds`."""
        time.sleep(seconds)
        extra = self.messages()[self._seen :]
        assert not extra, f"unexpected bot messages: {[m.get('text') for m in extra]}"

    def desk_conversation(self) -> dict:
        """The establish call the desk got for this user."""
        found = [
            c for c in self.deployment.desk.received("/conversation/establish")
            if c["user_info"]["user_id"] == self.sender_id
        ]
        assert found, f"the desk has no conversation for {self.sender_id}"
        return found[-1]
