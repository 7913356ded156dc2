"""A fake Intercom for tests, held to Intercom's own API description.

The spec it follows: `api.intercom.io.yaml`, the OpenAPI 3.0.1 description of
the Intercom REST API version 2.14 (intercom/Intercom-OpenAPI,
descriptions/2.14), read at run time from ../shared/reference/intercom/ next
to the repository. Nothing of it is copied here; tests that need it are
skipped, saying why, when the file is absent.

Every request the connector sends is checked: the operation (method and
path template) exists in the spec, `Intercom-Version` is a version the spec
knows and is 2.14, the bearer token is the workspace's (else 401 with
Intercom's error.list), and the JSON body validates against the operation's
requestBody schema with every `$ref` resolved (jsonschema, Draft 4 rules, as
OpenAPI 3.0 uses, with `nullable` honoured). Answers start from the spec's
own response examples, carry the fake workspace's state, and are validated
against the operation's response schema too. Anything off is recorded in
`violations`, which the tests assert to be empty.

Beyond the API, the fake plays the people in the workspace: agents reply,
assign, snooze and close; Messenger users start conversations and reply. Each
of these, and each change the connector makes, is told to the sidecar the way
Intercom does: a signed webhook notification (`X-Hub-Signature: sha1=...`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

import httpx

from handoff_connectors.testing.openapi import OpenApiSpec, load_openapi, shared_reference

SPEC_PATH = shared_reference("intercom", "api.intercom.io.yaml")
API_VERSION = "2.14"


def load_spec() -> OpenApiSpec:
    """The Intercom 2.14 description, or a skipped test saying what is missing."""
    return load_openapi(SPEC_PATH, "Intercom")


def intercom_versions(spec: OpenApiSpec) -> list[str]:
    """The `Intercom-Version` values the description knows."""
    return spec.schema("intercom_version")["enum"]


# ======================================================================
# The workspace
# ======================================================================


def _now() -> int:
    return int(time.time())


def _uploads(reply: dict) -> list[dict]:
    """The attachments of a reply's `attachment_urls`, as Intercom lists them on the part (images)."""
    return [
        {"type": "upload", "name": url.rsplit("/", 1)[-1], "url": url, "content_type": "image/png"}
        for url in reply.get("attachment_urls") or []
    ]


