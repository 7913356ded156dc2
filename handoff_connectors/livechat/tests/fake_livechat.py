"""A fake LiveChat for tests, held to the documented shapes of the v3.5 APIs.

The spec it follows: the Agent Chat Web API, Customer Chat Web API and
Webhooks reference pages, v3.5 (text.com's platform docs, kept under
../shared/reference/livechat/src/pages/), and the customer token's agent
token grant of the Customer Authorization page. There is no OpenAPI
description; each request is checked against those pages' tables:

- the endpoint: `POST /v3.5/agent/action/<action>`, `POST
  /v3.5/customer/action/<action>?organization_id=...` or `POST
  /v2/customer/token`, and the action is one the page lists;
- the headers: `Content-Type: application/json` (multipart for
  `upload_file`); the Agent API's `Authorization: Basic <account_id:PAT>`,
  with `X-Author-Id` only naming a bot agent; the Customer API's
  `Authorization: Bearer <customer token>` and the `organization_id` query;
- the body: each action's required parameters and their types, the event
  types and their own required fields (a message's `text`, a file's `url`
  from `upload_file`), `visibility` values, target types.

Anything off is kept in `violations` (the tests assert it empty) and answered
400 with LiveChat's error shape. Revoked credentials are answered 401
`authentication` (not a violation: the desk's answer to a caller it refuses).

Beyond the API the fake plays LiveChat's people: agents join, write, send
files, transfer and close chats; widget customers start chats routed to the
bot agent and write. Each is told to the sidecar as LiveChat does: a webhook
with the app's `secret_key`. The connector's own changes are echoed the same
way (a background thread delivers them, in order), as LiveChat would.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import httpx

from handoff_connectors.testing import Recorded, RecordingServer

AGENT_ACTIONS = {
    "list_chats", "list_threads", "get_chat", "list_archives", "start_chat", "resume_chat", "deactivate_chat",
    "follow_chat", "unfollow_chat", "transfer_chat", "add_user_to_chat", "remove_user_from_chat",
    "get_license_info", "send_event", "upload_file", "send_rich_message_postback", "update_chat_properties",
    "delete_chat_properties", "update_thread_properties", "delete_thread_properties", "update_event_properties",
    "delete_event_properties", "tag_thread", "untag_thread", "get_customer", "list_customers", "create_customer",
    "update_customer", "ban_customer", "set_routing_status", "list_routing_statuses", "mark_events_as_seen",
    "send_typing_indicator", "multicast", "list_agents_for_transfer",
}
CUSTOMER_ACTIONS = {
    "list_chats", "list_threads", "get_chat", "start_chat", "resume_chat", "deactivate_chat",
    "get_dynamic_configuration", "get_configuration", "send_event", "upload_file", "send_rich_message_postback",
    "send_sneak_peek", "get_localization", "update_chat_properties", "delete_chat_properties",
    "update_thread_properties", "delete_thread_properties", "update_event_properties", "delete_event_properties",
    "list_license_properties", "list_group_properties", "update_customer", "set_customer_session_fields",
    "get_customer", "list_group_statuses", "check_goals", "get_form", "get_predicted_agent", "get_url_info",
    "mark_events_as_seen", "accept_greeting", "cancel_greeting", "request_email_verification",
}
EVENT_TYPES = {"message", "file", "rich_message", "system_message", "custom", "filled_form", "form"}
FILE_HOST = "https://cdn.livechat-files.example"


@dataclass
class Agent:
    id: str
    name: str
    groups: list[int] = field(default_factory=lambda: [0])
    status: str = "accepting_chats"


@dataclass
class Customer:
    id: str
    name: Optional[str] = None
    email: Optional[str] = None


@dataclass
class Chat:
    id: str
    customer_id: str
    group: int
    thread_id: str
    active: bool = True
    agents: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


class Violation(Exception):
    pass


class FakeLiveChat:
    def __init__(self, organization_id: str, client_id: str, account_id: str, pat: str, secret: str,
                 agents: list[Agent], bot: Optional[Agent] = None) -> None:
        self.organization_id, self.client_id, self.account_id = organization_id, client_id, account_id
        self.pat, self.secret = pat, secret
        self.agents = {a.id: a for a in agents}
        self.bot = bot
        self.violations: list[str] = []
        self.customers: dict[str, Customer] = {}
        self.tokens: dict[str, str] = {}  # customer token -> customer id
        self.chats: dict[str, Chat] = {}
        self.uploads: dict[str, tuple[str, bytes]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # what the fake serves under /files/ (users' files)
        self.webhook_url: Optional[str] = None
        self.webhook_results: list[tuple[str, int]] = []
        self.revoked = False
        self._lock = threading.RLock()
        self._outbox: "queue.Queue[Optional[dict]]" = queue.Queue()
        self._pending = 0
        self._courier = threading.Thread(target=self._deliver_echoes, daemon=True)
        self.server = RecordingServer(self._handle)

    # -- running ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return self.server.url + "/v3.5"

    def __enter__(self) -> "FakeLiveChat":
        self.server.__enter__()
        self._courier.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._outbox.put(None)
        self._courier.join(timeout=5)
        self.server.__exit__(*exc)

    def revoke(self) -> None:
        """The Personal Access Token is revoked: every call with it is refused."""
        self.revoked = True

    def calls(self, action: str, side: str = "agent") -> list[Recorded]:
        return [r for r in self.server.requests if r.path == f"/v3.5/{side}/action/{action}"]

    def wait_for(self, find: Callable[[], Any], timeout: float = 20.0, what: str = "it") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = find()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every echoed webhook was delivered."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- the HTTP side ----------------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if request.method == "GET" and request.path.startswith("/files/"):
            found = self.files.get(request.path[len("/files/"):])
            return (200, found[0].decode("latin-1")) if found else (404, {"error": "no such file"})
        try:
            with self._lock:
                if request.method != "POST":
                    raise Violation(f"{request.method} {request.path}: LiveChat's Web APIs take POST only")
                if request.path == "/v2/customer/token":
                    return self._customer_token(request)
                side, _, action = request.path.removeprefix("/v3.5/").partition("/action/")
                if side == "agent" and action in AGENT_ACTIONS:
                    return self._agent(action, request)
                if side == "customer" and action in CUSTOMER_ACTIONS:
                    return self._customer(action, request)
                raise Violation(f"POST {request.path}: no such LiveChat v3.5 action")
        except Violation as violation:
            self.violations.append(str(violation))
            return 400, _error("validation", str(violation))

    def _json(self, request: Recorded, what: str) -> dict:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Violation(f"{what}: Content-Type must be application/json")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            raise Violation(f"{what}: the body is not JSON") from None
        if not isinstance(body, dict):
            raise Violation(f"{what}: the payload must be a JSON object")
        return body

    def _basic_ok(self, request: Recorded, what: str) -> bool:
        given = request.headers.get("authorization", "")
        if not given.startswith("Basic "):
            raise Violation(f"{what}: a Personal Access Token goes in the Basic scheme (account_id:token)")
        expected = base64.b64encode(f"{self.account_id}:{self.pat}".encode()).decode()
        return given == f"Basic {expected}" and not self.revoked

    def _customer_token(self, request: Recorded) -> tuple[int, Any]:
        what = "customer token (agent token grant)"
        body = self._json(request, what)
        for name, expected in (("grant_type", "agent_token"), ("response_type", "token")):
            if body.get(name) != expected:
                raise Violation(f"{what}: {name} must be {expected!r}")
        for name in ("client_id", "organization_id"):
            if not isinstance(body.get(name), str):
                raise Violation(f"{what}: {name} is required")
        if not self._basic_ok(request, what):
            return 401, {"error": "invalid_request", "error_description": "invalid token"}
        if body["client_id"] != self.client_id or body["organization_id"] != self.organization_id:
            return 400, {"error": "invalid_client", "error_description": "unknown client or organization"}
        customer_id = body.get("customer_id")
        if customer_id is None:
            customer_id = str(uuid.uuid4())
            self.customers[customer_id] = Customer(customer_id)
        elif customer_id not in self.customers:
            return 400, {"error": "invalid_request", "error_description": "customer not found"}
        token = f"dal:{uuid.uuid4().hex}"
        self.tokens[token] = customer_id
        return 200, {
            "access_token": token, "client_id": self.client_id, "entity_id": customer_id,
            "expires_in": 28800, "token_type": "Bearer", "organization_id": self.organization_id,
        }

    # -- Agent Chat API -------------------------------------------------------------------------

    def _agent(self, action: str, request: Recorded) -> tuple[int, Any]:
        what = f"agent {action}"
        body = self._json(request, what)
        author = request.headers.get("x-author-id")
        if author is not None and (self.bot is None or author != self.bot.id):
            raise Violation(f"{what}: X-Author-Id is valid only for bot agents ({author!r} is none)")
        if not self._basic_ok(request, what):
            return 401, _error("authentication", "Invalid access token")
        requester = author or self.account_id
        if action == "get_license_info":
            return 200, {"license_id": "104130623", "expires_at": "2030-01-01T00:00:00.000000Z",
                         "created_at": "2020-01-01T00:00:00.000000Z", "in_trial": False}
        if action == "list_routing_statuses":
            filters = body.get("filters", {})
            groups = filters.get("group_ids") if isinstance(filters, dict) else None
            if "filters" in body and not isinstance(filters, dict) or groups is not None and not isinstance(groups, list):
                raise Violation(f"{what}: filters must be an object, filters.group_ids an array")
            people = list(self.agents.values()) + ([self.bot] if self.bot else [])
            return 200, [{"agent_id": a.id, "status": a.status} for a in people
                         if groups is None or set(a.groups) & set(groups)]
        if action == "get_chat":
            chat = self._chat(_required(body, "chat_id", str, what))
            if chat is None:
                return 404, _error("not_found", "Chat not found")
            return 200, self.chat_structure(chat)
        if action == "send_event":
            chat = self._chat(_required(body, "chat_id", str, what))
            event = _checked_event(_required(body, "event", dict, what), what)
            if chat is None:
                return 404, _error("not_found", "Chat not found")
            if not chat.active:
                return 400, _error("chat_inactive", "Chat is inactive")
            if requester not in chat.agents and requester != self.account_id:
                return 400, _error("validation", "Requester is not a chat user")
            return 200, {"event_id": self._add_event(chat, event, requester)}
        if action == "transfer_chat":
            chat = self._chat(_required(body, "id", str, what))
            target = body.get("target")
            if target is not None:
                if not isinstance(target, dict) or target.get("type") not in ("group", "agent") or not isinstance(target.get("ids"), list):
                    raise Violation(f"{what}: target needs type (group or agent) and ids (an array)")
            for flag in ("ignore_agents_availability", "ignore_requester_presence"):
                if flag in body and not isinstance(body[flag], bool):
                    raise Violation(f"{what}: {flag} must be a bool")
            if chat is None:
                return 404, _error("not_found", "Chat not found")
            if not chat.active:
                return 400, _error("chat_inactive", "Chat is inactive")
            if target and target["type"] == "group":
                # The page does not say the requester leaves: the fake keeps it in the chat
                # until an agent of the group takes it (doc.md names this as unconfirmed).
                chat.group = int(target["ids"][0])
            self._echo("chat_transferred", {"chat_id": chat.id, "thread_id": chat.thread_id, "requester_id": requester,
                                            "reason": "manual", "transferred_to": {"group_ids": [chat.group]}})
            return 200, {}
        if action == "deactivate_chat":
            chat = self._chat(_required(body, "id", str, what))
            if "ignore_requester_presence" in body and not isinstance(body["ignore_requester_presence"], bool):
                raise Violation(f"{what}: ignore_requester_presence must be a bool")
            if chat is None:
                return 404, _error("not_found", "Chat not found")
            if not chat.active:
                return 400, _error("chat_inactive", "Chat is inactive")
            self._deactivate(chat, requester)
            return 200, {}
        raise Violation(f"{what}: the connector has no business calling it")

    # -- Customer Chat API --------------------------------------------------------------------------

    def _customer(self, action: str, request: Recorded) -> tuple[int, Any]:
        what = f"customer {action}"
        if parse_qs(request.query).get("organization_id") != [self.organization_id]:
            raise Violation(f"{what}: the organization_id query parameter is required (this organization's)")
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer "):
            raise Violation(f"{what}: the customer access token goes as Bearer")
        customer_id = self.tokens.get(given[len("Bearer "):])
        if action == "upload_file":
            return self._upload(request, what, customer_id)
        body = self._json(request, what)
        if customer_id is None or self.revoked:
            return 401, _error("authentication", "Invalid access token")
        customer = self.customers[customer_id]
        if action == "update_customer":
            fields = {k: body[k] for k in ("name", "email", "avatar", "session_fields") if k in body}
            if not fields:
                raise Violation(f"{what}: at least one of name, email, avatar, session_fields is required")
            for name in ("name", "email", "avatar"):
                if name in fields and not isinstance(fields[name], str):
                    raise Violation(f"{what}: {name} must be a string")
            customer.name = fields.get("name", customer.name)
            customer.email = fields.get("email", customer.email)
            return 200, {}
        if action == "start_chat":
            chat_spec = body.get("chat", {})
            if not isinstance(chat_spec, dict):
                raise Violation(f"{what}: chat must be an object")
            access = chat_spec.get("access", {})
            groups = access.get("group_ids", [0]) if isinstance(access, dict) else None
            if not isinstance(groups, list) or not all(isinstance(g, int) for g in groups):
                raise Violation(f"{what}: chat.access.group_ids must be an array of group ids")
            thread = chat_spec.get("thread", {})
            events = thread.get("events", []) if isinstance(thread, dict) else None
            if not isinstance(events, list):
                raise Violation(f"{what}: chat.thread.events must be an array")
            checked = [_checked_event(e, what, customer=True) for e in events]
            chat = Chat(id=_id(), customer_id=customer_id, group=groups[0] if groups else 0, thread_id=_id())
            self.chats[chat.id] = chat
            ids = [self._add_event(chat, e, customer_id, echo=False) for e in checked]
            self._echo("incoming_chat", {"chat": self.chat_structure(chat)})
            return 200, {"chat_id": chat.id, "thread_id": chat.thread_id, "event_ids": ids}
        if action == "send_event":
            chat = self._chat(_required(body, "chat_id", str, what))
            event = _checked_event(_required(body, "event", dict, what), what, customer=True)
            if chat is None or chat.customer_id != customer_id:
                return 404, _error("not_found", "Chat not found")
            if not chat.active:
                return 400, _error("chat_inactive", "Chat is inactive")
            if event["type"] == "file" and event["url"] not in self.uploads:
                raise Violation(f"{what}: a file event's url must come from upload_file")
            return 200, {"event_id": self._add_event(chat, event, customer_id)}
        if action == "deactivate_chat":
            chat = self._chat(_required(body, "id", str, what))
            if chat is None or chat.customer_id != customer_id:
                return 404, _error("not_found", "Chat not found")
            if not chat.active:
                return 400, _error("chat_inactive", "Chat is inactive")
            self._deactivate(chat, customer_id)
            return 200, {}
        raise Violation(f"{what}: the connector has no business calling it")

    def _upload(self, request: Recorded, what: str, customer_id: Optional[str]) -> tuple[int, Any]:
        kind = request.headers.get("content-type", "")
        if not kind.startswith("multipart/form-data; boundary="):
            raise Violation(f"{what}: Content-Type must be multipart/form-data with a boundary")
        message = email.message_from_bytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + request.body, policy=email.policy.HTTP
        )
        parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"] if message.is_multipart() else []
        if not parts or not parts[0].get_filename():
            raise Violation(f"{what}: the file part is required")
        if customer_id is None or self.revoked:
            return 401, _error("authentication", "Invalid access token")
        filename = parts[0].get_filename()
        content = parts[0].get_payload(decode=True) or b""
        if len(content) > 10 * 1024 * 1024:
            return 413, _error("entity_too_large", "File too large")
        url = f"{FILE_HOST}/api/file/lc/att/{uuid.uuid4().hex}/{filename}"
        self.uploads[url] = (filename, content)
        return 200, {"url": url}

    # -- state --------------------------------------------------------------------------------------

    def _chat(self, chat_id: str) -> Optional[Chat]:
        return self.chats.get(chat_id)

    def _add_event(self, chat: Chat, event: dict, author: str, echo: bool = True) -> str:
        stored = {**event, "id": f"{chat.thread_id}_{len(chat.events) + 1}", "author_id": author,
                  "created_at": _now(), "visibility": event.get("visibility", "all")}
        if stored["type"] == "file":
            name = stored["url"].rsplit("/", 1)[-1]
            stored.update(name=name, content_type="application/octet-stream")
        chat.events.append(stored)
        if echo:
            self._echo("incoming_event", {"chat_id": chat.id, "thread_id": chat.thread_id, "event": stored})
        return stored["id"]

    def _deactivate(self, chat: Chat, by: Optional[str]) -> None:
        chat.active = False
        payload = {"chat_id": chat.id, "thread_id": chat.thread_id}
        if by:
            payload["user_id"] = by
        self._echo("chat_deactivated", payload)

    def chat_structure(self, chat: Chat) -> dict:
        customer = self.customers[chat.customer_id]
        users = [{"id": customer.id, "type": "customer", "name": customer.name or "", "email": customer.email or "", "present": True}]
        for agent_id in chat.agents:
            person = self.agents.get(agent_id) or self.bot
            users.append({"id": agent_id, "type": "agent", "name": person.name if person else agent_id, "present": True})
        return {"id": chat.id, "users": users, "access": {"group_ids": [chat.group]},
                "thread": {"id": chat.thread_id, "active": chat.active, "events": list(chat.events),
                           "access": {"group_ids": [chat.group]}}}

    def events(self, chat_id: str, author: Optional[str] = None, kind: Optional[str] = None) -> list[dict]:
        with self._lock:
            return [e for e in self.chats[chat_id].events
                    if (author is None or e["author_id"] == author) and (kind is None or e["type"] == kind)]

    def chat_of_customer_email(self, email: str) -> Optional[Chat]:
        with self._lock:
            for chat in self.chats.values():
                if self.customers[chat.customer_id].email == email:
                    return chat
        return None

    # -- the people ---------------------------------------------------------------------------------

    def webhook(self, action: str, payload: dict, secret: Optional[str] = None, organization_id: Optional[str] = None) -> dict:
        return {"webhook_id": uuid.uuid4().hex, "secret_key": self.secret if secret is None else secret, "action": action,
                "organization_id": organization_id or self.organization_id, "payload": payload, "additional_data": {}}

    def deliver(self, body: dict) -> httpx.Response:
        assert self.webhook_url, "set webhook_url to the sidecar's webhook"
        response = httpx.post(self.webhook_url, json=body, timeout=30)
        self.webhook_results.append((body["action"], response.status_code))
        return response

    def _echo(self, action: str, payload: dict) -> None:
        if self.webhook_url:
            self._pending += 1
            self._outbox.put(self.webhook(action, json.loads(json.dumps(payload))))

    def _deliver_echoes(self) -> None:
        while True:
            body = self._outbox.get()
            if body is None:
                return
            try:
                self.deliver(body)
            except httpx.HTTPError:
                self.webhook_results.append((body["action"], 0))
            finally:
                self._pending -= 1

    def agent_joins(self, chat_id: str, agent: Agent, send: bool = True) -> dict:
        with self._lock:
            chat = self.chats[chat_id]
            chat.agents = [a for a in chat.agents if self.bot is None or a != self.bot.id] + [agent.id]
            body = self.webhook("user_added_to_chat", {"chat_id": chat_id, "thread_id": chat.thread_id, "reason": "manual",
                                                       "user": {"id": agent.id, "type": "agent", "name": agent.name, "present": True}})
        return self._send(body, send)

    def agent_says(self, chat_id: str, agent: Agent, text: str = "", file: Optional[tuple[str, str]] = None, send: bool = True) -> dict:
        """An agent's message, or a file (name, content type) they send: an incoming_event webhook."""
        with self._lock:
            chat = self.chats[chat_id]
            event: dict[str, Any] = {"type": "message", "text": text}
            if file:
                name, kind = file
                event = {"type": "file", "url": f"{FILE_HOST}/api/file/lc/att/{uuid.uuid4().hex}/{name}", "name": name, "content_type": kind}
            stored = {**event, "id": f"{chat.thread_id}_{len(chat.events) + 1}", "author_id": agent.id,
                      "created_at": _now(), "visibility": "all"}
            chat.events.append(stored)
            body = self.webhook("incoming_event", {"chat_id": chat_id, "thread_id": chat.thread_id, "event": stored})
        return self._send(body, send)

    def agent_closes(self, chat_id: str, agent: Agent) -> dict:
        with self._lock:
            chat = self.chats[chat_id]
            chat.active = False
            body = self.webhook("chat_deactivated", {"chat_id": chat_id, "thread_id": chat.thread_id, "user_id": agent.id})
        return self._send(body, True)

    def agent_gives_back(self, chat_id: str, agent: Agent) -> dict:
        """The agent transfers the chat back to the bot agent."""
        assert self.bot is not None
        with self._lock:
            chat = self.chats[chat_id]
            chat.agents = [self.bot.id]
            body = self.webhook("chat_transferred", {"chat_id": chat_id, "thread_id": chat.thread_id, "requester_id": agent.id,
                                                     "reason": "manual", "transferred_to": {"agent_ids": [self.bot.id]}})
        return self._send(body, True)

    def customer_starts(self, name: str, email: str, text: str, group: int = 0) -> str:
        """A widget customer starts a chat; LiveChat's routing gives it to the bot agent (incoming_chat)."""
        assert self.bot is not None
        with self._lock:
            customer = Customer(str(uuid.uuid4()), name, email)
            self.customers[customer.id] = customer
            chat = Chat(id=_id(), customer_id=customer.id, group=group, thread_id=_id(), agents=[self.bot.id])
            self.chats[chat.id] = chat
            chat.events.append({"id": f"{chat.thread_id}_1", "type": "message", "text": text, "author_id": customer.id,
                                "created_at": _now(), "visibility": "all"})
            body = self.webhook("incoming_chat", {"chat": self.chat_structure(chat)})
        self._send(body, True)
        return chat.id

    def customer_says(self, chat_id: str, text: str) -> dict:
        """A widget customer writes; after a close LiveChat starts a new thread, routed to the bot again."""
        with self._lock:
            chat = self.chats[chat_id]
            if not chat.active:
                chat.active, chat.thread_id, chat.agents = True, _id(), [self.bot.id] if self.bot else []
            stored = {"id": f"{chat.thread_id}_{len(chat.events) + 1}", "type": "message", "text": text,
                      "author_id": chat.customer_id, "created_at": _now(), "visibility": "all"}
            chat.events.append(stored)
            body = self.webhook("incoming_event", {"chat_id": chat_id, "thread_id": chat.thread_id, "event": stored})
        return self._send(body, True)

    def _send(self, body: dict, send: bool) -> dict:
        """Deliver the webhook now (after the echoes before it), when a sidecar listens."""
        if send and self.webhook_url:
            self.drain()
            self.deliver(body)
        return body


