"""A reference help desk speaking the generic webhook protocol.

Follows the GPTBots human-service protocol as summarised in
shared/reference/gptbots-webhook/NOTES.md: it serves `/conversation/establish`,
`/chat` and `/conversation/close` (checking each body's fields and types) and,
as the agent, calls the sidecar's `/v1/human/message/receive` and
`/v1/human/close` with a bearer key.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Optional

import httpx

from .http_recorder import Recorded, RecordingServer

_FIELDS = {
    "/conversation/establish": {"conversation_id": str, "timestamp": int, "email": str, "bot_id": str, "body": list, "user_info": dict},
    "/chat": {"conversation_id": str, "timestamp": int, "body": str},
    "/conversation/close": {"conversation_id": str, "timestamp": int, "type": str},
}


def protocol_errors(request: Recorded) -> list[str]:
    """What in a request the protocol does not allow (empty when it conforms)."""
    expected = _FIELDS.get(request.path)
    if expected is None:
        return [f"unknown path {request.path}"]
    if request.method != "POST" or "application/json" not in request.headers.get("content-type", ""):
        return ["must be a JSON POST"]
    payload = request.json()
    errors = [
        f"{name}: expected {kind.__name__}"
        for name, kind in expected.items()
        if not isinstance(payload.get(name), kind)
    ]
    if request.path == "/conversation/establish":
        for item in payload.get("body") or []:
            if item.get("message_type") not in ("QUESTION", "ANSWER") or not isinstance(item.get("text"), str):
                errors.append(f"body item {item!r} is not {{text, message_type QUESTION|ANSWER}}")
        if set(payload.get("user_info") or {}) - {"phone", "email", "user_id", "anonymous_id"}:
            errors.append("user_info has unknown fields")
    if request.path == "/conversation/close" and payload.get("type") not in ("TIMEOUT", "USER_CLOSED"):
        errors.append("type must be TIMEOUT or USER_CLOSED")
    return errors


class ReferenceDesk:
    def __init__(self, api_key: str, basic_auth: Optional[tuple[str, str]] = None) -> None:
        self.api_key = api_key
        self.basic_auth = basic_auth
        self.down = False
        self.server = RecordingServer(self._handle)
        self.sidecar_url: Optional[str] = None

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if self.down:
            return 503, {"code": 503, "message": "down"}
        if self.basic_auth is not None:
            expected = "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()
            if request.headers.get("authorization") != expected:
                return 401, {"code": 401, "message": "bad credentials"}
        errors = protocol_errors(request)
        if errors:
            return 400, {"code": 400, "message": "; ".join(errors)}
        return 200, {"code": 0, "message": "ok"}

    def __enter__(self) -> "ReferenceDesk":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    @property
    def url(self) -> str:
        return self.server.url

    def received(self, path: str) -> list[dict]:
        return [r.json() for r in self.server.matching(path) if not protocol_errors(r)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30.0) -> list[dict]:
        self.server.wait_for(lambda _: len(self.received(path)) >= count, timeout)
        return self.received(path)

    # -- the agent's side --------------------------------------------------------

    def reply(self, conversation_id: str, text: str, timestamp: Optional[int] = None, **extra: Any) -> httpx.Response:
        payload = {"conversation_id": conversation_id, "timestamp": timestamp or int(time.time() * 1000), "body": text, **extra}
        return self._post("/v1/human/message/receive", payload)

    def close(self, conversation_id: str) -> httpx.Response:
        return self._post("/v1/human/close", {"conversation_id": conversation_id, "timestamp": int(time.time() * 1000)})

    def _post(self, path: str, payload: dict) -> httpx.Response:
        assert self.sidecar_url, "set desk.sidecar_url first"
        return httpx.post(
            self.sidecar_url + path,
            json=payload,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