def sign(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@dataclass
class Admin:
    id: str
    name: str
    email: str
    away: bool = False
    team_ids: list[int] = field(default_factory=list)
    has_inbox_seat: bool = True


@dataclass
class Contact:
    id: str
    role: str
    email: Optional[str]
    name: Optional[str] = None


@dataclass
class Conversation:
    id: str
    contact_id: str
    source_body: str
    source_author: dict
    delivered_as: str
    created_at: int
    parts: list[dict] = field(default_factory=list)
    state: str = "open"
    admin_assignee_id: Optional[str] = None
    team_assignee_id: Optional[str] = None
    snoozed_until: Optional[int] = None


@dataclass
class Call:
    method: str
    path: str
    template: Optional[str]
    headers: dict[str, str]
    body: Any
    status: int = 0


class FakeIntercom:
    """A threaded HTTP server answering Intercom's REST API for one fake workspace."""

    def __init__(self, token: str, client_secret: str, bot_admin: Admin, admins: list[Admin] = (), teams: Optional[dict[str, str]] = None) -> None:
        self.spec = load_spec()
        self.token = token
        self.client_secret = client_secret
        self.bot = bot_admin
        self.admins: dict[str, Admin] = {a.id: a for a in [bot_admin, *admins]}
        self.teams = teams or {}
        self.contacts: dict[str, Contact] = {}
        self.conversations: dict[str, Conversation] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.notifications: list[dict] = []
        self.webhook_results: list[tuple[str, int]] = []
        self.webhook_url: Optional[str] = None
        # (method, path regex, status, times left): answer with an error instead.
        self.failures: list[list] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._next_id = 1000
        self._outbox: "queue.Queue[Optional[dict]]" = queue.Queue()
        self._sender = threading.Thread(target=self._send_queued, daemon=True)
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = fake._handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeIntercom":
        self._thread.start()
        self._sender.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._outbox.put(None)
        self._sender.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1) -> None:
        with self._lock:
            self.failures.append([method, re.compile(path_pattern), status, times])

    # -- the HTTP side -------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        path = target.split("?", 1)[0]
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._violation(f"{method} {path}: the body is not JSON")
                return 400, self._error("parameter_invalid", "Invalid JSON")
        found = self.spec.operation(method, path)
        call = Call(method, path, found[0] if found else None, headers, body)
        status, payload = self._answer(call, found, headers)
        call.status = status
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return status, payload

    def _answer(self, call: Call, found: Optional[tuple[str, dict]], headers: dict[str, str]) -> tuple[int, Any]:
        if found is None:
            self._violation(f"{call.method} {call.path}: no such operation in Intercom API {self.spec.version}")
            return 404, self._error("not_found", "Resource Not Found")
        template, _ = found
        version = headers.get("intercom-version")
        if version not in intercom_versions(self.spec) or version != API_VERSION:
            self._violation(f"{call.method} {call.path}: Intercom-Version {version!r}, expected {API_VERSION}")
        if call.body is not None and "application/json" not in headers.get("content-type", ""):
            self._violation(f"{call.method} {call.path}: a JSON body without Content-Type: application/json")
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, self._error("unauthorized", "Access Token Invalid")
        for problem in self.spec.request_errors(template, call.method, call.body):
            self._violation(f"{call.method} {template}: request body: {problem}")
        with self._lock:
            for failure in self.failures:
                if failure[0] == call.method and failure[1].search(call.path) and failure[3] > 0:
                    failure[3] -= 1
                    return failure[2], self._error("server_error" if failure[2] >= 500 else "client_error", "Injected failure")
            handler = self._handlers().get((call.method, template))
            if handler is None:
                self._violation(f"{call.method} {template}: valid, but the fake does not implement it")
                return 501, self._error("not_implemented", "fake")
            status, payload = handler(call, *self._path_ids(template, call.path))
        for problem in self.spec.response_errors(template, call.method, status, payload):
            self._violation(f"fake's own {status} answer to {call.method} {template}: {problem}")
        return status, payload

    @staticmethod
    def _path_ids(template: str, path: str) -> list[str]:
        names = re.findall(r"\{[^}]+\}", template)
        if not names:
            return []
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
        return list(re.match(pattern, path).groups())

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _error(self, code: str, message: str) -> dict:
        return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}

    def _handlers(self) -> dict[tuple[str, str], Callable]:
        return {
            ("GET", "/me"): self._me,
            ("GET", "/admins"): self._list_admins,
            ("GET", "/admins/{admin_id}"): self._get_admin,
            ("GET", "/teams/{team_id}"): self._get_team,
            ("POST", "/contacts/search"): self._search_contacts,
            ("POST", "/contacts"): self._create_contact,
            ("POST", "/conversations"): self._create_conversation,
            ("GET", "/conversations/{conversation_id}"): self._get_conversation,
            ("POST", "/conversations/{conversation_id}/reply"): self._reply,
            ("POST", "/conversations/{conversation_id}/parts"): self._manage,
        }

    # -- objects, shaped from the spec's examples -----------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _admin_json(self, admin: Admin) -> dict:
        shaped = self.spec.example("/admins/{admin_id}", "get")
        shaped.update(
            id=admin.id, name=admin.name, email=admin.email, away_mode_enabled=admin.away,
            has_inbox_seat=admin.has_inbox_seat, team_ids=list(admin.team_ids),
        )
        return shaped

    def _contact_json(self, contact: Contact) -> dict:
        shaped = self.spec.example("/contacts", "post")
        shaped.update(id=contact.id, role=contact.role, email=contact.email or "", name=contact.name)
        for listing in ("tags", "notes", "companies"):
            if isinstance(shaped.get(listing), dict) and "url" in shaped[listing]:
                shaped[listing]["url"] = f"/contacts/{contact.id}/{listing}"
        return shaped

    def _author(self, who: Any) -> dict:
        if isinstance(who, Admin):
            return {"type": "admin", "id": who.id, "name": who.name, "email": who.email}
        contact: Contact = who
        return {"type": contact.role, "id": contact.id, "name": contact.name, "email": contact.email or ""}

    def _part(self, part_type: str, author: dict, body: Optional[str], **extra: Any) -> dict:
        moment = _now()
        part = {
            "type": "conversation_part",
            "id": self._new_id(),
            "part_type": part_type,
            "body": body,
            "created_at": moment,
            "updated_at": moment,
            "notified_at": moment,
            "assigned_to": None,
            "author": author,
            "attachments": [],
            "external_id": None,
            "redacted": False,
            "metadata": {},
            "email_message_metadata": None,
            "app_package_code": None,
        }
        part.update(extra)
        return part

    def conversation_json(self, conversation: Conversation, parts: Optional[list[dict]] = None) -> dict:
        shaped = self.spec.example("/conversations/{conversation_id}", "get")
        contact = self.contacts[conversation.contact_id]
        shown = conversation.parts if parts is None else parts
        shaped.update(
            id=conversation.id,
            created_at=conversation.created_at,
            updated_at=_now(),
            waiting_since=None,
            snoozed_until=conversation.snoozed_until,
            open=conversation.state != "closed",
            state=conversation.state,
            read=False,
            admin_assignee_id=int(conversation.admin_assignee_id) if conversation.admin_assignee_id else None,
            team_assignee_id=int(conversation.team_assignee_id) if conversation.team_assignee_id else None,
            tags={"type": "tag.list", "tags": []},
            title=None,
            teammates=None,
        )
        shaped["source"].update(
            id=f"src{conversation.id}", delivered_as=conversation.delivered_as, body=conversation.source_body,
            author=conversation.source_author, attachments=[], url=None,
        )
        shaped["contacts"] = {
            "type": "contact.list",
            "contacts": [{"type": "contact", "id": contact.id, "external_id": None}],
        }
        shaped["conversation_parts"] = {
            "type": "conversation_part.list", "conversation_parts": copy.deepcopy(shown), "total_count": len(shown),
        }
        return shaped

    # -- the API operations ------------------------------------------------------------

    def _me(self, call: Call) -> tuple[int, Any]:
        shaped = self.spec.example("/me", "get")
        shaped.update(id=self.bot.id, name=self.bot.name, email=self.bot.email)
        return 200, shaped

    def _list_admins(self, call: Call) -> tuple[int, Any]:
        return 200, {"type": "admin.list", "admins": [self._admin_json(a) for a in self.admins.values()]}

    def _get_admin(self, call: Call, admin_id: str) -> tuple[int, Any]:
        admin = self.admins.get(admin_id)
        if admin is None:
            return 404, self._error("admin_not_found", "Admin not found")
        return 200, self._admin_json(admin)

    def _get_team(self, call: Call, team_id: str) -> tuple[int, Any]:
        names = [name for name, known in self.teams.items() if known == team_id]
        if not names:
            return 404, self._error("team_not_found", "Team not found")
        shaped = self.spec.example("/teams/{team_id}", "get")
        shaped.update(id=team_id, name=names[0], admin_ids=[int(a.id) for a in self.admins.values() if int(team_id) in a.team_ids])
        return 200, shaped

    def _search_contacts(self, call: Call) -> tuple[int, Any]:
        query = call.body.get("query") or {}
        if query.get("field") != "email" or query.get("operator") != "=":
            self._violation(f"contact search the fake does not model: {query}")
        found = [c for c in self.contacts.values() if c.email and c.email == query.get("value")]
        per_page = (call.body.get("pagination") or {}).get("per_page") or 50
        return 200, {
            "type": "list",
            "data": [self._contact_json(c) for c in found[:per_page]],
            "total_count": len(found),
            "pages": {"type": "pages", "page": 1, "per_page": per_page, "total_pages": 1 if found else 0},
        }

    def _create_contact(self, call: Call) -> tuple[int, Any]:
        email = call.body.get("email")
        for contact in self.contacts.values():
            if email and contact.email == email:
                return 409, self._error("conflict", f"A contact matching those details already exists with id={contact.id}")
        contact = self.add_contact(email, call.body.get("role") or "user", call.body.get("name"))
        return 200, self._contact_json(contact)

    def _create_conversation(self, call: Call) -> tuple[int, Any]:
        sender = call.body["from"]
        contact = self.contacts.get(sender["id"])
        if contact is None:
            return 404, self._error("not_found", "User Not Found")
        if sender["type"] not in (contact.role, "contact"):
            self._violation(f"POST /conversations from a {contact.role} given as type {sender['type']!r}")
        conversation = Conversation(
            id=self._new_id(), contact_id=contact.id, source_body=call.body["body"],
            source_author=self._author(contact), delivered_as="customer_initiated", created_at=_now(),
        )
        self.conversations[conversation.id] = conversation
        return 200, {
            "type": "user_message", "id": self._new_id(), "created_at": conversation.created_at,
            "body": call.body["body"], "message_type": "inapp", "conversation_id": conversation.id,
        }

    def _get_conversation(self, call: Call, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, self._error("not_found", "Resource Not Found")
        return 200, self.conversation_json(conversation)

    def _reply(self, call: Call, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, self._error("not_found", "Resource Not Found")
        body = call.body
        if body["type"] == "admin":
            admin = self.admins.get(str(body["admin_id"]))
            if admin is None:
                return 404, self._error("admin_not_found", "Admin not found")
            metadata = {}
            if body["message_type"] == "quick_reply":
                metadata = {"quick_reply_options": body.get("reply_options") or []}
            elif body["message_type"] in ("comment", "note") and not body.get("body"):
                self._violation(f"admin {body['message_type']} without a body")
            part = self._part(
                body["message_type"], self._author(admin), body.get("body"), metadata=metadata, attachments=_uploads(body)
            )
            topic = "conversation.admin.noted" if body["message_type"] == "note" else "conversation.admin.replied"
        else:
            contact = self.contacts.get(str(body.get("intercom_user_id")))
            if contact is None or contact.id != conversation.contact_id:
                return 404, self._error("not_found", "User Not Found")
            part = self._part("comment", self._author(contact), body.get("body"), attachments=_uploads(body))
            topic = "conversation.user.replied"
            if conversation.state == "closed":
                conversation.state = "open"
        conversation.parts.append(part)
        self._changed.notify_all()
        self._notify(topic, conversation, [part])
        return 200, self.conversation_json(conversation, [part])

    def _manage(self, call: Call, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, self._error("not_found", "Resource Not Found")
        body = call.body
        admin = self.admins.get(str(body.get("admin_id")))
        if admin is None:
            return 404, self._error("admin_not_found", "Admin not found")
        kind = body["message_type"]
        if kind == "assignment":
            part = self._assign(conversation, admin, body["type"], str(body["assignee_id"]))
            topic = "conversation.admin.assigned"
        elif kind == "close":
            conversation.state = "closed"
            part = self._part("close", self._author(admin), body.get("body"))
            topic = "conversation.admin.closed"
        elif kind == "snoozed":
            conversation.state, conversation.snoozed_until = "snoozed", body["snoozed_until"]
            part = self._part("snoozed", self._author(admin), None)
            topic = "conversation.admin.snoozed"
        else:
            conversation.state, conversation.snoozed_until = "open", None
            part = self._part("open", self._author(admin), None)
            topic = "conversation.admin.opened"
        conversation.parts.append(part)
        self._changed.notify_all()
        self._notify(topic, conversation, [part])
        return 200, self.conversation_json(conversation, [part])

    def _assign(self, conversation: Conversation, admin: Admin, kind: str, assignee: str) -> dict:
        if kind == "team":
            if assignee not in self.teams.values() and assignee != "0":
                self._violation(f"assignment to unknown team {assignee}")
            conversation.team_assignee_id = None if assignee == "0" else assignee
            target = {"type": "team", "id": assignee}
        else:
            conversation.admin_assignee_id = None if assignee == "0" else assignee
            target = {"type": "admin", "id": assignee}
        return self._part("assignment", self._author(admin), None, assigned_to=target)

    # -- webhooks -------------------------------------------------------------------

    def notification(self, topic: str, conversation: Conversation, parts: list[dict]) -> dict:
        moment = _now()
        return {
            "type": "notification_event",
            "app_id": "fakeapp24",
            "data": {"type": "notification_event_data", "item": self.conversation_json(conversation, parts)},
            "links": {},
            "id": f"notif_{uuid.uuid4()}",
            "topic": topic,
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": moment,
            "created_at": moment,
            "self": None,
        }

    def _notify(self, topic: str, conversation: Conversation, parts: list[dict]) -> None:
        """What Intercom tells the sidecar on its own about a change (sent in order, in the background)."""
        notification = self.notification(topic, conversation, parts)
        self.notifications.append(notification)
        if self.webhook_url:
            self._outbox.put(notification)

    def _send_queued(self) -> None:
        while (notification := self._outbox.get()) is not None:
            # Intercom retries a delivery that did not connect; so does the fake,
            # a few times over a couple of seconds (a sidecar restarting, say).
            for attempt in range(8):
                try:
                    self.deliver(notification)
                    break
                except httpx.HTTPError:
                    time.sleep(0.25 * (attempt + 1))
            else:
                with self._changed:
                    self.webhook_results.append((notification["topic"], 0))
            self._outbox.task_done()

    def drain(self) -> None:
        """Wait until every queued notification was delivered (or given up on)."""
        self._outbox.join()

    def deliver(self, notification: dict, secret: Optional[str] = None, signature: Optional[str] = None) -> httpx.Response:
        """POST a notification to the sidecar, signed like Intercom (or with the given signature)."""
        raw = json.dumps(notification).encode()
        header = signature if signature is not None else sign(secret or self.client_secret, raw)
        response = httpx.post(
            self.webhook_url, content=raw, timeout=30,
            headers={"Content-Type": "application/json", "X-Hub-Signature": header, "User-Agent": "Intercom-Webhooks-Fake"},
        )
        with self._changed:
            self.webhook_results.append((notification["topic"], response.status_code))
            self._changed.notify_all()
        return response

    # -- the people in the workspace -------------------------------------------------

    def add_contact(self, email: Optional[str], role: str = "user", name: Optional[str] = None) -> Contact:
        with self._lock:
            contact = Contact(id=uuid.uuid4().hex[:24], role=role, email=email, name=name)
            self.contacts[contact.id] = contact
            return contact

    def _agent_action(self, conversation_id: str, topic: str, part: dict, send: bool) -> dict:
        with self._changed:
            conversation = self.conversations[conversation_id]
            conversation.parts.append(part)
            self._changed.notify_all()
            notification = self.notification(topic, conversation, [part])
            self.notifications.append(notification)
        if send:
            self.deliver(notification)
        return notification

    def agent_replies(self, conversation_id: str, admin: Admin, body_html: str, attachments: list[dict] = (), send: bool = True) -> dict:
        with self._lock:
            part = self._part("comment", self._author(admin), body_html, attachments=list(attachments))
        return self._agent_action(conversation_id, "conversation.admin.replied", part, send)

    def agent_assigns(self, conversation_id: str, by: Admin, to: Admin, send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.admin_assignee_id = to.id
            part = self._part("assignment", self._author(by), None, assigned_to={"type": "admin", "id": to.id})
        return self._agent_action(conversation_id, "conversation.admin.assigned", part, send)

    def agent_snoozes(self, conversation_id: str, admin: Admin, seconds: int = 3600, send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.state, conversation.snoozed_until = "snoozed", _now() + seconds
            part = self._part("snoozed", self._author(admin), None)
        return self._agent_action(conversation_id, "conversation.admin.snoozed", part, send)

    def agent_closes(self, conversation_id: str, admin: Admin, send: bool = True) -> dict:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.state = "closed"
            part = self._part("close", self._author(admin), None)
        return self._agent_action(conversation_id, "conversation.admin.closed", part, send)

    def agent_notes(self, conversation_id: str, admin: Admin, body_html: str, send: bool = True) -> dict:
        with self._lock:
            part = self._part("note", self._author(admin), body_html)
        return self._agent_action(conversation_id, "conversation.admin.noted", part, send)

    def user_starts(self, contact: Contact, text: str, send: bool = True) -> tuple[str, dict]:
        """A Messenger user opens a conversation (conversation.user.created)."""
        with self._changed:
            conversation = Conversation(
                id=self._new_id(), contact_id=contact.id, source_body=f"<p>{text}</p>",
                source_author=self._author(contact), delivered_as="customer_initiated", created_at=_now(),
            )
            self.conversations[conversation.id] = conversation
            notification = self.notification("conversation.user.created", conversation, [])
            self.notifications.append(notification)
        if send:
            self.deliver(notification)
        return conversation.id, notification

    def user_replies(self, conversation_id: str, text: str, quick_reply_uuid: Optional[str] = None, send: bool = True) -> dict:
        """A Messenger user writes (or picks a quick reply) in a conversation (conversation.user.replied)."""
        with self._changed:
            conversation = self.conversations[conversation_id]
            contact = self.contacts[conversation.contact_id]
            metadata = {"quick_reply_uuid": quick_reply_uuid} if quick_reply_uuid else {}
            part = self._part("quick_reply" if quick_reply_uuid else "comment", self._author(contact), f"<p>{text}</p>", metadata=metadata)
            if conversation.state != "open":
                conversation.state, conversation.snoozed_until = "open", None
            conversation.parts.append(part)
            self._changed.notify_all()
            notification = self.notification("conversation.user.replied", conversation, [part])
            self.notifications.append(notification)
        if send:
            self.deliver(notification)
        return notification

    # -- looking at the workspace ---------------------------------------------------

    def parts(self, conversation_id: str, part_type: Optional[str] = None, author_id: Optional[str] = None) -> list[dict]:
        with self._lock:
            conversation = self.conversations.get(conversation_id)
            found = list(conversation.parts) if conversation else []
        return [
            p for p in found
            if (part_type is None or p["part_type"] == part_type) and (author_id is None or p["author"]["id"] == author_id)
        ]

    def calls_to(self, method: str, template: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.template == template]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out waiting for {what}; calls so far: {[(c.method, c.path, c.status) for c in self.calls][-15:]}"
                    )
                self._changed.wait(min(remaining, 0.25))
            return result
