"""A webhook-protocol desk that can fail on purpose: 503s, silence, refusals.

Why not the reference desk: its `down` switch only answers 503, and a
desk that takes the connection and then says nothing (the timeout case) has
to hold the request in its handler thread, which the recording server
would then report as a broken pipe. This one answers each of its three
paths as the protocol says, notes when it accepted what, and fails in the
way the test sets, quietly.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Optional

from tests.support.background_http import BackgroundHTTP

from .clients import PerThread

RECEIVE_PATH = "/v1/human/message/receive"


class Mode(enum.Enum):
    UP = "up"
    FAILING = "failing"  # answers 503 at once
    SILENT = "silent"  # takes the request, never answers within the client's timeout


@dataclass(frozen=True)
class Accepted:
    """A call the desk answered 200, and when (time.monotonic())."""

    at: float
    path: str
    body: dict


# Decides whether the desk refuses a call for good (answered 400): (path, body) -> bool.
Refusal = Callable[[str, dict], bool]


class FaultyDesk(BackgroundHTTP):
    def __init__(self, silence: float) -> None:
        self.mode = Mode.UP
        self.refuse: Refusal = lambda path, body: False
        self.silence = silence
        self.outcomes: dict[str, int] = {}
        self._accepted: list[Accepted] = []
        # Indexes, so lookups stay cheap with a thousand conversations.
        self._chats: dict[str, list[Accepted]] = {}
        self._opened: dict[str, str] = {}
        self._changed = threading.Condition()
        self._agents = PerThread(timeout=30)
        super().__init__(self._handler_class())

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self._agents.close()

    # -- the desk's side -----------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        desk = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the sidecar reuses its connections

            def do_GET(self) -> None:  # the connector's credential check
                self._answer(200, {"code": 0, "message": "ok"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status = desk._decide(self.path, body)
                if status is None:
                    time.sleep(desk.silence)  # the caller gives up meanwhile
                    self.close_connection = True
                    return
                self._answer(status, {"code": 0 if status == 200 else status, "message": "see status"})

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller already left

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _decide(self, path: str, body: dict) -> Optional[int]:
        """The status to answer, or None to stay silent."""
        mode = self.mode
        if mode is Mode.FAILING:
            return self._count("503", 503)
        if mode is Mode.SILENT:
            return self._count("silent", None)
        if self.refuse(path, body):
            return self._count("400", 400)
        call = Accepted(time.monotonic(), path, body)
        with self._changed:
            self._accepted.append(call)
            if path == "/chat":
                self._chats.setdefault(str(body.get("conversation_id")), []).append(call)
            elif path == "/conversation/establish":
                self._opened.setdefault(str(body["user_info"]["user_id"]), str(body["conversation_id"]))
            self._changed.notify_all()
        return self._count("200", 200)

    def _count(self, outcome: str, status: Optional[int]) -> Optional[int]:
        with self._changed:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return status

    # -- what the tests read ---------------------------------------------------------

    def accepted(self, path: str) -> list[Accepted]:
        with self._changed:
            return [call for call in self._accepted if call.path == path]

    def chats(self, conversation_id: str) -> list[Accepted]:
        with self._changed:
            return list(self._chats.get(conversation_id, ()))

    def conversation_of(self, sender_id: str) -> Optional[str]:
        """The desk conversation opened for `sender_id`, once its establish call arrived."""
        with self._changed:
            return self._opened.get(sender_id)

    # -- the agent's side -----------------------------------------------------------

    def reply(self, sidecar_url: str, api_key: str, conversation_id: str, text: str, message_id: str) -> int:
        """Post an agent reply to the sidecar; the status it answered."""
        response = self._agents.get().post(
            sidecar_url + RECEIVE_PATH,
            json={"conversation_id": conversation_id, "timestamp": int(time.time() * 1000),
                  "body": text, "message_id": message_id},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        return response.status_code
