"""The generic webhook connector, wire-compatible with GPTBots' human service.

Outbound (we call the desk's service at `connectors.webhook.url`):
    POST {url}/conversation/establish   the user asked for a person
    POST {url}/chat                     each further user message
    POST {url}/conversation/close       the user closed or timed out
optionally with HTTP Basic auth.

Inbound (the desk calls the sidecar, `Authorization: Bearer <api_key>`):
    POST /v1/human/message/receive      an agent's reply
    POST /v1/human/close                the agent closed the conversation

The field names are GPTBots' own, so a service written for GPTBots works after
changing only its base URL and key. Duplicates: a reply may carry our
extension field `message_id` (unique within its conversation); without it,
the same conversation, timestamp and text posted again is recognised as the
same reply.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, ClassVar

import httpx

from ..core.contract import (
    AgentMessage,
    CloseReason,
    Connector,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    HandoffRequest,
    HttpReply,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    UserMessage,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
)
from ..core.http import desk_request, is_auth_failure, is_retryable, json_object
from .settings import WebhookConnectorSettings

RECEIVE_PATH = "/v1/human/message/receive"
CLOSE_PATH = "/v1/human/close"

_CLOSE_TYPES = {
    CloseReason.USER_CLOSED: "USER_CLOSED",
    CloseReason.TIMEOUT: "TIMEOUT",
    # The protocol knows only these two; a bot-ended handoff is the user's side.
    CloseReason.BOT_ENDED: "USER_CLOSED",
}


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


# GPTBots' answers: success, and a conversation with no live handoff (the desk stops retrying).
_OK = HttpReply(200, {"code": 0, "message": "ok"})
_NO_HANDOFF = HttpReply(404, {"code": 404, "message": "no active handoff for this conversation"})


class WebhookConnector(Connector, TakesWebhooks):
    name: ClassVar[str] = "webhook"
    Settings = WebhookConnectorSettings
    webhook_routes = (("POST", RECEIVE_PATH), ("POST", CLOSE_PATH))

    @classmethod
    def from_settings(cls, settings: WebhookConnectorSettings, context: ConnectorContext) -> "WebhookConnector":
        return cls(settings)

    def __init__(self, settings: WebhookConnectorSettings, http: httpx.AsyncClient | None = None) -> None:
        self._url = settings.url
        self._bot_id = settings.bot_id
        self._api_key = settings.api_key.get_secret_value()
        auth = None
        if settings.username is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self._http = http or httpx.AsyncClient(timeout=settings.timeout, auth=auth)

    # -- outbound ------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        body = [
            {
                "text": turn.text,
                "message_type": "QUESTION" if turn.speaker is Speaker.USER else "ANSWER",
            }
            for turn in request.transcript
        ]
        body.append({"text": request.latest_question, "message_type": "QUESTION"})
        if request.message_to_agent:
            body.insert(0, {"text": request.message_to_agent, "message_type": "ANSWER"})
        await self._post(
            "/conversation/establish",
            {
                "conversation_id": request.handoff_id,
                "timestamp": _millis(request.created_at),
                "email": request.email,
                "bot_id": self._bot_id,
                "body": body,
                "user_info": {
                    "phone": None,
                    "email": request.email,
                    "user_id": request.sender_id,
                    "anonymous_id": request.sender_id,
                },
            },
        )
        return request.handoff_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        await self._post(
            "/chat",
            {
                "conversation_id": desk_conversation_id,
                "timestamp": _millis(message.sent_at),
                # The protocol has no files: each goes as a link on a line of its own.
                "body": message.text_with_links(),
            },
        )

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        await self._post(
            "/conversation/close",
            {
                "conversation_id": desk_conversation_id,
                "timestamp": _millis(time.time()),
                "type": _CLOSE_TYPES[reason],
            },
        )

    async def check(self) -> ServiceStatus:
        # The protocol has no status call: a reachable service that accepts
        # our credentials (if any) is Available.
        try:
            response = await self._http.get(self._url)
        except httpx.HTTPError:
            return ServiceStatus.UNAVAILABLE
        if is_auth_failure(response.status_code):
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def _post(self, path: str, payload: dict[str, Any]) -> None:
        response = await desk_request(self._http, "POST", self._url + path, what=f"POST {path}", json=payload)
        status = response.status_code
        if status < 300:
            return
        raise DeskError(
            f"POST {path} answered {status}",
            retryable=is_retryable(status),
            auth=is_auth_failure(status),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- inbound -------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        self._authenticate(request.headers)
        payload = json_object(request.body)
        conversation_id = _required_string(payload, "conversation_id")
        timestamp = payload.get("timestamp")
        if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
            raise WebhookRejected(400, "timestamp: required, a number (milliseconds)")
        if request.path == RECEIVE_PATH:
            text = _required_string(payload, "body")
            message_id = payload.get("message_id")
            if isinstance(message_id, str) and message_id:
                # Scoped to the conversation: desks may number messages per conversation.
                event_id = f"{conversation_id}:{message_id}"
            else:
                event_id = _fingerprint(conversation_id, timestamp, text)
            event = AgentMessage(event_id=event_id, desk_conversation_id=conversation_id, text=text)
        elif request.path == CLOSE_PATH:
            event = ConversationClosed(
                event_id=f"close:{conversation_id}", desk_conversation_id=conversation_id
            )
        else:
            raise WebhookRejected(404, f"no webhook at {request.path}")
        return WebhookReply(events=[event], reply=_OK, when_unknown=_NO_HANDOFF)

    def _authenticate(self, headers: dict[str, str]) -> None:
        given = headers.get("authorization", "")
        scheme, _, key = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.strip().encode(), self._api_key.encode()
        ):
            raise WebhookRejected(401, "missing or wrong bearer key")


def _required_string(payload: dict, field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(400, f"{field}: required, a non-empty string")
    return value


def _fingerprint(conversation_id: str, timestamp: float, text: str) -> str:
    digest = hashlib.sha256(f"{conversation_id}\n{timestamp}\n{text}".encode()).hexdigest()
    return f"fp:{digest[:32]}"
