"""The Genesys Cloud connector: Open Messaging, channel to desk.

Genesys has no "open a conversation" call for Open Messaging: a conversation
starts with the first inbound message from a user id the integration has
not seen (or whose last conversation ended), and the integration's
Architect inbound message flow routes it to a queue. So:

- `start` sends the user's side as inbound open messages
  (`POST /api/v2/conversations/messages/{integrationId}/inbound/open/message`)
  from `channel.from.id` = the Rasa sender id: first the handoff summary
  (transcript, email, language, routing, message to the agent), then the
  latest question. Both carry the routing as `channel.metadata.customAttributes`
  (participant data the flow reads to pick the queue). The desk's id for the
  conversation is that user id: Genesys' webhooks name the user as
  `channel.to.id`, never a conversation id.
- `send` relays each user message with `channel.messageId` = our message id
  (stable across retries) and `channel.time` = when the user sent it; the
  first file as an Attachment content element, the others as messages of
  their own.
- `close` tells the agent in one last inbound message: Open Messaging has no
  call that ends a conversation from the user's side.

Tokens: OAuth client credentials, shared by every process through the store
(`FetchesTokens`); a 401 refreshes the token and the call is tried once more.

Webhooks (see `webhooks`): verified with X-Hub-Signature-256, read without
a network call or a write, so Genesys hears 200 well within its 10 s.
"""

from __future__ import annotations

import datetime
import mimetypes
import time
from typing import Any, ClassVar, Optional
from urllib.parse import quote, urlsplit

import httpx

from ..core.contract import (
    Attachment,
    CloseReason,
    Connector,
    ConnectorContext,
    DeskError,
    FetchesTokens,
    HandoffRequest,
    HttpReply,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    UserMessage,
    WebhookReply,
    WebhookRequest,
)
from . import webhooks
from .api import GenesysAPI
from .settings import GenesysSettings

WEBHOOK_PATH = "/genesys/messages"

# Store keys (under "genesys:").
START_KEY = "genesys:start:"  # a start in progress: {"sent": [steps done]}
CONVERSATION_KEY = "genesys:conversation:"  # the user id's current handoff: {"handoff_id"}

