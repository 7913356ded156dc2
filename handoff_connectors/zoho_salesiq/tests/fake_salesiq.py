"""A fake Zoho SalesIQ for tests: the accounts token endpoint and the REST API v2 calls the connector uses.

SalesIQ publishes no OpenAPI description. The fake holds every request to
the documented shapes gathered in ../shared/reference/zoho-salesiq/NOTES.md
and the Zoho pages they cite (REST API v2: server URIs, `{screenname}`,
the response envelope; Create Conversation (visitor v2); Send Message;
Transfer chat; Zoho OAuth 2.0 refresh):

- `POST /oauth/v2/token` (accounts): a form body with `grant_type=refresh_token`,
  `client_id`, `client_secret`, `refresh_token`; no secret in the URL. A wrong
  client gives `{"error": "invalid_client"}`, a wrong or revoked refresh token
  `{"error": "invalid_code"}`, both with HTTP 200 as Zoho does.
- every API call: a path under `/api/v2/{screenname}/` or
  `/visitor/v2/{screenname}/` with this portal's screen name,
  `Authorization: Zoho-oauthtoken <a live access token>` (else 401), a JSON
  body with its Content-Type, only the documented fields, the required
  ones present and of the right type, the app and department known.
- answers use SalesIQ's envelope `{"url", "object", "data"}`; its errors come
  as `{"error": {"code", "message"}}` with HTTP 200 (an unknown conversation).

Anything off is kept in `violations`, which the tests assert empty. The fake
also plays the people: operators pick chats up, reply (with files), transfer
and end them; website visitors chat with the Zobot. Each is told to the
sidecar as SalesIQ does: a data webhook or a Zobot webhook call, signed with
the fake's own RSA key pair (SHA256withRSA, base64, in `x-siqsignature`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from handoff_connectors.testing import Recorded, RecordingServer

VISITOR_FIELDS = {
    "user_id", "name", "email", "phone", "cvuid", "platform", "current_page", "page_title", "country_code",
    "local_time_zone", "cookie_enabled", "java_enabled", "screen", "color_code", "flash_version", "js_version", "referrer",
}
CREATE_FIELDS = {"visitor", "app_id", "department_id", "question", "customer_info", "custom_wait_time"}
_KEY_CACHE: dict[str, Any] = {}


def key_pair() -> Any:
    """One RSA key for the session (generating one takes a moment)."""
    if "key" not in _KEY_CACHE:
        _KEY_CACHE["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY_CACHE["key"]


def public_key_text(private_key: Any) -> str:
    """The public key as SalesIQ shows it: base64 of the DER SubjectPublicKeyInfo."""
    der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sign(private_key: Any, body: bytes) -> str:
    return base64.b64encode(private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass
class Operator:
    id: str
    name: str
    email: str


@dataclass
class Conversation:
    id: str
    visitor: dict
    department_id: str
    question: str
    customer_info: dict = field(default_factory=dict)
    # {"by": "visitor" | "operator" | "api", "text", "sender"?, "attachments"?}
    messages: list[dict] = field(default_factory=list)
    zobot: bool = False
    transfers: list[dict] = field(default_factory=list)
    status: str = "waiting"
    # A Zobot chat: whether the bot has it (until it is forwarded, and again once the operator ended it).
    bot_has_it: bool = False


class FakeSalesIQ:
    def __init__(
        self,
        screen_name: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        app_id: str,
        departments: dict[str, str],
    ) -> None:
        self.screen_name = screen_name
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.app_id = app_id
        self.departments = departments  # name -> id
        self.private_key = key_pair()
        self.public_key = public_key_text(self.private_key)
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.revoked = False
        self.conversations: dict[str, Conversation] = {}
        self.violations: list[str] = []
        self.webhook_url: Optional[str] = None
        self.zobot_url: Optional[str] = None
        self.webhook_results: list[tuple[str, int]] = []
        self.failures: list[list] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        # Ids unique across fakes too, as SalesIQ's are across a portal's life (one Rasa serves every test).
        self._next = 4_000_000_000_000 + uuid.uuid4().int % 10**12 * 1000
        self.server = RecordingServer(self._handle)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def __enter__(self) -> "FakeSalesIQ":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1) -> None:
        with self._lock:
            self.failures.append([method, re.compile(path_pattern), status, times])

    def revoke(self) -> None:
        """The refresh token is revoked (Zoho accounts > Connected apps): no new access token, the old ones die."""
        with self._lock:
            self.revoked = True
            self.tokens.clear()

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (its hour is up)."""
        with self._lock:
            self.tokens.clear()

    def _new_id(self) -> str:
        self._next += 1
        return str(self._next)

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    # -- the HTTP side -------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if request.path == "/oauth/v2/token":
            return self._token(request)
        match = re.fullmatch(r"/(api|visitor)/v2/([^/]+)(/.*)", request.path)
        if not match:
            self._violation(f"{request.method} {request.path}: not a SalesIQ v2 path")
            return 404, self._error(404, "Invalid URL")
        side, screen, rest = match.groups()
        if screen != self.screen_name:
            self._violation(f"{request.method} {request.path}: screen name {screen!r}, expected {self.screen_name!r}")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Zoho-oauthtoken "):
            self._violation(f"{request.method} {request.path}: Authorization is not 'Zoho-oauthtoken <token>'")
        with self._lock:
            token = auth[len("Zoho-oauthtoken "):]
            if self.tokens.get(token, 0) < time.time():
                return 401, self._error(1008, "Invalid OAuth token")
            for failure in self.failures:
                if failure[0] == request.method and failure[1].search(request.path) and failure[3] > 0:
                    failure[3] -= 1
                    return failure[2], self._error(failure[2], "Injected failure")
        body = None
        if request.body:
            if "application/json" not in request.headers.get("content-type", ""):
                self._violation(f"{request.method} {request.path}: a body without Content-Type: application/json")
            try:
                body = json.loads(request.body)
            except ValueError:
                self._violation(f"{request.method} {request.path}: the body is not JSON")
                return 200, self._error(1000, "Invalid JSON")
        handlers: list[tuple[str, str, str, Callable]] = [
            ("GET", "api", r"/departments", self._departments),
            ("POST", "visitor", r"/conversations", self._create_conversation),
            ("POST", "visitor", r"/conversations/([^/]+)/messages", self._visitor_message),
            ("POST", "api", r"/conversations/([^/]+)/messages", self._operator_message),
            ("PUT", "api", r"/conversations/([^/]+)/transfer", self._transfer),
        ]
        for method, handled_side, pattern, handler in handlers:
            found = re.fullmatch(pattern, rest)
            if found and method == request.method and side == handled_side:
                with self._changed:
                    answer = handler(request.path, body, *found.groups())
                    self._changed.notify_all()
                return answer
        self._violation(f"{request.method} {request.path}: not an operation the fake knows of SalesIQ's API")
        return 404, self._error(404, "Invalid URL")

    def _error(self, code: Any, message: str) -> dict:
        return {"error": {"code": code, "message": message}}

    def _token(self, request: Recorded) -> tuple[int, Any]:
        with self._lock:
            self.token_requests += 1
        query = parse_qs(request.query)
        if request.method != "POST":
            self._violation(f"{request.method} /oauth/v2/token: must be POST")
        if {"client_secret", "refresh_token"} & set(query):
            self._violation("POST /oauth/v2/token: a secret in the URL")
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            self._violation("POST /oauth/v2/token: not a form body")
        form = {key: values[-1] for key, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            self._violation(f"POST /oauth/v2/token: grant_type {form.get('grant_type')!r}")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 200, {"error": "invalid_client"}
        with self._lock:
            if self.revoked or form.get("refresh_token") != self.refresh_token:
                return 200, {"error": "invalid_code"}
            token = f"1000.{uuid.uuid4().hex}.{uuid.uuid4().hex}"
            self.tokens[token] = time.time() + 3600
        return 200, {"access_token": token, "api_domain": "https://www.zohoapis.com", "token_type": "Bearer", "expires_in": 3600}

    def _envelope(self, path: str, kind: str, data: Any) -> tuple[int, Any]:
        return 200, {"url": path, "object": kind, "data": data}

    def _departments(self, path: str, body: Any) -> tuple[int, Any]:
        return self._envelope(path, "list", [{"id": known, "name": name, "status": "active"} for name, known in self.departments.items()])

    def _create_conversation(self, path: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            self._violation("Create Conversation: no JSON object")
            return 200, self._error(1001, "Invalid input")
        for key in set(body) - CREATE_FIELDS:
            self._violation(f"Create Conversation: undocumented field {key!r}")
        for key in ("visitor", "app_id", "department_id", "question"):
            if body.get(key) in (None, ""):
                self._violation(f"Create Conversation: {key} is required")
        visitor = body.get("visitor") if isinstance(body.get("visitor"), dict) else {}
        if not isinstance(visitor.get("user_id"), str) or not visitor["user_id"]:
            self._violation("Create Conversation: visitor.user_id is required")
        for key in set(visitor) - VISITOR_FIELDS:
            self._violation(f"Create Conversation: undocumented visitor field {key!r}")
        for key, value in visitor.items():
            if not isinstance(value, str):
                self._violation(f"Create Conversation: visitor.{key} is not a string")
        if body.get("app_id") != self.app_id:
            self._violation(f"Create Conversation: unknown app_id {body.get('app_id')!r}")
        if body.get("department_id") not in self.departments.values():
            self._violation(f"Create Conversation: unknown department_id {body.get('department_id')!r}")
        if not isinstance(body.get("question"), str):
            self._violation("Create Conversation: question is not a string")
        info = body.get("customer_info", {})
        if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
            self._violation("Create Conversation: customer_info is not a map of strings")
        wait = body.get("custom_wait_time")
        if wait is not None and (not isinstance(wait, int) or not 0 < wait <= 999):
            self._violation("Create Conversation: custom_wait_time must be 1..999")
        conversation = Conversation(
            id=self._new_id(), visitor=dict(visitor), department_id=str(body.get("department_id")),
            question=str(body.get("question")), customer_info=dict(info) if isinstance(info, dict) else {},
        )
        conversation.messages.append({"by": "visitor", "text": conversation.question})
        self.conversations[conversation.id] = conversation
        return self._envelope(path, "conversation", {
            "id": conversation.id, "visitor_conversation_id": conversation.id[-6:], "department_id": conversation.department_id,
            "question": conversation.question, "status": conversation.status, "app_id": self.app_id,
        })

    def _message_body(self, what: str, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or set(body) != {"text"}:
            self._violation(f"{what}: the body must be {{\"text\": ...}}, got {sorted(body) if isinstance(body, dict) else body!r}")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            self._violation(f"{what}: text must be a non-empty string")
            return None
        return text

    def _visitor_message(self, path: str, body: Any, conversation_id: str) -> tuple[int, Any]:
        text = self._message_body("visitor Send Message", body)
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 200, self._error(1016, "Invalid conversation id")
        conversation.messages.append({"by": "visitor", "text": text})
        return self._envelope(path, "message", {"id": self._new_id(), "text": text, "sender": {"type": "visitor"}})

    def _operator_message(self, path: str, body: Any, conversation_id: str) -> tuple[int, Any]:
        text = self._message_body("Send Message (operator)", body)
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 200, self._error(1016, "Invalid conversation id")
        conversation.messages.append({"by": "api", "text": text})
        return self._envelope(path, "message", {"id": self._new_id(), "text": text, "sender": {"type": "operator"}})

    def _transfer(self, path: str, body: Any, conversation_id: str) -> tuple[int, Any]:
        if not isinstance(body, dict):
            self._violation("Transfer chat: no JSON object")
            body = {}
        for key in set(body) - {"department_id", "operator_id", "note"}:
            self._violation(f"Transfer chat: undocumented field {key!r}")
        if body.get("department_id") not in self.departments.values():
            self._violation(f"Transfer chat: department_id {body.get('department_id')!r} is required and must be known")
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 200, self._error(1016, "Invalid conversation id")
        conversation.transfers.append(dict(body))
        conversation.bot_has_it = False
        conversation.department_id = str(body.get("department_id"))
        return self._envelope(path, "conversation", {"id": conversation.id, "department_id": conversation.department_id})

    # -- webhooks -------------------------------------------------------------------

    def envelope(self, event: str, conversation: Conversation, **entity: Any) -> dict:
        shaped = {
            "id": conversation.id,
            "visitor_conversation_id": conversation.id[-6:],
            "app_id": self.app_id,
            "department_id": conversation.department_id,
            "question": conversation.question,
            "visitor": {"id": conversation.visitor.get("user_id"), "name": conversation.visitor.get("name"), "email_id": conversation.visitor.get("email")},
            "status": conversation.status,
            **entity,
        }
        return {
            "entity_type": "conversation", "org_id": "70000001", "event": event, "entity_id": conversation.id,
            "attempt": 1, "version": "1", "app_id": self.app_id, "entity": shaped,
        }

    def deliver(self, url: Optional[str], payload: dict, signature: Optional[str] = None, key: Any = None) -> httpx.Response:
        assert url, "the fake does not know the sidecar's URL"
        raw = json.dumps(payload).encode()
        header = signature if signature is not None else sign(key or self.private_key, raw)
        headers = {"Content-Type": "application/json", "User-Agent": "SalesIQ-Webhook-Fake"}
        if header:
            headers["x-siqsignature"] = header
        response = httpx.post(url, content=raw, headers=headers, timeout=30)
        with self._changed:
            self.webhook_results.append((payload.get("event") or payload.get("handler"), response.status_code))
        return response

    def _operator_json(self, operator: Operator) -> dict:
        return {"id": operator.id, "name": operator.name, "email_id": operator.email}

    def _tell(self, payload: dict, send: bool) -> dict:
        if send:
            self.deliver(self.webhook_url, payload)
        return payload

    # -- the people -----------------------------------------------------------------

    def operator_picks(self, conversation_id: str, operator: Operator, send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.status = "connected"
            payload = self.envelope("conversation.attender.updated", conversation, attender=self._operator_json(operator),
                                    attended_time=str(int(time.time() * 1000)))
        return self._tell(payload, send)

    def operator_says(self, conversation_id: str, operator: Operator, text: str, attachments: list[dict] = (), send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            message = {"id": self._new_id(), "text": text, "sender": self._operator_json(operator), "time": str(int(time.time() * 1000))}
            if attachments:
                message["attachments"] = list(attachments)
            conversation.messages.append({"by": "operator", "text": text, "sender": operator.name, "attachments": list(attachments)})
            payload = self.envelope("conversation.operator.replied", conversation, owner=self._operator_json(operator), message=message)
        return self._tell(payload, send)

    def operator_transfers(self, conversation_id: str, to: Operator, send: bool = True) -> dict:
        with self._lock:
            payload = self.envelope("conversation.transfer.accepted", self.conversations[conversation_id],
                                    owner=self._operator_json(to), attended_time=str(int(time.time() * 1000)))
        return self._tell(payload, send)

    def operator_ends(self, conversation_id: str, send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.status = "Closed"
            # The visitor's next words in the widget are the Zobot's again (a new chat, in SalesIQ).
            conversation.bot_has_it = conversation.zobot
            payload = self.envelope("conversation.completed", conversation, end_time=str(int(time.time() * 1000)))
        return self._tell(payload, send)

    def visitor_opens_chat(self, name: str, email: str) -> str:
        """A website visitor opens the SalesIQ widget; the Zobot has the chat."""
        with self._lock:
            conversation = Conversation(
                id=self._new_id(), visitor={"user_id": f"v{uuid.uuid4().hex[:12]}", "name": name, "email": email},
                department_id=next(iter(self.departments.values())), question="", zobot=True, status="bot", bot_has_it=True,
            )
            self.conversations[conversation.id] = conversation
        return conversation.id

    def zobot_call(self, conversation_id: str, text: str, attachments: list[dict] = ()) -> dict:
        conversation = self.conversations[conversation_id]
        first = not any(m["by"] == "visitor" for m in conversation.messages)
        return {
            "handler": "message",
            "operation": "chat" if first else "message",
            "org_id": "70000001",
            "visitor": {
                "id": conversation.visitor["user_id"], "name": conversation.visitor["name"],
                "email": conversation.visitor["email"], "active_conversation_id": conversation.id,
                "channel": "Website", "language": "en",
            },
            "message": {"text": text},
            "attachments": list(attachments),
            "request": {"id": self._new_id()},
        }

    def visitor_writes(self, conversation_id: str, text: str, attachments: list[dict] = (), to_zobot: Optional[bool] = None) -> dict:
        """The visitor writes in the widget: to the Zobot while the bot has the chat (else the operator just reads it).

        `to_zobot=True` calls the Zobot even after the forward, to show the bot would stay quiet anyway.
        """
        with self._lock:
            conversation = self.conversations[conversation_id]
            payload = self.zobot_call(conversation_id, text, attachments)
            conversation.messages.append({"by": "visitor", "text": text, "attachments": list(attachments)})
            to_bot = conversation.bot_has_it if to_zobot is None else to_zobot
            self._changed.notify_all()
        if to_bot:
            response = self.deliver(self.zobot_url, payload)
            assert response.status_code == 200 and response.json() == {"action": "reply", "replies": []}, response.text
        return payload

    # -- looking -----------------------------------------------------------------------

    def said(self, conversation_id: str, by: str) -> list[str]:
        with self._lock:
            conversation = self.conversations.get(conversation_id)
            return [m["text"] for m in conversation.messages if m["by"] == by] if conversation else []

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out waiting for {what}; requests so far: {[(r.method, r.path) for r in self.server.requests][-15:]}"
                    )
                self._changed.wait(min(remaining, 0.1))
            return result
