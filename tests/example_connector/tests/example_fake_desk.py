"""The example desk itself, as a fake the tests run: its API, its agents, and its rules.

The API answers what the connector calls (see the connector's docstring)
and holds each request to the desk's rules: the bearer token (else 401),
the route, a JSON body with the fields and types the desk expects. What
breaks a rule is answered 400 and kept in `violations`, which the tests
expect empty. The agents act through `agent_says`, `agent_types` and
`agent_closes`: each is a webhook to the sidecar, signed as the desk signs.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any, Optional

import httpx

from handoff_connectors.testing import Recorded, RecordingServer
from rasa_handoff_example import SIGNATURE_HEADER, WEBHOOK_PATH, signature

_CONVERSATION = re.compile(r"^/conversations/([^/]+)/(messages|close)$")
_CLOSE_REASONS = {"user_closed", "timeout", "bot_ended"}


class ExampleDesk:
    def __init__(self, api_token: str, webhook_secret: str) -> None:
        self.api_token = api_token
        self.webhook_secret = webhook_secret
        self.conversations: dict[str, dict[str, Any]] = {}
        self.violations: list[str] = []
        self.sidecar_url: Optional[str] = None
        self._lock = threading.Lock()
        self.server = RecordingServer(self._handle)

    def __enter__(self) -> "ExampleDesk":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    @property
    def url(self) -> str:
        return self.server.url

    # -- the API ----------------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"Bearer {self.api_token}":
            return 401, {"error": "unauthorized"}
        if request.method == "GET" and request.path == "/me":
            return 200, {"name": "Example desk API user"}
        body = self._json(request)
        if body is None:
            return 400, {"error": "send a JSON object"}
        if request.method == "POST" and request.path == "/conversations":
            return self._open(body)
        match = _CONVERSATION.match(request.path)
        if request.method == "POST" and match:
            return self._in_conversation(match.group(1), match.group(2), body)
        return self._refuse(f"{request.method} {request.path}: no such route")

    def _json(self, request: Recorded) -> Optional[dict]:
        if "application/json" not in request.headers.get("content-type", ""):
            self.violations.append(f"{request.method} {request.path}: not a JSON body")
            return None
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.violations.append(f"{request.method} {request.path}: the body is not a JSON object")
            return None
        return body

    def _refuse(self, problem: str) -> tuple[int, Any]:
        with self._lock:
            self.violations.append(problem)
        return 400, {"error": problem}

    def _open(self, body: dict) -> tuple[int, Any]:
        customer, transcript = body.get("customer"), body.get("transcript")
        if not isinstance(customer, dict) or not isinstance(customer.get("id"), str) or not isinstance(customer.get("email"), str):
            return self._refuse("POST /conversations: customer needs an id and an email")
        if not isinstance(transcript, list) or not all(
            isinstance(line, dict) and line.get("from") in ("user", "bot") and isinstance(line.get("text"), str)
            for line in transcript
        ):
            return self._refuse("POST /conversations: transcript is a list of {from: user|bot, text}")
        if not isinstance(body.get("question"), str):
            return self._refuse("POST /conversations: question is a string")
        for optional in ("queue", "note", "reference"):
            if body.get(optional) is not None and not isinstance(body[optional], str):
                return self._refuse(f"POST /conversations: {optional} is a string or null")
        conversation_id = f"c-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.conversations[conversation_id] = {**body, "messages": [], "closed": None}
        return 201, {"id": conversation_id}

    def _in_conversation(self, conversation_id: str, action: str, body: dict) -> tuple[int, Any]:
        with self._lock:
            conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, {"error": "no such conversation"}
        if action == "close":
            if body.get("reason") not in _CLOSE_REASONS:
                return self._refuse(f"close: reason is one of {sorted(_CLOSE_REASONS)}")
            conversation["closed"] = body["reason"]
            return 200, {"id": conversation_id}
        if not isinstance(body.get("id"), str) or not isinstance(body.get("text"), str):
            return self._refuse("messages: id and text are strings")
        files = body.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("url"), str) for f in files):
            return self._refuse("messages: files is a list of {url, name, type}")
        if conversation["closed"]:
            return 409, {"error": "the conversation is closed"}
        if all(message["id"] != body["id"] for message in conversation["messages"]):
            conversation["messages"].append(body)
        return 201, {"id": body["id"]}

    # -- looking at the desk -------------------------------------------------------

    def wait_for_conversation(self, email: str, timeout: float = 30.0) -> str:
        """The id of the conversation opened for the customer with that email."""
        return self._wait(lambda: next((cid for cid, c in self.conversations.items() if c["customer"]["email"] == email), None), timeout)

    def wait_for_messages(self, conversation_id: str, count: int, timeout: float = 30.0) -> list[str]:
        def texts() -> Optional[list[str]]:
            found = [m["text"] for m in self.conversations[conversation_id]["messages"]]
            return found if len(found) >= count else None

        return self._wait(texts, timeout)

    def wait_for_close(self, conversation_id: str, timeout: float = 30.0) -> str:
        return self._wait(lambda: self.conversations[conversation_id]["closed"], timeout)

    def _wait(self, probe, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while (found := probe()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the desk has {self.conversations}")
            time.sleep(0.05)
        return found

    # -- the agents ------------------------------------------------------------------

    def event(self, kind: str, conversation_id: str, **fields: Any) -> dict:
        return {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": kind, "conversation": conversation_id, **fields}

    def signed(self, event: dict | bytes) -> tuple[bytes, dict[str, str]]:
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        return raw, {"content-type": "application/json", SIGNATURE_HEADER: signature(self.webhook_secret, raw)}

    def deliver(self, event: dict) -> httpx.Response:
        assert self.sidecar_url, "set desk.sidecar_url first"
        raw, headers = self.signed(event)
        return httpx.post(self.sidecar_url + WEBHOOK_PATH, content=raw, headers=headers, timeout=30)

    def agent_says(self, conversation_id: str, text: str, agent: str = "Sam") -> httpx.Response:
        return self.deliver(self.event("message", conversation_id, agent=agent, text=text))

    def agent_types(self, conversation_id: str, agent: str = "Sam") -> httpx.Response:
        return self.deliver(self.event("typing", conversation_id, agent=agent, typing=True))

    def agent_closes(self, conversation_id: str) -> httpx.Response:
        return self.deliver(self.event("closed", conversation_id))
