"""A fake Chatwoot account for tests, held to Chatwoot's own API description.

The spec it follows: `swagger.json`, the OpenAPI 3.0.4 description of the
Chatwoot server API (chatwoot/chatwoot, swagger/swagger.json), read at run
time from ../shared/reference/chatwoot/ next to the repository with the
kit's `load_openapi`; tests that need it are skipped, saying why, when it
is absent. Nothing of it is copied here.

Every request is checked: the operation (method and path template) exists;
its path ids are numbers and the account is this one; the
`api_access_token` is a token the operation's `security` admits (a user's
token everywhere it says userApiKey, the Agent Bot's only where it says
agentBotApiKey; else 401); the query parameters are the operation's; the
JSON body validates against the operation's requestBody schema. Answers
are validated against the operation's response schema too. Anything off is
kept in `violations`, which the tests assert empty.

Beyond the API, the fake plays the people: agents assign, reply (with
files), type and resolve in the API inbox; a website visitor writes in the
inbox the Agent Bot is connected to. Each of these, and each change the
connector makes, is told to `webhook_url` the way Chatwoot does: the
event's JSON, signed with `X-Chatwoot-Timestamp` and `X-Chatwoot-Signature`
(HMAC-SHA256 of "<timestamp>.<body>") unless the fake plays an instance
too old to sign.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import httpx

from handoff_connectors.chatwoot.signing import signature
from handoff_connectors.testing import Recorded, RecordingServer, load_openapi, shared_reference

# The operations the connector uses, by the names the fake's handlers go by.
OPERATIONS = {
    ("GET", "/api/v1/profile"): "profile",
    ("GET", "/api/v1/accounts/{account_id}/contacts/search"): "search_contacts",
    ("POST", "/api/v1/accounts/{account_id}/contacts"): "create_contact",
    ("POST", "/api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes"): "create_contact_inbox",
    ("POST", "/api/v1/accounts/{account_id}/conversations"): "create_conversation",
    ("POST", "/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages"): "create_message",
    ("POST", "/api/v1/accounts/{account_id}/conversations/{conversation_id}/toggle_status"): "toggle_status",
    ("POST", "/api/v1/accounts/{account_id}/conversations/{conversation_id}/assignments"): "assign",
}
_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}


@dataclass
class Agent:
    id: int
    name: str
    email: str


@dataclass
class Contact:
    id: int
    name: str
    email: Optional[str]
    identifier: Optional[str] = None
    source_ids: dict[int, str] = field(default_factory=dict)  # inbox id -> source id


@dataclass
class Conversation:
    id: int
    inbox_id: int
    contact_id: int
    status: str
    source_id: Optional[str] = None
    team_id: Optional[int] = None
    assignee_id: Optional[int] = None
    custom_attributes: dict = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)


@dataclass
class Call:
    method: str
    path: str
    operation: Optional[str]
    token: str
    body: Any
    status: int = 0


class FakeChatwoot:
    """A threaded HTTP server answering Chatwoot's Application API for one fake account."""

    desk = "Chatwoot"
    #: Whether the inbox `bot_inbox` has an Agent Bot (told conversation_opened / conversation_resolved).
    agent_bot_events = True

    def __init__(
        self,
        user_token: str,
        bot_token: Optional[str] = None,
        secret: Optional[str] = "cw-webhook-secret",
        *,
        account_id: int = 7,
        api_inbox: int = 21,
        bot_inbox: int = 22,
        agents: tuple[Agent, ...] = (),
        teams: Optional[dict[str, int]] = None,
        first_id: int = 100,
    ) -> None:
        self.user_token = user_token
        self.bot_token = bot_token
        self.secret = secret  # None: an instance too old to sign its webhooks
        self.account_id = account_id
        self.api_inbox = api_inbox
        self.bot_inbox = bot_inbox
        self.agents = {a.id: a for a in agents}
        self.teams = teams or {}
        self.contacts: dict[int, Contact] = {}
        self.conversations: dict[int, Conversation] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.webhook_url: Optional[str] = None
        self.webhook_results: list[tuple[str, int]] = []
        self._next = first_id
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._outbox: "queue.Queue[Optional[tuple[str, bytes]]]" = queue.Queue()
        self._sender = threading.Thread(target=self._send_queued, daemon=True)
        self._setup()
        self.server = RecordingServer(self._handle)

    def _setup(self) -> None:
        self.spec = load_openapi(shared_reference("chatwoot", "swagger.json"), "Chatwoot")

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> "FakeChatwoot":
        self.server.__enter__()
        self._sender.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._outbox.put(None)
        self._sender.join(timeout=5)
        self.server.__exit__(*exc)

    def revoke(self) -> None:
        """The user's access token is reset in Chatwoot: the old one is refused from now on."""
        self.user_token = "reset-" + uuid.uuid4().hex

    # -- the HTTP side -------------------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        body = None
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                self._violation(f"{request.method} {request.path}: the body is not JSON")
                return 400, {"message": "invalid JSON"}
            if "application/json" not in request.headers.get("content-type", ""):
                self._violation(f"{request.method} {request.path}: a JSON body without Content-Type: application/json")
        query = {k: v[-1] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        operation, ids, refused = self._check(request.method, request.path, request.headers, query, body)
        call = Call(request.method, request.path, operation, self._token_of(request.headers), body)
        if refused is not None:
            status, payload = refused
        else:
            with self._lock:
                status, payload = getattr(self, "_" + operation)(call, query, *ids)
            self._check_answer(request.method, request.path, status, payload)
        call.status = status
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return status, payload

    def _token_of(self, headers: dict[str, str]) -> str:
        return headers.get("api_access_token", "")

    def _check(self, method: str, path: str, headers: dict[str, str], query: dict, body: Any) -> tuple[Optional[str], list, Optional[tuple[int, Any]]]:
        """(operation, path ids, None) for a request to serve, or a refusal as (_, _, (status, answer))."""
        found = self.spec.operation(method, path)
        if found is None or (method, found[0]) not in OPERATIONS:
            if found is None:
                self._violation(f"{method} {path}: no such operation in Chatwoot's API")
            else:
                self._violation(f"{method} {found[0]}: valid, but the fake does not implement it")
            return None, [], (404, {"error": "Resource could not be found"})
        template, operation = found
        names = re.findall(r"\{([^}]+)\}", template)
        values = re.match("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "/?$", path).groups()
        for name, value in zip(names, values):
            if not value.isdigit():
                self._violation(f"{method} {template}: path {name} {value!r} is not a number")
        params = dict(zip(names, values))
        if "account_id" in params and params["account_id"] != str(self.account_id):
            self._violation(f"{method} {template}: account {params['account_id']}, not {self.account_id}")
        schemes = {name for entry in operation.get("security", []) for name in entry}
        token = self._token_of(headers)
        if token == self.bot_token and self.bot_token:
            if "agentBotApiKey" not in schemes:
                self._violation(f"{method} {template}: the Agent Bot's token where the spec admits only {sorted(schemes)}")
                return None, [], (401, {"error": "You are not authorized to do this action"})
        elif token != self.user_token or "userApiKey" not in schemes:
            return None, [], (401, {"errors": ["You need to sign in or sign up before continuing."]})
        for problem in self.spec.query_errors(template, method, query):
            self._violation(f"{method} {template}: {problem}")
        for problem in self.spec.request_errors(template, method, body):
            self._violation(f"{method} {template}: request body: {problem}")
        ids = [int(v) if v.isdigit() else v for n, v in zip(names, values) if n != "account_id"]
        return OPERATIONS[(method, template)], ids, None

    def _check_answer(self, method: str, path: str, status: int, payload: Any) -> None:
        template = self.spec.operation(method, path)[0]
        for problem in self.spec.response_errors(template, method, status, payload):
            self._violation(f"fake's own {status} answer to {method} {template}: {problem}")

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _id(self) -> int:
        self._next += 1
        return self._next

    # -- the API operations ----------------------------------------------------------------------

    def _profile(self, call: Call, query: dict) -> tuple[int, Any]:
        return 200, {"id": 1, "name": "Rasa integration", "email": "rasa@acme.example", "account_id": self.account_id, "role": "administrator"}

    def _contact_json(self, contact: Contact) -> dict:
        return {
            "id": contact.id, "name": contact.name, "email": contact.email, "identifier": contact.identifier,
            "phone_number": None, "blocked": False, "thumbnail": "", "custom_attributes": {},
            "additional_attributes": {}, "availability_status": "offline", "last_activity_at": None, "created_at": int(time.time()),
        }

    def _search_contacts(self, call: Call, query: dict) -> tuple[int, Any]:
        wanted = (query.get("q") or "").casefold()
        found = [c for c in self.contacts.values() if wanted and wanted in {(c.email or "").casefold(), (c.identifier or "").casefold(), c.name.casefold()}]
        return 200, {"meta": {"count": len(found), "current_page": "1"}, "payload": [self._contact_json(c) for c in found]}

    def _create_contact(self, call: Call, query: dict) -> tuple[int, Any]:
        body = call.body
        for contact in self.contacts.values():
            if body.get("email") and contact.email == body["email"]:
                return 422, {"message": "Email has already been taken"}
            if body.get("identifier") and contact.identifier == body["identifier"]:
                return 422, {"message": "Identifier has already been taken"}
        contact = self.add_contact(body.get("name") or "Visitor", body.get("email"), body.get("identifier"))
        contact.source_ids[int(body["inbox_id"])] = str(uuid.uuid4())
        listed = {**{k: v for k, v in self._contact_json(contact).items() if v is not None}, "contact_inboxes": [
            {"source_id": source, "inbox": {"id": inbox, "name": "Rasa handoff", "channel_type": "Channel::Api"}}
            for inbox, source in contact.source_ids.items()
        ]}
        return 200, {"id": contact.id, "availability_status": "offline", "payload": [listed]}

    def _create_contact_inbox(self, call: Call, query: dict, contact_id: int) -> tuple[int, Any]:
        contact = self.contacts.get(contact_id)
        if contact is None:
            return 404, {"error": "Resource could not be found"}
        inbox = int(call.body["inbox_id"])
        source = call.body.get("source_id") or str(uuid.uuid4())
        if any(c.source_ids.get(inbox) == source for c in self.contacts.values()):
            return 422, {"message": "Source has already been taken"}
        contact.source_ids[inbox] = source
        return 200, {"source_id": source, "inbox": {"id": inbox, "name": "Rasa handoff", "channel_type": "Channel::Api"}}

    def _create_conversation(self, call: Call, query: dict) -> tuple[int, Any]:
        body = call.body
        inbox = int(body["inbox_id"])
        owners = [c for c in self.contacts.values() if c.source_ids.get(inbox) == body["source_id"]]
        if not owners or (body.get("contact_id") is not None and owners[0].id != body["contact_id"]):
            return 422, {"message": "Contact inbox not found for this source_id"}
        conversation = Conversation(
            id=self._id(), inbox_id=inbox, contact_id=owners[0].id, status=body.get("status") or "open",
            source_id=body["source_id"], team_id=body.get("team_id"), assignee_id=body.get("assignee_id"),
            custom_attributes=dict(body.get("custom_attributes") or {}),
        )
        self.conversations[conversation.id] = conversation
        return 200, {"id": conversation.id, "account_id": self.account_id, "inbox_id": inbox}

    def _create_message(self, call: Call, query: dict, conversation_id: int) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, {"error": "Resource could not be found"}
        body = call.body
        kind = body.get("message_type") or "outgoing"
        if kind == "incoming" and conversation.inbox_id != self.api_inbox:
            self._violation(f"an incoming message posted into inbox {conversation.inbox_id}: Chatwoot takes them in API inboxes only")
        if call.token == self.bot_token:
            sender = {"id": 900, "name": "Rasa bot", "type": "agent_bot"}
        elif kind == "incoming":
            contact = self.contacts[conversation.contact_id]
            sender = {"id": contact.id, "name": contact.name, "email": contact.email, "type": "contact"}
        else:
            sender = {"id": 1, "name": "Rasa integration", "type": "user"}
        message = self._message(conversation, body["content"], kind, sender, private=bool(body.get("private")),
                                content_type=body.get("content_type") or "text", content_attributes=body.get("content_attributes") or {})
        answer = {k: v for k, v in message.items() if k not in ("sender", "attachments") and v is not None}
        # The API names an agent sender "agent" where the webhooks say "user".
        sender_type = "agent" if sender["type"] == "user" else sender["type"]
        answer.update(message_type=_TYPES[kind], sender_type=sender_type, sender_id=sender["id"], sender=sender)
        return 200, answer

    def _toggle_status(self, call: Call, query: dict, conversation_id: int) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, {"error": "Resource could not be found"}
        self._set_status(conversation, call.body["status"])
        return 200, {"meta": {}, "payload": {"success": True, "current_status": conversation.status, "conversation_id": conversation.id}}

    def _assign(self, call: Call, query: dict, conversation_id: int) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, {"error": "Resource could not be found"}
        if call.body.get("assignee_id") is not None:
            conversation.assignee_id = int(call.body["assignee_id"])
            agent = self.agents[conversation.assignee_id]
            return 200, {"id": agent.id, "name": agent.name, "email": agent.email}
        conversation.team_id = int(call.body["team_id"])
        return 200, {"id": conversation.team_id, "name": self.team_name(conversation.team_id)}

    # -- objects and webhooks ----------------------------------------------------------------------

    def add_contact(self, name: str, email: Optional[str] = None, identifier: Optional[str] = None) -> Contact:
        with self._lock:
            contact = Contact(self._id(), name, email, identifier)
            self.contacts[contact.id] = contact
            return contact

    def team_name(self, team_id: Optional[int]) -> Optional[str]:
        return next((name for name, known in self.teams.items() if known == team_id), None)

    def conversation_json(self, conversation: Conversation) -> dict:
        contact = self.contacts[conversation.contact_id]
        assignee = self.agents.get(conversation.assignee_id) if conversation.assignee_id else None
        now = int(time.time())
        return {
            "id": conversation.id, "inbox_id": conversation.inbox_id, "status": conversation.status,
            "channel": "Channel::Api" if conversation.inbox_id == self.api_inbox else "Channel::WebWidget",
            "account_id": self.account_id, "can_reply": True, "additional_attributes": {},
            "custom_attributes": conversation.custom_attributes, "labels": [], "unread_count": 0,
            "contact_inbox": {"source_id": conversation.source_id, "inbox_id": conversation.inbox_id, "contact_id": contact.id},
            "meta": {
                "sender": {"id": contact.id, "name": contact.name, "email": contact.email, "type": "contact"},
                "assignee": {"id": assignee.id, "name": assignee.name, "available_name": assignee.name, "type": "user"} if assignee else None,
                "team": {"id": conversation.team_id, "name": self.team_name(conversation.team_id)} if conversation.team_id else None,
                "hmac_verified": False,
            },
            "messages": [], "timestamp": now, "created_at": now, "updated_at": time.time(),
        }

    def _message(self, conversation: Conversation, content: str, kind: str, sender: dict, private: bool = False,
                 attachments: tuple[dict, ...] = (), content_type: str = "text", content_attributes: Optional[dict] = None) -> dict:
        message = {
            "id": self._id(), "content": content, "account_id": self.account_id, "inbox_id": conversation.inbox_id,
            "conversation_id": conversation.id, "message_type": kind, "private": private, "created_at": int(time.time()),
            "content_type": content_type, "content_attributes": content_attributes or {}, "source_id": None,
            "sender": sender, "attachments": [{"id": self._id(), "message_id": 0, **a} for a in attachments],
        }
        conversation.messages.append(message)
        with self._changed:
            self._changed.notify_all()
        self.notify({
            **message, "event": "message_created", "message_type": kind,
            "conversation": self.conversation_json(conversation),
            "account": {"id": self.account_id, "name": "Acme"}, "inbox": {"id": conversation.inbox_id, "name": "Support"},
        })
        return message

    def _set_status(self, conversation: Conversation, status: str) -> None:
        if conversation.status == status:
            return
        conversation.status = status
        payload = self.conversation_json(conversation)
        if self.agent_bot_events and conversation.inbox_id == self.bot_inbox:
            # What Chatwoot tells an Agent Bot.
            if status in ("open", "resolved"):
                self.notify({**payload, "event": "conversation_opened" if status == "open" else "conversation_resolved"})
        else:
            self.notify({**payload, "event": "conversation_status_changed",
                         "changed_attributes": [{"status": {"previous_value": None, "current_value": status}}]})

    def signed(self, payload: dict | bytes, secret: Optional[str] = None, timestamp: Optional[int] = None) -> tuple[bytes, dict[str, str]]:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json", "x-chatwoot-delivery": str(uuid.uuid4())}
        key = secret or self.secret
        if key:
            stamp = str(int(time.time()) if timestamp is None else timestamp)
            headers.update({"x-chatwoot-timestamp": stamp, "x-chatwoot-signature": signature(key, stamp, raw)})
        return raw, headers

    def notify(self, payload: dict) -> None:
        if self.webhook_url:
            raw, headers = self.signed(payload)
            self._outbox.put((json.dumps(headers), raw))

    def _send_queued(self) -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                item = self._outbox.get()
                if item is None:
                    return
                headers, raw = json.loads(item[0]), item[1]
                try:
                    status = client.post(self.webhook_url, content=raw, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                self.webhook_results.append((json.loads(raw)["event"], status))
                self._outbox.task_done()

    def drain(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- the people ----------------------------------------------------------------------------

    def agent_assigns(self, conversation_id: int, agent: Agent) -> None:
        with self._lock:
            conversation = self.conversations[conversation_id]
            previous, conversation.assignee_id = conversation.assignee_id, agent.id
            self.notify({**self.conversation_json(conversation), "event": "conversation_updated",
                         "changed_attributes": [{"assignee_id": {"previous_value": previous, "current_value": agent.id}}]})

    def agent_replies(self, conversation_id: int, agent: Agent, text: str, attachments: tuple[dict, ...] = ()) -> dict:
        with self._lock:
            sender = {"id": agent.id, "name": agent.name, "available_name": agent.name, "type": "user"}
            return self._message(self.conversations[conversation_id], text, "outgoing", sender, attachments=attachments)

    def agent_notes(self, conversation_id: int, agent: Agent, text: str) -> dict:
        with self._lock:
            sender = {"id": agent.id, "name": agent.name, "type": "user"}
            return self._message(self.conversations[conversation_id], text, "outgoing", sender, private=True)

    def agent_types(self, conversation_id: int, agent: Agent, on: bool = True) -> None:
        with self._lock:
            self.notify({"event": "conversation_typing_on" if on else "conversation_typing_off", "is_private": False,
                         "conversation": self.conversation_json(self.conversations[conversation_id]),
                         "user": {"id": agent.id, "name": agent.name, "type": "user"}})

    def agent_resolves(self, conversation_id: int) -> None:
        with self._lock:
            self._set_status(self.conversations[conversation_id], "resolved")

    def visitor_writes(self, contact: Contact, text: str, conversation_id: Optional[int] = None, attachments: tuple[dict, ...] = ()) -> int:
        """A website visitor writes in the Agent Bot's inbox (a new conversation, pending, without an id)."""
        with self._lock:
            if conversation_id is None:
                conversation = Conversation(self._id(), self.bot_inbox, contact.id, "pending", source_id=str(uuid.uuid4()))
                self.conversations[conversation.id] = conversation
            else:
                conversation = self.conversations[conversation_id]
                if conversation.status == "resolved":
                    conversation.status = "pending"  # A new message reopens it, to the bot again.
            sender = {"id": contact.id, "name": contact.name, "email": contact.email, "type": "contact"}
            self._message(conversation, text, "incoming", sender, attachments=attachments)
            return conversation.id

    # -- looking -----------------------------------------------------------------------------

    def messages(self, conversation_id: int, kind: Optional[str] = None, private: Optional[bool] = None, sender_type: Optional[str] = None) -> list[dict]:
        with self._lock:
            return [
                m for m in self.conversations[conversation_id].messages
                if (kind is None or m["message_type"] == kind) and (private is None or m["private"] == private)
                and (sender_type is None or m["sender"]["type"] == sender_type)
            ]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "it") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = predicate()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {[(c.method, c.path, c.status) for c in self.calls]}")
                self._changed.wait(min(remaining, 0.1))

    def bot_says(self, conversation_id: int) -> list[str]:
        """The bot's messages in a conversation: outgoing, public, from no agent of the account."""
        return [m["content"] for m in self.messages(conversation_id, kind="outgoing", private=False) if m["sender"]["id"] not in self.agents]

    def wait_for_bot(self, conversation_id: int, count: int) -> list[str]:
        self.wait_for(lambda: len(self.bot_says(conversation_id)) >= count, timeout=30, what=f"{count} bot message(s)")
        return self.bot_says(conversation_id)

    def calls_to(self, operation: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.operation == operation]


def fixture_about(folder: Path, name: str, conversation_id: Any = None, **changes: Any) -> dict:
    """A webhook fixture, about `conversation_id` when given (the message's conversation, or the conversation itself)."""
    payload = json.loads((folder / f"{name}.json").read_bytes())
    if conversation_id is not None:
        holder = payload["conversation"] if "conversation" in payload else payload
        holder["id"] = int(conversation_id) if str(conversation_id).isdigit() else conversation_id
    payload.update(changes)
    return payload


def wait_until_handed_back(deployment: Any, sender_id: str, timeout: float = 30) -> None:
    """Rasa's handoff loop for the sender has ended (the desk gave the conversation back)."""
    deadline = time.monotonic() + timeout
    while (deployment.tracker(sender_id).get("active_loop") or {}).get("name"):
        assert time.monotonic() < deadline, "the handoff did not end after the resolve"
        time.sleep(0.2)
