"""The example desk's connector: a small REST API out, signed webhooks in.

Out (we call the desk at `connectors.example.url`, `Authorization: Bearer <api_token>`):
    POST /conversations                  open one: customer, transcript, question, queue -> {"id": ...}
    POST /conversations/{id}/messages    a user message: {"id", "text", "files"}
    POST /conversations/{id}/close       we ended it: {"reason"}
    GET  /me                             the token's owner: the credential check

In (the desk calls the sidecar at POST /example/events):
    {"id": "evt-1", "type": "message", "conversation": "c-1", "agent": "Sam", "text": "Hi", "files": []}
    {"id": "evt-2", "type": "typing",  "conversation": "c-1", "agent": "Sam", "typing": true}
    {"id": "evt-3", "type": "closed",  "conversation": "c-1"}
signed with `X-Example-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with webhook_secret>`.
The desk retries a webhook until it hears a 2xx, with the same event id.

Only the parts this desk has: the client (required) and `TakesWebhooks`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar, Optional
from urllib.parse import quote

import httpx

from handoff_connectors import (
    AgentMessage,
    AgentTyping,
    CloseReason,
    Connector,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    HttpReply,
    ServiceStatus,
    TakesWebhooks,
    UserMessage,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
)
from handoff_connectors.core.http import is_auth_failure, is_retryable, json_object

from .settings import ExampleSettings

WEBHOOK_PATH = "/example/events"
SIGNATURE_HEADER = "x-example-signature"
_DELIVERED = HttpReply(200, {"ok": True})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class ExampleConnector(Connector, TakesWebhooks):
    name: ClassVar[str] = "example"
    Settings = ExampleSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: ExampleSettings, http: Optional[httpx.AsyncClient] = None) -> None:
        self._url = settings.url
        self._secret = settings.webhook_secret.get_secret_value()
        self._queue = settings.queue
        token = settings.api_token.get_secret_value()
        self._http = http or httpx.AsyncClient(timeout=settings.timeout, headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def from_settings(cls, settings: ExampleSettings, context: ConnectorContext) -> "ExampleConnector":
        # This desk needs neither the store nor the sidecar's public URL.
        return cls(settings)

    # -- out: the desk's API ------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        answer = await self._call("POST", "/conversations", {
            "reference": request.handoff_id,
            "customer": {"id": request.sender_id, "email": request.email, "language": request.language},
            "transcript": [{"from": turn.speaker.value, "text": turn.text} for turn in request.transcript],
            "question": request.latest_question,
            "queue": request.routing or self._queue,
            "note": request.message_to_agent,
        })
        conversation_id = answer.get("id")
        if not isinstance(conversation_id, str) or not conversation_id:
            # Trying again would open a second conversation: park it instead.
            raise DeskError("POST /conversations answered without an id", retryable=False)
        return conversation_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        files = [{"url": a.url, "name": a.name, "type": a.content_type} for a in message.attachments]
        # The message id lets the desk drop a message our retry sends twice.
        await self._call("POST", f"/conversations/{_segment(desk_conversation_id)}/messages", {
            "id": message.message_id, "text": message.text, "files": files,
        })

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        await self._call("POST", f"/conversations/{_segment(desk_conversation_id)}/close", {"reason": reason.value})

    async def check(self) -> ServiceStatus:
        try:
            await self._call("GET", "/me")
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """One API call; a failure becomes a DeskError the outbox understands (retry, park, or auth)."""
        try:
            response = await self._http.request(method, self._url + path, json=body)
        except httpx.HTTPError as error:
            # No answer (refused, reset, timed out): the desk may be back soon.
            raise DeskError(f"{method} {path}: {type(error).__name__}", retryable=True) from None
        status = response.status_code
        if status >= 300:
            raise DeskError(f"{method} {path} answered {status}", retryable=is_retryable(status), auth=is_auth_failure(status))
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- in: the desk's webhooks -----------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
        if not given or not hmac.compare_digest(given.encode(), signature(self._secret, request.body).encode()):
            raise WebhookRejected(401, f"missing or wrong {SIGNATURE_HEADER}")
        payload = json_object(request.body)
        event = _event(payload, _text(payload, "id"), _text(payload, "conversation"))
        # Ours or not, the desk hears success: anything else it would retry forever.
        return WebhookReply(events=[event] if event else [], reply=_DELIVERED)


def _event(payload: dict[str, Any], event_id: str, conversation: str) -> Optional[DeskEvent]:
    kind = payload.get("type")
    agent = _optional_text(payload, "agent")
    if kind == "message":
        files = payload.get("files", [])
        if not isinstance(files, list) or not all(isinstance(url, str) and url for url in files):
            raise WebhookRejected(400, "files: a list of URLs, if given")
        return AgentMessage(event_id, conversation, text=_text(payload, "text"), agent_name=agent, attachments=tuple(files))
    if kind == "typing":
        typing = payload.get("typing", True)
        if not isinstance(typing, bool):
            raise WebhookRejected(400, "typing: true or false, if given")
        return AgentTyping(event_id, conversation, agent_name=agent, typing=typing)
    if kind == "closed":
        return ConversationClosed(event_id, conversation)
    if not isinstance(kind, str):
        raise WebhookRejected(400, "type: required, a string")
    # A kind of event the desk added later: nothing we show, and no reason to make it retry.
    return None


def _text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(400, f"{field}: required, a non-empty string")
    return value


def _optional_text(payload: dict[str, Any], field: str) -> Optional[str]:
    value = payload.get(field)
    if value is not None and not isinstance(value, str):
        raise WebhookRejected(400, f"{field}: a string, if given")
    return value or None


def _segment(value: str) -> str:
    # A conversation id is one path segment, whatever it holds.
    return quote(value, safe="")
