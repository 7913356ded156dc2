"""A fake Twilio (Conversations, Flex Interactions, TaskRouter) for tests, held to Twilio's own OpenAPI descriptions.

The specs it follows, read at run time from ../shared/reference/twilio/ next
to the repository (never copied; tests that need them are skipped, saying
why, when absent): `twilio_conversations_v1.json` (conversations.twilio.com),
`twilio_flex_v1.json` (flex-api.twilio.com, the Interactions resource) and
`twilio_taskrouter_v1.json` (taskrouter.twilio.com).

One server plays the three hosts under path prefixes (`/conversations`,
`/flex`, `/taskrouter`; point the connector's base URLs there). Every request
is checked: HTTP Basic auth with the account SID and auth token or the API
key (else 401 with Twilio's error 20003); the operation (method and path
template) exists; each path parameter matches its schema (SID patterns);
the query has only the operation's parameters; the form body validates
against the operation's form schema (unknown fields reported). The
Interactions `Channel` and `Routing` fields, which the spec types only as
"JSON", are held to the documented shapes: a chat channel bound to an
existing conversation (`properties.media_channel_sid`) and routing
`properties` with this workspace, workflow, a task channel and `attributes`.
Answers start from the spec's own examples, carry the fake's state, and are
validated against the operation's response schema. Anything off goes to
`violations`, which tests assert empty.

The media service (mcs.twilio.com, `/mcs` here) is not in the specs: the
fake answers `GET /v1/Services/{IS}/Media/{ME}` with the documented
`links.content_direct_temporary`, and checks the auth the same way.

The fake also plays Flex: an agent accepting the task joins the
conversation, writes, sends files and ends the chat; each is posted, as
Twilio does, to the webhook registered on the conversation (or the
service's), as a form signed with `X-Twilio-Signature` (base64 HMAC-SHA1 of
the URL then the sorted fields, with the auth token). A public URL can be
mapped to where it really lands (`proxies`), the way a reverse proxy
passes X-Forwarded-Proto/Host on.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx

from handoff_connectors.core.contract import WebhookRequest
from handoff_connectors.testing import Recorded, RecordingServer, desk_call, load_openapi, shared_reference

FORM = "application/x-www-form-urlencoded"
SPECS = {
    "conversations": ("twilio_conversations_v1.json", "Twilio Conversations"),
    "flex": ("twilio_flex_v1.json", "Twilio Flex"),
    "taskrouter": ("twilio_taskrouter_v1.json", "Twilio TaskRouter"),
}


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def twilio_signature(auth_token: str, url: str, form: dict[str, str]) -> str:
    """What Twilio puts in X-Twilio-Signature for a form of single-valued fields."""
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_call(url: str, form: dict[str, str], auth_token: str) -> WebhookRequest:
    """The signed call Twilio makes to `url`, as a WebhookRequest (X-Forwarded-* naming the public host)."""
    parts = urlsplit(url)
    headers = {
        "x-twilio-signature": twilio_signature(auth_token, url, form),
        "i-twilio-idempotency-token": str(uuid.uuid4()),
        "x-forwarded-proto": parts.scheme,
        "x-forwarded-host": parts.netloc,
    }
    return desk_call(parts.path, urlencode(form), headers, content_type=FORM, base_url=f"{parts.scheme}://{parts.netloc}")


@dataclass
class Agent:
    identity: str
    name: str
    queues: tuple[str, ...] = ()
    available: bool = True
    worker_sid: str = field(default_factory=lambda: sid("WK"))


@dataclass
class Conversation:
    sid: str
    unique_name: Optional[str]
    friendly_name: Optional[str]
    attributes: str
    state: str = "active"
    participants: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)


@dataclass
class Interaction:
    sid: str
    channel_sid: str
    conversation_sid: str
    channel: dict
    routing: dict
    task_sid: str = field(default_factory=lambda: sid("WT"))
    channel_status: str = "active"

    @property
    def task_attributes(self) -> dict:
        return self.routing["properties"]["attributes"]


class FakeTwilio:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        service_sid: str,
        workspace_sid: str,
        workflow_sid: str,
        agents: tuple[Agent, ...] = (),
        api_key: Optional[tuple[str, str]] = None,
    ) -> None:
        self.specs = {api: load_openapi(shared_reference("twilio", name), desk) for api, (name, desk) in SPECS.items()}
        self.account_sid, self.auth_token = account_sid, auth_token
        self.service_sid, self.workspace_sid, self.workflow_sid = service_sid, workspace_sid, workflow_sid
        self.credentials = {(account_sid, auth_token)} | ({api_key} if api_key else set())
        self.agents = {agent.identity: agent for agent in agents}
        self.conversations: dict[str, Conversation] = {}
        self.interactions: dict[str, Interaction] = {}
        self.media: dict[str, dict] = {}
        self.violations: list[str] = []
        self.calls: list[tuple[str, str, str, dict]] = []  # (api, method, path, form)
        self.webhook_results: list[tuple[str, int]] = []
        self.service_webhook_url: Optional[str] = None
        self.proxies: dict[str, str] = {}  # public base URL -> where it really lands
        self.failures: list[list] = []  # [method, path regex, status, times left]: answer that instead
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.server = RecordingServer(self._handle)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def base_urls(self, url: Optional[str] = None) -> dict[str, str]:
        """The connector's settings pointing at this fake (or at `url`, a failing desk)."""
        root = url or self.url
        return {
            "conversations_url": root + "/conversations",
            "flex_url": root + "/flex",
            "taskrouter_url": root + "/taskrouter",
            "media_url": root + "/mcs",
        }

    def __enter__(self) -> "FakeTwilio":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1) -> None:
        """Answer the next `times` matching calls with `status` (a Twilio error), without acting on them."""
        with self._lock:
            self.failures.append([method, re.compile(path_pattern), status, times])

    def _injected(self, method: str, path: str) -> Optional[int]:
        with self._lock:
            for failure in self.failures:
                if failure[0] == method and failure[1].search(path) and failure[3] > 0:
                    failure[3] -= 1
                    return failure[2]
        return None

    def revoke(self) -> None:
        """The auth token is rotated in the Console: every call with the old one is refused."""
        with self._lock:
            self.credentials = set()

    # -- the HTTP side -------------------------------------------------------------

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        api, _, rest = request.path.lstrip("/").partition("/")
        path = "/" + rest
        what = f"{request.method} /{api}{path}"
        if not self._authorised(request.headers.get("authorization", "")):
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
        injected = self._injected(request.method, f"/{api}{path}")
        if injected is not None:
            return injected, {"code": 20500 if injected >= 500 else 20400, "message": "injected", "status": injected}
        form: dict[str, list[str]] = {}
        if request.body:
            if not request.headers.get("content-type", "").startswith(FORM):
                self._violation(f"{what}: the body is not {FORM}")
                return 400, {"code": 20001, "message": "Invalid body", "status": 400}
            form = parse_qs(request.body.decode(), keep_blank_values=True)
        query = parse_qs(request.query, keep_blank_values=True)
        with self._lock:
            self.calls.append((api, request.method, path, {k: v if len(v) > 1 else v[0] for k, v in form.items()}))
        if api == "mcs":
            return self._media(request.method, path, what)
        spec = self.specs.get(api)
        found = spec.operation(request.method, path) if spec else None
        if found is None:
            self._violation(f"{what}: no such operation")
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        template, _ = found
        problems = self._path_errors(spec, template, request.method, path)
        problems += spec.query_errors(template, request.method, query)
        problems += spec.form_errors(template, request.method, form)
        for problem in problems:
            self._violation(f"{what}: {problem}")
        values = {k: v[-1] for k, v in form.items()}
        params = dict(zip(re.findall(r"\{([^}]+)\}", template), _path_values(template, path)))
        with self._lock:
            status, body = self._answer(api, request.method, template, params, values, form, query)
            self._changed.notify_all()
        if status < 300:
            for problem in spec.response_errors(template, request.method, status, body):
                self._violation(f"{what} answered: {problem}")
        return status, body

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) in self.credentials

    def _path_errors(self, spec, template: str, method: str, path: str) -> list[str]:
        params = {p["name"]: p for p in spec.parameters(template, method) if p.get("in") == "path"}
        problems = []
        for name, value in zip(re.findall(r"\{([^}]+)\}", template), _path_values(template, path)):
            schema = params.get(name, {}).get("schema", {})
            pattern = schema.get("pattern")
            if pattern and not re.match(pattern, value):
                problems.append(f"path {name} {value!r} does not match {pattern}")
        return problems

    def _example(self, api: str, template: str, method: str, status: int) -> dict:
        return self.specs[api].example(template, method.lower(), status)

    def _answer(self, api: str, method: str, template: str, p: dict, form: dict, raw_form: dict, query: dict) -> tuple[int, Any]:
        key = (api, method, template)
        service = "/v1/Services/{ChatServiceSid}"
        if api == "conversations" and p.get("ChatServiceSid", p.get("Sid")) != self.service_sid and template.startswith("/v1/Services"):
            return 404, {"code": 20404, "message": "Service not found", "status": 404}
        if key == ("conversations", "GET", "/v1/Services/{Sid}"):
            return 200, {**self._example(api, template, method, 200), "sid": self.service_sid, "account_sid": self.account_sid}
        if key == ("conversations", "POST", f"{service}/Conversations"):
            unique = form.get("UniqueName")
            if unique and any(c.unique_name == unique for c in self.conversations.values()):
                return 409, {"code": 50353, "message": "Conversation with provided unique name already exists", "status": 409}
            conversation = Conversation(sid("CH"), unique, form.get("FriendlyName"), form.get("Attributes", "{}"))
            self.conversations[conversation.sid] = conversation
            return 201, self._conversation_body(api, template, method, 201, conversation)
        if template.startswith(f"{service}/Conversations/"):
            conversation = self._find(p.get("Sid") or p.get("ConversationSid"))
            if conversation is None:
                return 404, {"code": 20404, "message": "Conversation not found", "status": 404}
            return self._in_conversation(api, method, template, conversation, form, raw_form)
        if key == ("conversations", "GET", f"{service}/Users/{{Sid}}"):
            agent = self.agents.get(p["Sid"])
            if agent is None:
                return 404, {"code": 20404, "message": "User not found", "status": 404}
            return 200, {**self._example(api, template, method, 200), "identity": agent.identity, "friendly_name": agent.name, "chat_service_sid": self.service_sid}
        if key == ("flex", "POST", "/v1/Interactions"):
            return self._interaction(api, template, method, form)
        if key == ("flex", "POST", "/v1/Interactions/{InteractionSid}/Channels/{Sid}"):
            interaction = self.interactions.get(p["InteractionSid"])
            if interaction is None or interaction.channel_sid != p["Sid"]:
                return 404, {"code": 20404, "message": "Interaction channel not found", "status": 404}
            interaction.channel_status = form.get("Status", interaction.channel_status)
            if interaction.channel_status == "closed":
                self.conversations[interaction.conversation_sid].state = "closed"
            answer = self._example(api, template, method, 200)
            answer.update(sid=interaction.channel_sid, interaction_sid=interaction.sid, status=interaction.channel_status, error_code=None, error_message=None)
            return 200, answer
        if key == ("taskrouter", "GET", "/v1/Workspaces/{WorkspaceSid}/Workers"):
            return self._workers(api, template, method, p, query)
        self._violation(f"{method} /{api}{template}: the fake does not play this operation")
        return 501, {"code": 0, "message": "not in the fake", "status": 501}

    def _find(self, key: str) -> Optional[Conversation]:
        return self.conversations.get(key) or next((c for c in self.conversations.values() if c.unique_name == key), None)

    def _conversation_body(self, api: str, template: str, method: str, status: int, conversation: Conversation) -> dict:
        answer = self._example(api, template, method, status)
        answer.update(
            sid=conversation.sid, account_sid=self.account_sid, chat_service_sid=self.service_sid,
            unique_name=conversation.unique_name, friendly_name=conversation.friendly_name,
            attributes=conversation.attributes, state=conversation.state, messaging_service_sid=None,
        )
        return answer

    def _in_conversation(self, api: str, method: str, template: str, conversation: Conversation, form: dict, raw_form: dict) -> tuple[int, Any]:
        tail = template.rsplit("/", 1)[-1]
        if tail == "{Sid}":
            if method == "POST":
                conversation.state = form.get("State", conversation.state)
                conversation.attributes = form.get("Attributes", conversation.attributes)
            return 200, self._conversation_body(api, template, method, 200, conversation)
        if conversation.state == "closed" and method == "POST":
            return 400, {"code": 50446, "message": "The conversation is closed", "status": 400}
        answer = self._example(api, template, method, 201)
        if tail == "Webhooks":
            hook = {"url": form.get("Configuration.Url"), "method": form.get("Configuration.Method"), "filters": raw_form.get("Configuration.Filters", [])}
            if form.get("Target") == "webhook" and not hook["url"]:
                self._violation(f"{template}: a webhook target without Configuration.Url")
            conversation.webhooks.append(hook)
            answer.update(sid=sid("WH"), conversation_sid=conversation.sid, chat_service_sid=self.service_sid, target=form.get("Target"), configuration=hook)
            return 201, answer
        if tail == "Participants":
            identity = form.get("Identity")
            if identity and any(x["identity"] == identity for x in conversation.participants):
                return 409, {"code": 50433, "message": "Participant already exists", "status": 409}
            participant = {"sid": sid("MB"), "identity": identity, "attributes": form.get("Attributes", "{}")}
            conversation.participants.append(participant)
            answer.update(sid=participant["sid"], identity=identity, attributes=participant["attributes"], conversation_sid=conversation.sid, messaging_binding=None)
            return 201, answer
        if tail == "Messages":
            message = {"sid": sid("IM"), "index": len(conversation.messages), "author": form.get("Author", "system"), "body": form.get("Body"), "attributes": form.get("Attributes", "{}"), "media": None}
            conversation.messages.append(message)
            answer.update(sid=message["sid"], index=message["index"], author=message["author"], body=message["body"], attributes=message["attributes"], media=None, conversation_sid=conversation.sid)
            return 201, answer
        self._violation(f"{method} {template}: the fake does not play this operation")
        return 501, {"code": 0, "message": "not in the fake", "status": 501}

    def _interaction(self, api: str, template: str, method: str, form: dict) -> tuple[int, Any]:
        channel, routing = _json_field(form, "Channel"), _json_field(form, "Routing")
        problems = []
        if not isinstance(channel, dict) or channel.get("type") not in ("chat", "sms", "whatsapp", "web", "messenger", "gbm", "email"):
            problems.append("Channel.type: a channel type the Interactions API knows")
        elif channel.get("initiated_by") not in ("customer", "agent", "api"):
            problems.append("Channel.initiated_by: customer, agent or api")
        media_sid = ((channel or {}).get("properties") or {}).get("media_channel_sid") if isinstance(channel, dict) else None
        if media_sid not in self.conversations:
            problems.append(f"Channel.properties.media_channel_sid: {media_sid!r} is no conversation of the service")
        props = (routing or {}).get("properties") if isinstance(routing, dict) else None
        if not isinstance(props, dict):
            problems.append("Routing.properties: required (an object)")
        else:
            if props.get("workspace_sid") != self.workspace_sid:
                problems.append("Routing.properties.workspace_sid: not the workspace")
            if props.get("workflow_sid") != self.workflow_sid:
                problems.append("Routing.properties.workflow_sid: not the workspace's workflow")
            if not isinstance(props.get("task_channel_unique_name"), str):
                problems.append("Routing.properties.task_channel_unique_name: required")
            if not isinstance(props.get("attributes"), dict):
                problems.append("Routing.properties.attributes: must be an object")
        if problems:
            for problem in problems:
                self._violation(f"POST /flex/v1/Interactions: {problem}")
            return 400, {"code": 20001, "message": "; ".join(problems), "status": 400}
        interaction = Interaction(sid("KD"), sid("UO"), media_sid, channel, routing)
        self.interactions[interaction.sid] = interaction
        answer = self._example(api, template, method, 200)
        answer["sid"] = interaction.sid
        answer["channel"] = {"type": channel["type"], "sid": interaction.channel_sid}
        answer["routing"]["properties"].update(
            sid=interaction.task_sid, workspace_sid=self.workspace_sid, workflow_sid=self.workflow_sid,
            attributes=json.dumps(interaction.task_attributes), task_channel_unique_name=props["task_channel_unique_name"],
        )
        answer["url"] = f"https://flex-api.twilio.com/v1/Interactions/{interaction.sid}"
        return 200, answer

    def _workers(self, api: str, template: str, method: str, p: dict, query: dict) -> tuple[int, Any]:
        if p["WorkspaceSid"] != self.workspace_sid:
            return 404, {"code": 20404, "message": "Workspace not found", "status": 404}
        agents = list(self.agents.values())
        if "Available" in query:
            wanted = query["Available"][-1] in ("true", "1")
            agents = [a for a in agents if a.available == wanted]
        for name in ("TaskQueueName", "TaskQueueSid"):
            if name in query:
                agents = [a for a in agents if query[name][-1] in a.queues]
        agents = agents[: int(query.get("PageSize", ["50"])[-1])]
        answer = self._example(api, template, method, 200)
        [worker] = answer["workers"][:1] or [{}]
        answer["workers"] = [
            {**copy.deepcopy(worker), "sid": a.worker_sid, "friendly_name": a.name, "available": a.available,
             "activity_name": "Available" if a.available else "Offline", "workspace_sid": self.workspace_sid}
            for a in agents
        ]
        return 200, answer

    def _media(self, method: str, path: str, what: str) -> tuple[int, Any]:
        match = re.fullmatch(r"/v1/Services/(IS[0-9a-f]{32})/Media/(ME[0-9a-f]{32})", path)
        if method != "GET" or match is None:
            self._violation(f"{what}: not the media service's GET /v1/Services/{{IS}}/Media/{{ME}}")
            return 404, {"code": 20404, "message": "not found", "status": 404}
        item = self.media.get(match.group(2))
        if match.group(1) != self.service_sid or item is None:
            return 404, {"code": 20404, "message": "Media not found", "status": 404}
        return 200, {
            "sid": match.group(2), "service_sid": self.service_sid, "filename": item["filename"],
            "content_type": item["content_type"], "size": 1234,
            "links": {"content": f"/v1/Services/{self.service_sid}/Media/{match.group(2)}/Content", "content_direct_temporary": item["url"]},
        }

    # -- what happened -------------------------------------------------------------

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "the condition"):
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}; calls so far: {[(c[1], c[0] + c[2]) for c in self.calls]}")
            return predicate()

    def conversation_of(self, identity: str) -> Optional[Conversation]:
        with self._lock:
            for conversation in self.conversations.values():
                if any(x["identity"] == identity for x in conversation.participants):
                    return conversation
        return None

    def interaction_of(self, conversation_sid: str) -> Optional[Interaction]:
        with self._lock:
            return next((i for i in self.interactions.values() if i.conversation_sid == conversation_sid), None)

    # -- Flex's side: agents, and the webhooks Twilio posts ------------------------------

    def event(self, conversation_sid: str, event_type: str, **fields: str) -> dict[str, str]:
        """The form of a Conversations post-event webhook, as Twilio sends it."""
        form = {
            "AccountSid": self.account_sid,
            "ChatServiceSid": self.service_sid,
            "ConversationSid": conversation_sid,
            "EventType": event_type,
            "Source": "SDK",
            "RetryCount": "0",
            "WebhookSid": sid("WH"),
            "WebhookType": "webhook",
            "DateCreated": "2024-05-02T10:15:00.000Z",
        }
        form.update(fields)
        return form

    def webhook_urls(self, conversation_sid: str, event_type: str) -> list[str]:
        conversation = self.conversations.get(conversation_sid)
        hooks = [h["url"] for h in (conversation.webhooks if conversation else []) if event_type in h["filters"]]
        return hooks or ([self.service_webhook_url] if self.service_webhook_url else [])

    def call(self, url: str, form: dict[str, str], auth_token: Optional[str] = None) -> WebhookRequest:
        return twilio_call(url, form, auth_token or self.auth_token)

    def deliver(self, conversation_sid: str, form: dict[str, str], **signing: Any) -> list[int]:
        """Post `form` to every webhook that asked for its event; the statuses the sidecar answered."""
        statuses = []
        for url in self.webhook_urls(conversation_sid, form["EventType"]):
            call = self.call(url, form, **signing)
            target = url
            for public, real in self.proxies.items():
                if url.startswith(public):
                    target = real + url[len(public):]
            response = httpx.post(target, content=call.body, headers=dict(call.headers), timeout=30)
            self.webhook_results.append((form["EventType"], response.status_code))
            statuses.append(response.status_code)
        return statuses

    def agent_accepts(self, conversation_sid: str, agent: Agent, send: bool = True) -> dict[str, str]:
        with self._lock:
            participant = {"sid": sid("MB"), "identity": agent.identity, "attributes": json.dumps({"member_type": "agent"})}
            self.conversations[conversation_sid].participants.append(participant)
        form = self.event(conversation_sid, "onParticipantAdded", ParticipantSid=participant["sid"], Identity=agent.identity,
                          Attributes=participant["attributes"], RoleSid=sid("RL"))
        if send:
            self.deliver(conversation_sid, form)
        return form

    def agent_says(self, conversation_sid: str, agent: Agent, text: str, files: tuple[tuple[str, str, str], ...] = (), send: bool = True) -> dict[str, str]:
        """An agent's message; `files` as (filename, content type, where its temporary link points)."""
        with self._lock:
            conversation = self.conversations[conversation_sid]
            media = []
            for filename, content_type, url in files:
                media_sid = sid("ME")
                self.media[media_sid] = {"filename": filename, "content_type": content_type, "url": url}
                media.append({"Sid": media_sid, "Filename": filename, "ContentType": content_type, "Size": 1234, "Category": "media"})
            message = {"sid": sid("IM"), "index": len(conversation.messages), "author": agent.identity, "body": text, "media": media or None}
            conversation.messages.append(message)
        fields = {"MessageSid": message["sid"], "Index": str(message["index"]), "Author": agent.identity, "Body": text,
                  "Attributes": "{}", "ParticipantSid": sid("MB"), "ClientIdentity": agent.identity}
        if media:
            fields["Media"] = json.dumps(media)
        form = self.event(conversation_sid, "onMessageAdded", **fields)
        if send:
            self.deliver(conversation_sid, form)
        return form

    def agent_ends_chat(self, conversation_sid: str, send: bool = True) -> dict[str, str]:
        """The agent ends the chat in Flex: the interaction's channel closes, and with it the conversation."""
        with self._lock:
            interaction = self.interaction_of(conversation_sid)
            if interaction is not None:
                interaction.channel_status = "closed"
            self.conversations[conversation_sid].state = "closed"
        form = self.event(conversation_sid, "onConversationStateUpdated", StateFrom="active", StateTo="closed",
                          Reason="API", DateUpdated="2024-05-02T10:20:00.000Z")
        if send:
            self.deliver(conversation_sid, form)
        return form


def _path_values(template: str, path: str) -> list[str]:
    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "/?$"
    match = re.match(pattern, path)
    return [unquote(v) for v in match.groups()] if match else []


def _json_field(form: dict, name: str) -> Any:
    try:
        return json.loads(form.get(name) or "null")
    except ValueError:
        return None
