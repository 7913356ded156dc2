"""The e2e deployment (real Rasa 3.6.21, action server, sidecar, reference desk), timed.

Why a subclass rather than the e2e fixture itself: the fault cases stop
Rasa and kill the sidecar, so they get a deployment of their own (the same
cached Rasa build and model), and they need to know *when* each bot message
reached the user's channel, which the recording server does not note.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

import httpx

from tests.e2e.harness import DESK_KEY, Deployment, User
from tests.support.http_recorder import Recorded, Reply, RecordingServer

from .waiting import wait_until

ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."


class Arrivals:
    """When each bot message reached the callback receiver, per recipient, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[tuple[float, str]]] = {}

    def watch(self, server: RecordingServer) -> None:
        answer = server.handler

        def noting(request: Recorded) -> Reply:
            if request.path == "/bot":
                self._note(request.json())
            return answer(request)

        server.handler = noting

    def _note(self, message: dict) -> None:
        with self._lock:
            self._seen.setdefault(str(message.get("recipient_id")), []).append(
                (time.monotonic(), message.get("text") or "")
            )

    def of(self, recipient_id: str, prefix: str = "") -> list[tuple[float, str]]:
        """(arrival time, text) of the messages whose text starts with `prefix`."""
        with self._lock:
            return [(at, text) for at, text in self._seen.get(recipient_id, []) if text.startswith(prefix)]


class FaultDeployment(Deployment):
    def __init__(self, rasa: Path, model: Path, project: Path, workdir: Path) -> None:
        super().__init__(rasa, model, project, workdir)
        self.arrivals = Arrivals()
        self.arrivals.watch(self.user_channel)

    @property
    def sidecar_url(self) -> str:
        return f"http://127.0.0.1:{self.sidecar_port}"

    @property
    def store_path(self) -> Path:
        return self.workdir / "handoff.sqlite"

    def connect(self, user: User) -> str:
        """Ask for a person, give the email; the desk's conversation id once it is opened."""
        assert user.say("I want to talk to a human") == [ASK_EMAIL]
        assert user.say("ana@example.com") == [CONNECTING]
        return wait_until(lambda: self._conversation_of(user.sender_id), 30, f"the desk to open {user.sender_id}")

    def _conversation_of(self, sender_id: str) -> Optional[str]:
        for call in self.desk.received("/conversation/establish"):
            if call["user_info"]["user_id"] == sender_id:
                return call["conversation_id"]
        return None

    def wait_arrived(self, user: User, prefix: str, count: int, timeout: float) -> list[tuple[float, str]]:
        return wait_until(
            lambda: len(self.arrivals.of(user.sender_id, prefix)) >= count and self.arrivals.of(user.sender_id, prefix),
            timeout,
            f"{count} messages starting {prefix!r} for {user.sender_id}",
        )


class Agent:
    """An agent replying from the desk: posts to the sidecar as the reference desk does.

    One kept-alive connection, so a burst of replies reaches the sidecar in
    milliseconds, as from a desk that sends them back to back.
    """

    def __init__(self, deployment: Deployment, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self._url = f"http://127.0.0.1:{deployment.sidecar_port}/v1/human/message/receive"
        self._client = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {DESK_KEY}"})

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def reply(self, text: str) -> int:
        """Post `text` (its own message id too); the sidecar's status."""
        payload = {"conversation_id": self.conversation_id, "timestamp": int(time.time() * 1000),
                   "body": text, "message_id": text}
        return self._client.post(self._url, json=payload).status_code
