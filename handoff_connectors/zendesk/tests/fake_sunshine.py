"""A fake Zendesk messaging app, held to the Sunshine Conversations API v2 description.

The spec it follows: `openapi.yaml`, the OpenAPI 3.0 description of the
Sunshine Conversations API (v2, as Zendesk publishes it), read at run time
from ../shared/reference/zendesk-sunshine/ next to the repository with the
kit's `load_openapi`; tests that need it are skipped, saying why, when it is
absent. Nothing of it is copied here.

Every request the connector sends is checked: the operation (method and
path template) exists, the app id is this app's (else 404 app_not_found),
the credentials are the app key's under the spec's `basicAuth` scheme (else
401 with Sunshine's `errors` list), and the JSON body validates against the
operation's requestBody schema. A message's `content` (and each of its
`actions`) is judged by the schema its `type` names, as the spec's
discriminator says: JSON Schema's `oneOf` alone cannot tell an image from a
file, nor refuse an unknown type. Answers start from the spec's examples,
carry the fake's state, and are validated as the operation's responses.
Anything off is kept in `violations`, which the tests assert empty.

Beyond the API the fake plays the people: agents in the agent workspace
write (text, images, files), type, read and solve the ticket (control goes
back); users in Zendesk's own widget write to the bot. Each of these, and
each change the connector makes (its messages, its passControl and
releaseControl), reaches the sidecar as Sunshine sends it: a v2 webhook call
with the webhook's secret in `X-API-Key`, its events checked against the
spec's event schema of their trigger.
"""

from __future__ import annotations

import base64
import copy
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx

from handoff_connectors.testing import Recorded, RecordingServer, load_openapi, shared_reference
from handoff_connectors.testing.openapi import OpenApiSpec

API_KEY_HEADER = "X-API-Key"


def load_spec() -> OpenApiSpec:
    """The Sunshine Conversations description, or a skipped test saying what is missing."""
    return load_openapi(shared_reference("zendesk-sunshine", "openapi.yaml"), "Sunshine Conversations")


# ======================================================================
# What JSON Schema's oneOf cannot say: the discriminator
# ======================================================================


def content_errors(spec: OpenApiSpec, content: Any, where: str = "content") -> list[str]:
    """A message content judged by the schema its `type` names (the spec's discriminator mapping)."""
    if not isinstance(content, dict):
        return [f"{where}: must be an object"]
    mapping = spec.schema("content")["discriminator"]["mapping"]
    target = mapping.get(content.get("type"))
    if target is None:
        return [f"{where}/type: {content.get('type')!r} is none of {sorted(mapping)}"]
    plain = {key: value for key, value in content.items() if key != "actions"}
    problems = [f"{where}/{error}" for error in spec.schema_errors(target.rsplit("/", 1)[-1], plain)]
    for index, action in enumerate(content.get("actions") or []):
        # `action` has a discriminator on `type` without a mapping: the schema named like the type.
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in {"buy", "link", "locationRequest", "postback", "reply", "webview"}:
            problems.append(f"{where}/actions/{index}/type: {kind!r} is not an action type")
            continue
        problems += [f"{where}/actions/{index}/{error}" for error in spec.schema_errors(kind, action)]
    return problems


def without_content(errors: list[str], marker: str) -> list[str]:
    """Schema errors other than the ones `content_errors` judges instead (anything at a content)."""
    return [error for error in errors if marker not in error.split(":", 1)[0]]


def webhook_errors(spec: OpenApiSpec, call: Any) -> list[str]:
    """A webhook call held to the spec: the envelope, and each event to the schema titled by its trigger."""
    problems = []
    if not isinstance(call, dict) or not isinstance(call.get("events"), list):
        return ["(body): a webhook call has an events list"]
    for part, name in (("app", "appSubSchema"), ("webhook", "webhookSubSchema")):
        problems += [f"{part}/{e}" for e in spec.schema_errors(name, call.get(part))]
    by_trigger = {schema.get("title"): name for name, schema in spec.raw["components"]["schemas"].items() if schema.get("title")}
    for index, event in enumerate(call["events"]):
        kind = event.get("type") if isinstance(event, dict) else None
        if kind not in by_trigger:
            problems.append(f"events/{index}/type: {kind!r} is no trigger of the spec")
            continue
        errors = without_content(spec.schema_errors(by_trigger[kind], event), "/content")
        problems += [f"events/{index}/{e}" for e in errors]
        message = (event.get("payload") or {}).get("message")
        if isinstance(message, dict):
            problems += [f"events/{index}/payload/message/{e}" for e in content_errors(spec, message.get("content"))]
    return problems


# ======================================================================
# The app
# ======================================================================


def _hex() -> str:
    return uuid.uuid4().hex[:24]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass
