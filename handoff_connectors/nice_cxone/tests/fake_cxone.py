"""A fake NICE CXone for tests: its OAuth server, the Digital (DFO 3.0) endpoints we use, and its BYOC side.

The spec it follows: ../shared/reference/nice-cxone/NOTES.md (there is no
OpenAPI description of DFO 3.0 in the reference). Every request is checked
against the shapes the notes document, and anything off is kept in
`violations`, which the tests assert empty:

- `POST /auth/token` (our API application's token): a form body with
  `grant_type=client_credentials`, the client in HTTP Basic ([AUTH]: OAuth
  2.0 client credentials). Wrong credentials, or a revoked application: 401
  `invalid_client` (CXone's answer, not a violation).
- every DFO call: `Authorization: Bearer` with a token this server issued and
  that has not expired (else 401, which the connector must survive by
  refreshing once).
- `GET /dfo/3.0/channels` ([SDK]): the channels.
- `POST /dfo/3.0/channels/{channelId}/messages` ([R1], [R2], [SDK]): an
  existing channel; `thread.idOnExternalPlatform`, `messageContent.type` and
  `messageContent.payload.text`, the message's own `idOnExternalPlatform`
  (unique: the same id twice is a duplicate the connector should not send),
  `direction: inbound`, `authorEndUserIdentity.idOnExternalPlatform`,
  `createdAtWithMilliseconds` (ISO 8601 with milliseconds), `attachments`
  with public `url`s ([R1]); no other top-level field. The first message of a
  thread creates the customer, the thread and the case in that channel, as
  [R1] says; a thread stays in its channel.

It also plays CXone calling the sidecar (BYOC-DEV, R1, R2): it fetches a
bearer token from the sidecar's token endpoint with the client id/secret it
was issued (JSON `{client_id, client_secret, grant_type}`, as R2), then
posts the agents' replies and the case's events with it; a 401 makes it
fetch a new token and try once more, as R2's "expected flow" shows.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import httpx

from handoff_connectors.nice_cxone import wire
from handoff_connectors.testing import Recorded, RecordingServer

_MESSAGE_FIELDS = {
    "thread", "messageContent", "idOnExternalPlatform", "direction", "createdAtWithMilliseconds",
    "authorEndUserIdentity", "attachments",
}
_ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_MESSAGES = re.compile(r"^/dfo/3\.0/channels/([^/]+)/messages$")


@dataclass
class Agent:
    id: str
    first_name: str
    surname: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.surname}"

    def json(self) -> dict:
        return {"id": self.id, "firstName": self.first_name, "surname": self.surname}


@dataclass
class Thread:
    id: str
    channel_id: str
    customer_id: str
    case_id: str
    messages: list[dict] = field(default_factory=list)
    status: str = "new"


class FakeCXone:
    def __init__(
        self, client_id: str, client_secret: str, byoc_client_id: str, byoc_client_secret: str,
        channels: tuple[str, ...] = ("chat-support",), token_lifetime: int = 3600,
    ) -> None:
        self.client = (client_id, client_secret)
        self.byoc_client = (byoc_client_id, byoc_client_secret)
        self.channels = list(channels)
        self.token_lifetime = token_lifetime
        self.violations: list[str] = []
        self.issued: dict[str, float] = {}  # our access tokens -> expiry
        self.token_fetches = 0
        self.revoked = False
        self.threads: dict[str, Thread] = {}
        self.message_ids: list[str] = []
        self.refused: list[str] = []  # DFO calls answered 401 (an expired or unknown token)
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.server = RecordingServer(self._handle)
        # The BYOC side: where the sidecar is, and the bearer CXone holds for it.
        self.sidecar_url: Optional[str] = None
        self.bearer: Optional[str] = None
        self.sidecar_tokens = 0
        self.deliveries: list[tuple[str, int, Any]] = []

    # -- running --------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def __enter__(self) -> "FakeCXone":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    def settings(self, **extra: Any) -> dict[str, Any]:
        """`connectors.nice_cxone` for a connector talking to this fake."""
        return {
            "api_url": self.url,
            "auth_url": self.url + "/auth/token",
            "client_id": self.client[0],
            "client_secret": self.client[1],
            "channel_id": self.channels[0],
            "byoc_client_id": self.byoc_client[0],
            "byoc_client_secret": self.byoc_client[1],
            **extra,
        }

    # -- what tests do to CXone ------------------------------------------------

    def expire_tokens(self) -> None:
        """Every access token we issued ends now (the next DFO call gets 401)."""
        with self._lock:
            self.issued.clear()

    def revoke(self) -> None:
        """The API application is revoked: no token works, none is issued."""
        with self._lock:
            self.revoked = True
            self.issued.clear()

    def thread(self, thread_id: str) -> Thread:
        return self.threads[thread_id]

    def texts(self, thread_id: str) -> list[str]:
        with self._lock:
            thread = self.threads.get(thread_id)
            return [m["messageContent"]["payload"]["text"] for m in thread.messages] if thread else []

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = predicate()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; threads: {list(self.threads)}")

    # -- the API ------------------------------------------------------------------

    def _violation(self, text: str) -> None:
        self.violations.append(text)

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        with self._lock:
            where = f"{request.method} {request.path}"
            if request.path == "/auth/token":
                if request.method != "POST":
                    self._violation(f"{where}: the token endpoint takes POST")
                    return 405, {"error": "invalid_request"}
                return self._token(request)
            if not request.path.startswith("/dfo/3.0/"):
                self._violation(f"{where}: not an endpoint of CXone's that the notes document")
                return 404, {"error": "not found"}
            if not self._authorised(request):
                return 401, {"error": "invalid_token"}
            if request.method == "GET" and request.path == wire.CHANNELS_PATH:
                return 200, [{"id": channel, "name": channel, "isPrivate": False} for channel in self.channels]
            found = _MESSAGES.match(request.path)
            if request.method == "POST" and found:
                return self._create_message(where, found.group(1), request)
            self._violation(f"{where}: not an endpoint of CXone's that the notes document")
            return 404, {"error": "not found"}

    def _token(self, request: Recorded) -> tuple[int, Any]:
        if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
            self._violation("POST /auth/token: the body must be a form (application/x-www-form-urlencoded)")
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            self._violation(f"POST /auth/token: grant_type {form.get('grant_type')!r}, not client_credentials")
            return 400, {"error": "unsupported_grant_type"}
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            self._violation("POST /auth/token: the client goes in HTTP Basic")
            return 401, {"error": "invalid_client"}
        client = tuple(base64.b64decode(value).decode().split(":", 1))
        if client != self.client or self.revoked:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
        self.token_fetches += 1
        token = f"cxone-at-{uuid.uuid4().hex}"
        self.issued[token] = time.time() + self.token_lifetime
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def _authorised(self, request: Recorded) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            self._violation(f"{request.method} {request.path}: no bearer token")
            return False
        if self.issued.get(token, 0) <= time.time():
            self.refused.append(f"{request.method} {request.path}")
            return False
        return True

    def _create_message(self, where: str, channel_id: str, request: Recorded) -> tuple[int, Any]:
        errors = []
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._violation(f"{where}: the body is not a JSON object")
            return 400, {"error": "invalid body"}
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            errors.append("the body is not sent as application/json")
        extra = set(body) - _MESSAGE_FIELDS
        if extra:
            errors.append(f"fields the notes do not document: {sorted(extra)}")
        thread_id = _string(body, "thread", "idOnExternalPlatform")
        if thread_id is None:
            errors.append("thread.idOnExternalPlatform missing")
        content = body.get("messageContent")
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            errors.append("messageContent.type missing")
        elif not isinstance((content.get("payload") or {}).get("text"), str):
            errors.append("messageContent.payload.text missing")
        message_id = body.get("idOnExternalPlatform")
        if not isinstance(message_id, str) or not message_id:
            errors.append("idOnExternalPlatform (the message's) missing")
        elif message_id in self.message_ids:
            errors.append(f"message {message_id} sent twice")
        if body.get("direction") != "inbound":
            errors.append(f"direction {body.get('direction')!r}, not inbound")
        customer = _string(body, "authorEndUserIdentity", "idOnExternalPlatform")
        if customer is None:
            errors.append("authorEndUserIdentity.idOnExternalPlatform missing")
        if not _ISO_MS.match(str(body.get("createdAtWithMilliseconds", ""))):
            errors.append("createdAtWithMilliseconds is not ISO 8601 with milliseconds")
        for index, attachment in enumerate(body.get("attachments") or []):
            if not (isinstance(attachment, dict) and str(attachment.get("url", "")).startswith(("http://", "https://"))):
                errors.append(f"attachments[{index}].url is not a public URL")
        if channel_id not in self.channels:
            errors.append(f"no channel {channel_id}")
        thread = self.threads.get(thread_id or "")
        if thread is not None and thread.channel_id != channel_id:
            errors.append(f"thread {thread_id} is in channel {thread.channel_id}, posted to {channel_id}")
        if errors:
            for error in errors:
                self._violation(f"{where}: {error}")
            return 400, {"error": "invalid request", "details": errors}
        if thread is None:
            thread = Thread(thread_id, channel_id, customer, case_id=str(next(self._ids)), status="open")
            self.threads[thread_id] = thread
        thread.messages.append(body)
        self.message_ids.append(message_id)
        return 200, {"id": uuid.uuid4().hex, "idOnExternalPlatform": message_id, "thread": {"id": thread.case_id}}

    # -- CXone calling the sidecar ------------------------------------------------

    def _fetch_bearer(self, client: Optional[tuple[str, str]] = None) -> httpx.Response:
        client_id, client_secret = client or self.byoc_client
        response = httpx.post(
            self.sidecar_url + wire.TOKEN_PATH,
            json={"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"},
            timeout=10,
        )
        self.sidecar_tokens += 1
        if response.status_code == 200:
            self.bearer = response.json()["access_token"]
        return response

    def call_sidecar(self, path: str, body: dict, bearer: Optional[str] = None) -> httpx.Response:
        """Post to the sidecar as CXone: with its bearer (fetched first), once more after a 401."""
        assert self.sidecar_url, "set sidecar_url first"
        if bearer is not None:
            return self._post(path, body, bearer)
        if self.bearer is None:
            self._fetch_bearer()
        response = self._post(path, body, self.bearer)
        if response.status_code == 401:
            self._fetch_bearer()
            response = self._post(path, body, self.bearer)
        return response

    def _post(self, path: str, body: dict, bearer: Optional[str]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = httpx.post(self.sidecar_url + path, json=body, headers=headers, timeout=10)
        with self._lock:
            self.deliveries.append((path, response.status_code, body))
        return response

    # -- what CXone sends (bodies) ------------------------------------------------

    def reply_body(self, thread_id: str, agent: Agent, text: str, attachments: tuple[dict, ...] = (), channel: bool = False) -> dict:
        """An agent's reply as the notes show it ([R1]/[R2]/[SDK])."""
        thread = self.threads.get(thread_id)
        body: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "thread": {"idOnExternalPlatform": thread_id},
            "messageContent": {"type": "TEXT", "payload": {"text": text}},
            "direction": "outbound",
            "createdAtWithMilliseconds": wire.timestamp(time.time()),
            "authorUser": agent.json(),
            "recipients": [{"idOnExternalPlatform": thread.customer_id if thread else "", "isPrimary": True, "isPrivate": False}],
        }
        if attachments:
            body["attachments"] = list(attachments)
        if channel:
            body["channelId"] = thread.channel_id if thread else self.channels[0]
        return body

    def event_body(self, thread_id: str, event_type: str, **fields: Any) -> dict:
        thread = self.threads.get(thread_id)
        return {
            "eventId": uuid.uuid4().hex,
            "eventType": event_type,
            "createdAt": wire.timestamp(time.time()),
            "thread": {"idOnExternalPlatform": thread_id},
            "case": {"id": thread.case_id if thread else "0", "status": thread.status if thread else "open"},
            **fields,
        }

    def reply_path(self, thread_id: str, outbound: bool = False) -> str:
        if outbound:
            channel = self.threads[thread_id].channel_id if thread_id in self.threads else self.channels[0]
            return wire.OUTBOUND_REPLY_ROUTE.replace("<channel_id>", channel)
        return wire.POST_REPLY_ROUTE.replace("<post_id>", thread_id)

    # -- the agents ---------------------------------------------------------------------

    def agent_says(self, thread_id: str, agent: Agent, text: str, attachments: tuple[dict, ...] = (), outbound: bool = False) -> httpx.Response:
        body = self.reply_body(thread_id, agent, text, attachments, channel=outbound)
        return self.call_sidecar(self.reply_path(thread_id, outbound), body)

    def agent_takes(self, thread_id: str, agent: Agent, previous: Optional[Agent] = None) -> httpx.Response:
        if thread_id in self.threads:
            self.threads[thread_id].status = "open"
        body = self.event_body(
            thread_id, wire.ASSIGNED, inboxAssignee=agent.json(), previousInboxAssignee=previous.json() if previous else None
        )
        return self.call_sidecar(wire.EVENTS_PATH, body)

    def agent_types(self, thread_id: str, agent: Agent, typing: bool = True) -> httpx.Response:
        kind = wire.TYPING_STARTED if typing else wire.TYPING_ENDED
        return self.call_sidecar(wire.EVENTS_PATH, self.event_body(thread_id, kind, user=agent.json()))

    def agent_resolves(self, thread_id: str, status: str = "resolved") -> httpx.Response:
        if thread_id in self.threads:
            self.threads[thread_id].status = status
        return self.call_sidecar(wire.EVENTS_PATH, self.event_body(thread_id, wire.STATUS_CHANGED))


def _string(body: dict, outer: str, inner: str) -> Optional[str]:
    value = body.get(outer)
    found = value.get(inner) if isinstance(value, dict) else None
    return found if isinstance(found, str) and found else None
