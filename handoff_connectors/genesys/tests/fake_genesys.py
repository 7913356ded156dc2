"""A fake Genesys Cloud org with one Open Messaging integration, holding each request to the documented shapes.

There is no OpenAPI description of Open Messaging among the shared
references, so the fake checks what the reference notes
(`../shared/reference/genesys/NOTES.md`) document, from the Developer
Center and the official SDKs' models:

- `POST /oauth/token` (login host): form body `grant_type=client_credentials`,
  HTTP Basic with the client id and secret; answers `access_token`,
  `token_type`, `expires_in`.
- `POST /api/v2/conversations/messages/{integrationId}/inbound/open/message`:
  a bearer token it issued and that has not expired; the body an
  OpenInboundNormalizedMessage (`channel` required with `from.id`,
  `from.idType` in Email/Phone/Opaque and `time` as yyyy-MM-ddTHH:mm:ss[.mmm]Z;
  optional `messageId`, `metadata`; top level `text`, `content`, `metadata`
  (string to string) and nothing else; content elements of `contentType`
  Attachment with a `mediaType` of the enum, at most one of them).
- `GET /api/v2/conversations/messaging/integrations/open/{integrationId}`.

Every deviation is kept in `violations`. The agents' side posts Outbound
Open NormalizedMessages to the webhook URL, signed as Genesys signs them
(`X-Hub-Signature-256: sha256=` + base64 HMAC-SHA256 of the body with the
integration's secret token), and retries a delivery answered 429/5xx or not
in time, up to five times.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx

from handoff_connectors.genesys.webhooks import signature
from handoff_connectors.testing import Recorded, RecordingServer

INBOUND = re.compile(r"^/api/v2/conversations/messages/([^/]+)/inbound/open/message$")
INTEGRATION = re.compile(r"^/api/v2/conversations/messaging/integrations/open/([^/]+)$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
ID_TYPES = ("Email", "Phone", "Opaque")
MEDIA_TYPES = ("Image", "Video", "Audio", "File", "Link")
FROM_FIELDS = {"id", "idType", "nickname", "firstName", "lastName", "image", "email"}
CHANNEL_FIELDS = {"from", "time", "messageId", "metadata"}
MESSAGE_FIELDS = {"channel", "text", "content", "metadata"}
ATTACHMENT_FIELDS = {"id", "mediaType", "url", "mime", "text", "sha256", "filename", "contentSizeBytes"}


@dataclass
class Conversation:
    """What one user id sent to the integration, in arrival order."""

    user_id: str
    messages: list[dict] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages]


class FakeGenesys:
    def __init__(self, client_id: str, client_secret: str, integration_id: str, secret_token: str,
                 token_lifetime: int = 86400) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.integration_id, self.secret_token = integration_id, secret_token
        self.token_lifetime = token_lifetime
        self.violations: list[str] = []
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch)
        self.issued = 0
        self.revoked = False
        self.conversations: dict[str, Conversation] = {}
        self.duplicates: list[str] = []
        self.webhook_url: Optional[str] = None
        self.webhook_results: list[tuple[str, int]] = []
        self._ids = itertools.count(1)
        # What the next inbound messages get: None lets one through, a status refuses it.
        self._failures: list[Optional[int]] = []
        self._changed = threading.Condition()
        self.server = RecordingServer(self._handle)

    # -- running ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> "FakeGenesys":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def _violation(self, text: str) -> None:
        with self._changed:
            self.violations.append(text)

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict]:
        return status, {"message": message, "code": code, "status": status, "contextId": uuid.uuid4().hex, "details": [], "errors": []}

    # -- the org's admin side -----------------------------------------------------------

    def revoke(self) -> None:
        """The OAuth client is deleted or its secret rotated: no token issued, none accepted."""
        with self._changed:
            self.revoked = True
            self.tokens.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far reaches its end now (refused from here on)."""
        with self._changed:
            self.tokens = {token: 0.0 for token in self.tokens}

    def fail_inbound(self, status: int, times: int = 1, after: int = 0) -> None:
        """After `after` inbound messages, the next `times` are answered `status` and not taken."""
        with self._changed:
            self._failures = [None] * after + [status] * times

    # -- requests -------------------------------------------------------------------------

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if request.method == "POST" and request.path == "/oauth/token":
            return self._token(request)
        refused = self._bearer(request)
        if refused:
            return refused
        found = INBOUND.match(request.path)
        if found and request.method == "POST":
            return self._inbound(request, found.group(1))
        found = INTEGRATION.match(request.path)
        if found and request.method == "GET":
            if found.group(1) != self.integration_id:
                return self._error(404, "not.found", "integration not found")
            return 200, {
                "id": self.integration_id, "name": "Rasa bot", "status": "Active",
                "outboundNotificationWebhookUrl": self.webhook_url or "https://sidecar.example/genesys/messages",
                "messengerType": "open",
            }
        self._violation(f"{request.method} {request.path}: not an endpoint the connector should call")
        return self._error(404, "not.found", "no such resource")

    def _token(self, request: Recorded) -> tuple[int, Any]:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            self._violation("POST /oauth/token: the body must be form-encoded")
        form = dict(part.split("=", 1) for part in request.body.decode().split("&") if "=" in part)
        if form.get("grant_type") != "client_credentials":
            self._violation(f"POST /oauth/token: grant_type {form.get('grant_type')!r}, expected client_credentials")
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not auth.startswith("Basic "):
            self._violation("POST /oauth/token: no HTTP Basic client authentication")
        if auth != expected or self.revoked:
            return 401, {"error": "invalid_client", "description": "client not found or secret wrong"}
        with self._changed:
            self.issued += 1
            token = f"gc-token-{self.issued}-{uuid.uuid4().hex[:8]}"
            self.tokens[token] = time.time() + self.token_lifetime
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}

    def _bearer(self, request: Recorded) -> Optional[tuple[int, Any]]:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            self._violation(f"{request.method} {request.path}: no bearer token")
            return self._error(401, "authentication.required", "No authentication bearer token specified")
        with self._changed:
            expiry = self.tokens.get(auth[len("Bearer "):])
        if expiry is None or expiry <= time.time():
            return self._error(401, "bad.credentials", "Invalid login credentials.")
        return None

    def _inbound(self, request: Recorded, integration_id: str) -> tuple[int, Any]:
        where = f"POST {request.path}"
        if integration_id != self.integration_id:
            self._violation(f"{where}: integration {integration_id!r} is not this org's")
            return self._error(404, "not.found", "integration not found")
        try:
            body = request.json()
        except ValueError:
            self._violation(f"{where}: body is not JSON")
            return self._error(400, "bad.request", "malformed syntax")
        errors = self.message_errors(body)
        for error in errors:
            self._violation(f"{where}: {error}")
        if errors:
            return self._error(400, "bad.request", "; ".join(errors))
        with self._changed:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return self._error(failure, "injected", f"injected {failure}")
        channel = body["channel"]
        user_id = channel["from"]["id"]
        genesys_id = f"gmsg-{next(self._ids)}"
        with self._changed:
            conversation = self.conversations.setdefault(user_id, Conversation(user_id))
            seen = {(m["channel"].get("messageId"), m["channel"]["time"]) for m in conversation.messages}
            key = (channel.get("messageId"), channel["time"])
            if channel.get("messageId") and key in seen:
                self.duplicates.append(channel["messageId"])
            else:
                conversation.messages.append(body)
            self._changed.notify_all()
        return 200, {
            "id": genesys_id, "channel": {**channel, "platform": "Open", "type": "Private", "id": self.integration_id},
            "type": "Text", "text": body.get("text", ""), "direction": "Inbound",
        }

    @staticmethod
    def message_errors(body: Any) -> list[str]:
        """What in an OpenInboundNormalizedMessage the documented shape does not allow."""
        if not isinstance(body, dict):
            return ["the body must be an object"]
        errors = [f"unknown field {key!r}" for key in body if key not in MESSAGE_FIELDS]
        channel = body.get("channel")
        if not isinstance(channel, dict):
            return errors + ["channel is required"]
        errors += [f"unknown field channel.{key}" for key in channel if key not in CHANNEL_FIELDS]
        sender = channel.get("from")
        if not isinstance(sender, dict):
            errors.append("channel.from is required")
        else:
            errors += [f"unknown field channel.from.{key}" for key in sender if key not in FROM_FIELDS]
            if not isinstance(sender.get("id"), str) or not sender["id"]:
                errors.append("channel.from.id is required")
            if sender.get("idType") not in ID_TYPES:
                errors.append(f"channel.from.idType {sender.get('idType')!r} not in {ID_TYPES}")
        if not isinstance(channel.get("time"), str) or not TIME.match(channel["time"]):
            errors.append(f"channel.time {channel.get('time')!r} is not yyyy-MM-ddTHH:mm:ss[.mmm]Z")
        if "messageId" in channel and (not isinstance(channel["messageId"], str) or not channel["messageId"]):
            errors.append("channel.messageId must be a non-empty string")
        if "metadata" in channel and not isinstance(channel["metadata"], dict):
            errors.append("channel.metadata must be an object")
        attributes = (channel.get("metadata") or {}).get("customAttributes") if isinstance(channel.get("metadata"), dict) else None
        if attributes is not None and not (
            isinstance(attributes, dict) and all(isinstance(v, str) for v in attributes.values())
        ):
            errors.append("channel.metadata.customAttributes must map names to strings")
        metadata = body.get("metadata")
        if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
            errors.append("metadata must map strings to strings")
        if "text" in body and not isinstance(body["text"], str):
            errors.append("text must be a string")
        content = body.get("content")
        if content is not None:
            if not isinstance(content, list):
                errors.append("content must be a list")
            else:
                errors += FakeGenesys._content_errors(content)
        if not (isinstance(body.get("text"), str) and body["text"].strip()) and not content:
            errors.append("a message needs text or content")
        return errors

    @staticmethod
    def _content_errors(content: list) -> list[str]:
        errors = []
        attachments = [c for c in content if isinstance(c, dict) and c.get("contentType") == "Attachment"]
        if len(attachments) > 1:
            errors.append("only one Attachment content element is allowed")
        for index, element in enumerate(content):
            if not isinstance(element, dict) or element.get("contentType") != "Attachment":
                errors.append(f"content[{index}].contentType must be Attachment")
                continue
            attachment = element.get("attachment")
            if not isinstance(attachment, dict):
                errors.append(f"content[{index}].attachment is required")
                continue
            errors += [f"unknown field content[{index}].attachment.{k}" for k in attachment if k not in ATTACHMENT_FIELDS]
            if attachment.get("mediaType") not in MEDIA_TYPES:
                errors.append(f"content[{index}].attachment.mediaType {attachment.get('mediaType')!r} not in {MEDIA_TYPES}")
            if not isinstance(attachment.get("url"), str) or not attachment["url"].startswith(("http://", "https://")):
                errors.append(f"content[{index}].attachment.url must be an http(s) URL")
        return errors

    # -- what the tests read ----------------------------------------------------------------

    def conversation(self, user_id: str) -> Conversation:
        with self._changed:
            return self.conversations.setdefault(user_id, Conversation(user_id))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = predicate()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(remaining, 0.1))

    def wait_for_messages(self, user_id: str, count: int, timeout: float = 20.0) -> list[dict]:
        return self.wait_for(
            lambda: len(self.conversation(user_id).messages) >= count and list(self.conversation(user_id).messages),
            timeout, f"{count} inbound message(s) from {user_id}",
        )

    # -- the agents' side: outbound messages to the webhook ---------------------------------

    def outbound(self, user_id: str, kind: str = "Text", agent: Optional[str] = None, **fields: Any) -> dict:
        """An Outbound Open NormalizedMessage about `user_id`, as Genesys posts it."""
        message_id = f"{uuid.uuid4().hex}"
        sender: dict[str, Any] = {"id": self.integration_id, "idType": "Opaque", "nickname": "Rasa bot"}
        if agent:
            first, _, last = agent.partition(" ")
            sender = {"id": f"agent-{first.lower()}", "idType": "Opaque", "nickname": agent, "firstName": first}
            if last:
                sender["lastName"] = last
        body = {
            "id": message_id,
            "channel": {
                "id": self.integration_id, "platform": "Open", "type": "Private", "messageId": message_id,
                "to": {"id": user_id, "idType": "Opaque"}, "from": sender,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            },
            "type": kind,
            "direction": "Outbound",
            "originatingEntity": "Human",
        }
        body.update(fields)
        return body

    def says(self, user_id: str, agent: str, text: str, attachments: tuple[dict, ...] = ()) -> dict:
        content = [{"contentType": "Attachment", "attachment": a} for a in attachments]
        return self.outbound(user_id, agent=agent, text=text, **({"content": content} if content else {}))

    def types(self, user_id: str, on: bool = True) -> dict:
        return self.outbound(user_id, "Event", events=[{"eventType": "Typing", "typing": {"type": "On" if on else "Off", "duration": 5000}}])

    def presence(self, user_id: str, kind: str, agent: Optional[str] = None) -> dict:
        return self.outbound(user_id, "Event", agent=agent, events=[{"eventType": "Presence", "presence": {"type": kind}}])

    def signed(self, body: dict | bytes, secret: Optional[str] = None) -> tuple[bytes, dict[str, str]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret or self.secret_token, raw)}

    def deliver(self, body: dict, secret: Optional[str] = None, signature_header: Optional[str] = None,
                retries: int = 5, pause: float = 0.2) -> httpx.Response:
        """POST to the webhook URL as Genesys does: 10 s to answer; 429, 5xx or no answer is retried."""
        raw, headers = self.signed(body, secret)
        if signature_header is not None:
            headers["X-Hub-Signature-256"] = signature_header
        assert self.webhook_url, "no webhook URL configured"
        response: Optional[httpx.Response] = None
        for attempt in range(retries + 1):
            try:
                response = httpx.post(self.webhook_url, content=raw, headers=headers, timeout=10)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code != 429 and response.status_code < 500:
                break
            time.sleep(pause)
        with self._changed:
            self.webhook_results.append((body.get("type", "?"), response.status_code if response is not None else 0))
        assert response is not None, "the webhook never answered"
        return response