class Integration:
    id: str
    name: str
    integration_id: str
    integration_type: str

    def webhook(self) -> dict:
        return {"id": self.id, "name": self.name, "integrationId": self.integration_id, "integrationType": self.integration_type}


@dataclass
class Conversation:
    id: str
    user_id: str
    active: Optional[Integration]
    metadata: dict = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    control: list[dict] = field(default_factory=list)  # passControl / releaseControl calls, in order


class FakeSunshine:
    """Sunshine Conversations for one app: the API on a RecordingServer, and the people around it."""

    def __init__(self, app_id: str, key_id: str, key_secret: str, webhook_secret: str) -> None:
        self.spec = load_spec()
        self.app_id, self.key_id, self.key_secret, self.webhook_secret = app_id, key_id, key_secret, webhook_secret
        self.bot = Integration(_hex(), "rasa-bot", _hex(), "custom")
        self.agent_workspace = Integration(_hex(), "zd-agentWorkspace", _hex(), "zd:agentWorkspace")
        self.users: dict[str, dict] = {}
        self.conversations: dict[str, Conversation] = {}
        self.violations: list[str] = []
        self.webhook_url: Optional[str] = None
        self.webhook_id = _hex()
        self.webhook_results: list[tuple[str, int]] = []
        self.revoked = False
        # (method, path suffix, status): the next matching call is answered with that error.
        self.failures: list[tuple[str, str, int]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._outbox: "queue.Queue[Optional[dict]]" = queue.Queue()
        self._sender = threading.Thread(target=self._send_queued, daemon=True)
        self._pending = 0
        self.server = RecordingServer(self._answer)

    # -- lifecycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def __enter__(self) -> "FakeSunshine":
        self.server.__enter__()
        self._sender.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._outbox.put(None)
        self._sender.join(timeout=5)
        self.server.__exit__(*exc)

    def calls_to(self, method: str, template_end: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(template_end)]

    # -- the API ----------------------------------------------------------------------

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _error(self, status: int, code: str, title: str) -> tuple[int, dict]:
        return status, {"errors": [{"code": code, "title": title}]}

    def _answer(self, request: Recorded) -> tuple[int, Any]:
        method, path = request.method, request.path
        found = self.spec.operation(method, path)
        if found is None:
            self._violation(f"{method} {path}: no such operation in the spec")
            return self._error(404, "not_found", "Not found")
        template, _ = found
        with self._lock:
            for failure in self.failures:
                if failure[0] == method and path.endswith(failure[1]):
                    self.failures.remove(failure)
                    return self._error(failure[2], "injected", "Injected failure")
        if not self._authorised(request.headers.get("authorization", "")):
            return self._error(401, "unauthorized", "Authorization is required")
        if path.split("/")[3] != self.app_id:
            return self._error(404, "app_not_found", "App not found")
        body = None
        if request.body:
            if not request.headers.get("content-type", "").startswith("application/json"):
                self._violation(f"{method} {path}: a body without content-type application/json")
            try:
                body = json.loads(request.body)
            except ValueError:
                self._violation(f"{method} {path}: the body is not JSON")
                return self._error(400, "bad_request", "Invalid JSON")
        errors = self.spec.request_errors(template, method, body)
        if template.endswith("/messages") and isinstance(body, dict):
            errors = without_content(errors, "content") + content_errors(self.spec, body.get("content"))
        if errors:
            for error in errors:
                self._violation(f"{method} {template}: {error}")
            return self._error(400, "bad_request", "; ".join(errors)[:300])
        with self._lock:
            status, answer = self._serve(template, method, path, body)
        if status < 300:
            problems = self.spec.response_errors(template, method, status, answer)
            if template.endswith("/messages"):
                problems = without_content(problems, "/content")
            for problem in problems:
                self._violation(f"our answer to {method} {template} is off the spec: {problem}")
        return status, answer

    def _authorised(self, header: str) -> bool:
        if self.revoked or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        return given == f"{self.key_id}:{self.key_secret}"

    def _serve(self, template: str, method: str, path: str, body: Any) -> tuple[int, Any]:
        ids = path.split("/")
        example = lambda status=200: self.spec.example(template, method, status)  # noqa: E731
        if template == "/v2/apps/{appId}":
            answer = example()
            answer["app"]["id"] = self.app_id
            return 200, answer
        if template == "/v2/apps/{appId}/users" and method == "POST":
            if any(u["externalId"] == body.get("externalId") for u in self.users.values()):
                return self._error(409, "conflict", "User already exists")
            user = self._user(body.get("externalId"), (body.get("profile") or {}).get("email"))
            answer = example(201)
            answer["user"].update(id=user["id"], externalId=user["externalId"])
            answer["user"].pop("brandId", None)
            return 201, answer
        if template == "/v2/apps/{appId}/users/{userIdOrExternalId}":
            user = next((u for u in self.users.values() if ids[5] in (u["id"], u["externalId"])), None)
            if user is None:
                return self._error(404, "user_not_found", "User not found")
            answer = example()
            answer["user"].update(id=user["id"], externalId=user["externalId"])
            return 200, answer
        if template == "/v2/apps/{appId}/conversations" and method == "POST":
            [participant] = body["participants"]
            if participant.get("userId") not in self.users:
                return self._error(404, "user_not_found", "User not found")
            conversation = Conversation(_hex(), participant["userId"], None, dict(body.get("metadata") or {}))
            self.conversations[conversation.id] = conversation
            answer = example(201)
            answer["conversation"]["id"] = conversation.id
            return 201, answer
        conversation = self.conversations.get(ids[5]) if len(ids) > 5 else None
        if conversation is None:
            return self._error(404, "conversation_not_found", "Conversation not found")
        if template.endswith("/participants"):
            answer = example()
            answer["participants"][0]["userId"] = conversation.user_id
            return 200, answer
        if template.endswith("/messages"):
            message = self._add_message(conversation, body["author"], body["content"], body.get("metadata"))
            self._notify(conversation, "conversation:message", {"message": self._as_webhook(message)})
            return 201, {"messages": [message]}
        if template.endswith("/passControl"):
            target = self._integration(body["switchboardIntegration"])
            if target is None:
                return self._error(400, "bad_request", "No such switchboard integration")
            self._pass(conversation, target, body.get("metadata"))
            return 200, example()
        if template.endswith("/releaseControl"):
            self._release(conversation, (body or {}).get("metadata"))
            return 200, example()
        self._violation(f"{method} {template}: the fake does not serve this operation")
        return self._error(501, "not_implemented", "Not implemented")

    def _user(self, external_id: Optional[str], email: Optional[str]) -> dict:
        user = {"id": _hex(), "externalId": external_id, "email": email}
        self.users[user["id"]] = user
        return user

    def _integration(self, reference: str) -> Optional[Integration]:
        for integration in (self.bot, self.agent_workspace):
            if reference in (integration.id, integration.name, integration.integration_type):
                return integration
        return None

    def _add_message(self, conversation: Conversation, author: dict, content: dict, metadata: Optional[dict]) -> dict:
        stored_author = {key: value for key, value in author.items() if key not in ("userExternalId", "brandId")}
        message = {"id": _hex(), "received": _now(), "author": stored_author, "content": copy.deepcopy(content),
                   "source": {"type": "api:conversations"}}
        if metadata:
            message["metadata"] = metadata
        conversation.messages.append(message)
        self._changed.notify_all()
        return message

    def _pass(self, conversation: Conversation, target: Integration, metadata: Optional[dict], reason: Optional[str] = None) -> None:
        conversation.active = target
        conversation.control.append({"pass": target.name, "metadata": metadata or {}})
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        if reason:
            extra["reason"] = reason
        self._notify(conversation, "switchboard:passControl", extra)
        self._changed.notify_all()

    def _release(self, conversation: Conversation, metadata: Optional[dict], reason: Optional[str] = None) -> None:
        conversation.active = None
        conversation.control.append({"release": True, "metadata": metadata or {}})
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        if reason:
            extra["reason"] = reason
        self._notify(conversation, "switchboard:releaseControl", extra)
        self._changed.notify_all()

    # -- webhooks -------------------------------------------------------------------------

    def _as_webhook(self, message: dict) -> dict:
        """A message as a conversation:message event carries it (the user's author says who)."""
        shown = copy.deepcopy(message)
        author = shown["author"]
        if author.get("type") == "user" and author.get("userId") in self.users:
            user = self.users[author["userId"]]
            author["user"] = {"id": user["id"], "externalId": user["externalId"], "authenticated": False}
            if user.get("email"):
                author["user"]["profile"] = {"email": user["email"]}
        return shown

    def event_call(self, conversation: Conversation, trigger: str, payload: dict) -> dict:
        truncated: dict[str, Any] = {"id": conversation.id, "type": "personal"}
        if conversation.active is not None:
            truncated["activeSwitchboardIntegration"] = conversation.active.webhook()
        event = {"id": _hex(), "createdAt": _now(), "type": trigger, "payload": {"conversation": truncated, **payload}}
        call = {"app": {"id": self.app_id}, "webhook": {"id": self.webhook_id, "version": "v2"}, "events": [event]}
        for problem in webhook_errors(self.spec, call):
            self._violation(f"our {trigger} webhook is off the spec: {problem}")
        return call

    def _notify(self, conversation: Conversation, trigger: str, payload: dict) -> None:
        if self.webhook_url is not None:
            self._pending += 1
            self._outbox.put(self.event_call(conversation, trigger, payload))

    def deliver(self, call: dict | bytes, api_key: Optional[str] = None) -> httpx.Response:
        """POST one webhook call to the sidecar now, as Sunshine does (api_key "" sends none)."""
        assert self.webhook_url, "set webhook_url first"
        raw = call if isinstance(call, bytes) else json.dumps(call).encode()
        headers = {"Content-Type": "application/json"}
        key = self.webhook_secret if api_key is None else api_key
        if key:
            headers[API_KEY_HEADER] = key
        response = httpx.post(self.webhook_url, content=raw, headers=headers, timeout=30)
        with self._lock:
            self.webhook_results.append((json.loads(raw)["events"][0]["type"] if raw.startswith(b"{") else "?", response.status_code))
        return response

    def _send_queued(self) -> None:
        while True:
            call = self._outbox.get()
            if call is None:
                return
            try:
                self.deliver(call)
            except httpx.HTTPError as error:
                self._violation(f"webhook delivery failed: {type(error).__name__}")
            with self._lock:
                self._pending -= 1
                self._changed.notify_all()

    def drain(self, timeout: float = 10) -> None:
        """Wait until every queued webhook call was delivered."""
        self.wait_for(lambda: self._pending == 0, timeout=timeout, what="the queued webhooks")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20, what: str = "a change") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(remaining, 0.2))

    # -- the people ----------------------------------------------------------------------

    def conversation_of(self, external_id: str) -> Optional[Conversation]:
        with self._lock:
            for conversation in self.conversations.values():
                if self.users[conversation.user_id]["externalId"] == external_id:
                    return conversation
        return None

    def messages(self, conversation_id: str, author_type: Optional[str] = None) -> list[dict]:
        with self._lock:
            found = self.conversations[conversation_id].messages
            return [copy.deepcopy(m) for m in found if author_type in (None, m["author"]["type"])]

    def agent_says(self, conversation_id: str, text: str = "", agent: str = "Marta Ruiz", media: Optional[dict] = None,
                   send: bool = True) -> dict:
        """An agent writes in the agent workspace; `media` makes it an image or a file message."""
        content: dict[str, Any] = {"type": "text", "text": text}
        if media is not None:
            content = {"mediaSize": 1024, **media, **({"text": text} if text else {})}
        with self._lock:
            conversation = self.conversations[conversation_id]
            message = self._add_message(conversation, {"type": "business", "displayName": agent,
                                                       "avatarUrl": "https://acme.zendesk.example/avatar.png"}, content, None)
            call = self.event_call(conversation, "conversation:message", {"message": self._as_webhook(message)})
        if send:
            self.deliver(call)
        return call

    def agent_activity(self, conversation_id: str, kind: str, agent: str = "Marta Ruiz") -> httpx.Response:
        """typing:start, typing:stop or conversation:read, by an agent."""
        trigger = "conversation:read" if kind == "conversation:read" else "conversation:typing"
        with self._lock:
            call = self.event_call(self.conversations[conversation_id], trigger, {
                "activity": {"type": kind, "author": {"type": "business", "displayName": agent}},
            })
        return self.deliver(call)

    def agent_solves(self, conversation_id: str, release: bool = True) -> None:
        """The agent solves the ticket: the agent workspace releases control (or passes it back to the bot)."""
        with self._lock:
            conversation = self.conversations[conversation_id]
            if release:
                self._release(conversation, None, reason="ticketClosed")
            else:
                self._pass(conversation, self.bot, None, reason="ticketClosed")
        self.drain()

    def widget_user(self, email: Optional[str] = None) -> dict:
        """A user of Zendesk's own web widget (switchboard_bot mode)."""
        with self._lock:
            return self._user(f"web-{_hex()[:8]}", email)

    def widget_conversation(self, user: dict) -> str:
        with self._lock:
            conversation = Conversation(_hex(), user["id"], self.bot)
            self.conversations[conversation.id] = conversation
            return conversation.id

    def user_writes(self, conversation_id: str, text: str = "", payload: Optional[str] = None,
                    media: Optional[dict] = None) -> None:
        """The widget user writes (or taps a reply button, or sends a file); Sunshine tells the webhook."""
        content: dict[str, Any] = {"type": "text", "text": text}
        if payload is not None:
            content["payload"] = payload
        if media is not None:
            content = {"mediaSize": 2048, **media, **({"text": text} if text else {})}
        with self._lock:
            conversation = self.conversations[conversation_id]
            if conversation.active is None:
                conversation.active = self.bot  # the switchboard's default integration takes it
            author = {"type": "user", "userId": conversation.user_id}
            message = self._add_message(conversation, author, content, None)
            call = self.event_call(conversation, "conversation:message", {"message": self._as_webhook(message)})
        self.deliver(call)