def _checked_event(event: Any, what: str, customer: bool = False) -> dict:
    if not isinstance(event, dict):
        raise Violation(f"{what}: an event must be an object")
    kind = event.get("type")
    if kind not in EVENT_TYPES or kind == "form":
        raise Violation(f"{what}: event.type {kind!r} is not an event type the API takes")
    if kind == "message" and not (isinstance(event.get("text"), str) and event["text"]):
        raise Violation(f"{what}: a message event needs its text")
    if kind == "file" and not isinstance(event.get("url"), str):
        raise Violation(f"{what}: a file event needs the url upload_file gave")
    if kind == "rich_message":
        elements = event.get("elements")
        if not isinstance(event.get("template_id"), str) or not isinstance(elements, list):
            raise Violation(f"{what}: a rich message needs template_id and elements")
        for element in elements:
            for button in element.get("buttons") or []:
                if not isinstance(button.get("text"), str) or not isinstance(button.get("postback_id"), str):
                    raise Violation(f"{what}: a rich message button needs text and postback_id")
    if "visibility" in event and event["visibility"] not in ("all", "agents"):
        raise Violation(f"{what}: visibility is all or agents")
    if customer and event.get("visibility") == "agents":
        raise Violation(f"{what}: a customer's events are visible to all")
    if "custom_id" in event and not isinstance(event["custom_id"], str):
        raise Violation(f"{what}: custom_id must be a string")
    return event


def _required(body: dict, name: str, kind: type, what: str) -> Any:
    if not isinstance(body.get(name), kind):
        raise Violation(f"{what}: {name} is required ({kind.__name__})")
    return body[name]


def _error(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def _id() -> str:
    return uuid.uuid4().hex[:10].upper()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