_CLOSE_TEXTS = {
    CloseReason.USER_CLOSED: "The customer ended the chat.",
    CloseReason.TIMEOUT: "The chat ended by itself: the customer sent nothing after the last agent message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}
_MEDIA_TYPES = (("image/", "Image"), ("video/", "Video"), ("audio/", "Audio"))


def genesys_time(epoch: float) -> str:
    """ISO-8601 as Genesys writes it: yyyy-MM-ddTHH:mm:ss.mmmZ (UTC)."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def transcript_text(request: HandoffRequest, queue: Optional[str]) -> str:
    """The first message the agent reads: who, where from, and what was said with the bot."""
    lines = ["Handoff from the bot."]
    facts = [("Email", request.email), ("Language", request.language), ("Routing", request.routing), ("Queue", queue)]
    facts += [(name, value) for name, value in request.attributes.items()]
    lines += [f"{label}: {value}" for label, value in facts if value]
    if request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    if request.transcript:
        lines.append("")
        lines.append("Conversation with the bot:")
        for turn in request.transcript:
            lines.append(f"{'User' if turn.speaker is Speaker.USER else 'Bot'}: {turn.text}")
    return "\n".join(lines)


def _content(attachment: Attachment) -> dict[str, Any]:
    """An Attachment content element (ConversationContentAttachment)."""
    path = urlsplit(attachment.url).path
    mime = attachment.content_type or mimetypes.guess_type(path)[0]
    media = next((kind for prefix, kind in _MEDIA_TYPES if mime and mime.startswith(prefix)), "File")
    element: dict[str, Any] = {"mediaType": media, "url": attachment.url}
    if mime:
        element["mime"] = mime
    name = attachment.name or (path.rsplit("/", 1)[-1] if path else "")
    if name:
        element["filename"] = name
    return {"contentType": "Attachment", "attachment": element}


class GenesysConnector(Connector, TakesWebhooks, FetchesTokens):
    name: ClassVar[str] = "genesys"
    Settings = GenesysSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: GenesysSettings, store, http: Optional[httpx.AsyncClient] = None) -> None:
        if store is None:
            raise ValueError("the Genesys connector keeps its progress in the handoff store")
        self.settings = settings
        self.store = store
        self._secret = settings.secret_token.get_secret_value()
        self.api = GenesysAPI(
            settings.login_base, settings.api_base, settings.client_id,
            settings.client_secret.get_secret_value(), settings.timeout, http,
        )
        self._inbound = f"/api/v2/conversations/messages/{quote(settings.integration_id, safe='')}/inbound/open/message"

    @classmethod
    def from_settings(cls, settings: GenesysSettings, context: ConnectorContext) -> "GenesysConnector":
        return cls(settings, context.store)

    async def fetch_token(self):
        return await self.api.fetch_token()

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.tokens.call(lambda token: self.api.call(token, "POST", self._inbound, body))

    def _message(self, user_id: str, message_id: str, sent_at: float, text: str,
                 attributes: Optional[dict[str, str]] = None, content: Optional[list] = None,
                 nickname: Optional[str] = None, email: Optional[str] = None) -> dict[str, Any]:
        sender: dict[str, Any] = {"id": user_id, "idType": "Opaque"}
        if nickname:
            sender["nickname"] = nickname
        if email:
            sender["email"] = email
        channel: dict[str, Any] = {"messageId": message_id, "from": sender, "time": genesys_time(sent_at)}
        if attributes:
            channel["metadata"] = {"customAttributes": attributes}
        body: dict[str, Any] = {"channel": channel}
        if text:
            body["text"] = text
        if content:
            body["content"] = content
        return body

    # -- outbound ------------------------------------------------------------

    def routing_attributes(self, request: HandoffRequest) -> dict[str, str]:
        """What the inbound message flow reads with Get Participant Data (all strings)."""
        queue = self.settings.queue_for(request.routing)
        attributes = {"handoff_id": request.handoff_id, "handoff_language": request.language}
        if request.email:
            attributes["handoff_email"] = request.email
        if request.routing:
            attributes["handoff_routing"] = request.routing
        if queue:
            attributes["handoff_queue"] = queue
        for name, value in request.attributes.items():
            attributes.setdefault(str(name), str(value))
        return attributes

    async def start(self, request: HandoffRequest) -> str:
        # Resumable: a retry after a failure part-way sends only what is left.
        user_id = request.sender_id
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key) or {"sent": []}
        await self.store.put(CONVERSATION_KEY + user_id, {"handoff_id": request.handoff_id})
        attributes = self.routing_attributes(request)
        queue = self.settings.queue_for(request.routing)
        nickname = request.email or None
        steps = [
            ("summary", transcript_text(request, queue), request.created_at),
            # A millisecond later: Genesys orders by time, and the question comes after the summary.
            ("question", request.latest_question, request.created_at + 0.001),
        ]
        for step, text, moment in steps:
            if step in progress["sent"] or not text.strip():
                continue
            await self._post(self._message(
                user_id, f"{request.handoff_id}-{step}", moment, text, attributes, nickname=nickname, email=request.email or None,
            ))
            progress["sent"].append(step)
            await self.store.put(key, progress)
        await self.store.delete(key)
        return user_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        files = list(message.attachments)
        first = [_content(files[0])] if files else None
        await self._post(self._message(desk_conversation_id, message.message_id, message.sent_at, message.text, content=first))
        # One attachment per message (the API allows one Attachment element): the rest follow, in order.
        for index, attachment in enumerate(files[1:], start=1):
            await self._post(self._message(
                desk_conversation_id, f"{message.message_id}-file{index}", message.sent_at + index / 1000, "",
                content=[_content(attachment)],
            ))

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        key = CONVERSATION_KEY + desk_conversation_id
        record = await self.store.get(key) or {}
        handoff = record.get("handoff_id") or desk_conversation_id
        if "closed_at" not in record:
            # A retry repeats the same message id and time, so Genesys sees one message.
            record["closed_at"] = time.time()
            await self.store.put(key, record)
        await self._post(self._message(desk_conversation_id, f"{handoff}-close", record["closed_at"], _CLOSE_TEXTS[reason]))
        await self.store.delete(key)

    async def check(self) -> ServiceStatus:
        """The token is issued and the integration readable with it."""
        path = f"/api/v2/conversations/messaging/integrations/open/{quote(self.settings.integration_id, safe='')}"
        try:
            await self.tokens.call(lambda token: self.api.call(token, "GET", path))
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound -------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        webhooks.verify(self._secret, request.headers, request.body)
        # 200 for everything verified, ours or not: Genesys retries only timeouts, 429 and 5xx.
        return WebhookReply(events=webhooks.parse(request.body), reply=HttpReply(200, {"ok": True}))
