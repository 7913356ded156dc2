"""The Zoho SalesIQ connector (REST API v2, OAuth 2.0 refresh tokens), in two modes.

channel (default): the user talks to the bot on any channel. A handoff opens
a SalesIQ conversation for a visitor standing for the user (Create
Conversation, visitor API v2) in the routing's department, with the user's
question, the transcript and the message to the agent in the question the
operator reads first, and the user's facts in `customer_info`. The user's
further messages are the visitor's messages (files as links after the text).
The data webhook brings the operators back: `conversation.attender.updated`
(an operator picked it: joined), `conversation.operator.replied` (a message,
with its attachments), `conversation.transfer.accepted` (transferred),
`conversation.completed` (closed) and `conversation.missed` (nobody took it).

zobot: the bot is also a SalesIQ Zobot on the webhook platform (the core's
bot-inside-the-desk mode, `core/desk_bot.py`). The Zobot webhook's
`message` calls become `UserWroteInDesk` for the sender
`zoho_salesiq-<conversation id>`; the call is answered at once and the bot's
answers are posted into the chat with the operator Send Message API, since
Rasa answers after the webhook call is over. A handoff there transfers that
same chat to the department (Transfer chat API, the Zobot's "forward to
operator"); the bot stays quiet until SalesIQ ends the chat.

Tokens come from `fetch_token` (the refresh token exchanged at the data
centre's accounts server); the core shares them through the store and, when
SalesIQ refuses one (401), refreshes it and tries the call once more.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, ClassVar, Optional

import httpx

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    CloseReason,
    Connector,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    DeskEvent,
    FetchesTokens,
    HandoffRequest,
    HostsTheBot,
    HttpReply,
    IssuedToken,
    RoutingFailed,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    Transferred,
    UserMessage,
    UserWroteInDesk,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
)
from . import signature, webhooks
from .api import SalesIQAPI, segment
from .settings import ZohoSalesIQSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/zoho_salesiq/webhook"
ZOBOT_PATH = "/zoho_salesiq/zobot"
SENDER_PREFIX = "zoho_salesiq-"

CONVERSATION_KEY = "zoho_salesiq:conversation:"  # a conversation handed off by us: {handoff_id, zobot}
BUTTONS_KEY = "zoho_salesiq:buttons:"  # buttons the bot offered in a Zobot chat: {options: {title: payload}}

# What the Zobot webhook answers: the bot's words come through the API, after Rasa answered.
ZOBOT_ACK = {"action": "reply", "replies": []}
_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "[rasa-handoff] The user ended the chat.",
    CloseReason.TIMEOUT: "[rasa-handoff] The chat ended by itself: the user sent nothing after the last operator message.",
    CloseReason.BOT_ENDED: "[rasa-handoff] The bot ended the handoff.",
}
_BUTTONS_KEPT = 20
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def sender_for(conversation_id: str) -> str:
    """The Rasa sender id of a SalesIQ chat the Zobot answers."""
    return f"{SENDER_PREFIX}{conversation_id}"


class ZohoSalesIQConnector(Connector, TakesWebhooks, FetchesTokens, HostsTheBot):
    name: ClassVar[str] = "zoho_salesiq"
    Settings = ZohoSalesIQSettings
    webhook_routes = (("HEAD", WEBHOOK_PATH), ("POST", WEBHOOK_PATH), ("HEAD", ZOBOT_PATH), ("POST", ZOBOT_PATH))

    def __init__(self, settings: ZohoSalesIQSettings, store, http: httpx.AsyncClient | None = None) -> None:
        if store is None:
            raise ValueError("the Zoho SalesIQ connector keeps its state in the handoff store")
        self.settings = settings
        self.store = store
        self.api = SalesIQAPI(
            settings.accounts,
            settings.api,
            settings.screen_name,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            settings.refresh_token.get_secret_value(),
            settings.timeout,
            http,
        )
        self._keys = [signature.load_public_key(key) for key in settings.public_key]
        if not self._keys:
            logger.warning(
                "connectors.zoho_salesiq.public_key is not set: SalesIQ's webhooks are accepted unsigned "
                "(turn on 'Secure your webhook', or admit only SalesIQ at your proxy)"
            )

    @classmethod
    def from_settings(cls, settings: ZohoSalesIQSettings, context: ConnectorContext) -> "ZohoSalesIQConnector":
        return cls(settings, context.store)

    # -- tokens ----------------------------------------------------------------------

    async def fetch_token(self) -> IssuedToken:
        return await self.api.fetch_token()

    async def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        return await self.tokens.call(lambda token: self.api.call(token, method, path, body))

    def _operator(self, path: str) -> str:
        return f"/api/v2/{segment(self.settings.screen_name)}{path}"

    def _visitor(self, path: str) -> str:
        return f"/visitor/v2/{segment(self.settings.screen_name)}{path}"

    # -- the bot inside SalesIQ ------------------------------------------------------------

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "zobot"

    def bot_sender(self, desk_conversation_id: str) -> str:
        return sender_for(desk_conversation_id)

    def desk_conversation_of(self, sender_id: str) -> Optional[str]:
        if self.settings.mode != "zobot" or not sender_id.startswith(SENDER_PREFIX):
            return None
        rest = sender_id[len(SENDER_PREFIX):]
        return rest if _CONVERSATION_ID.fullmatch(rest) else None

    async def post_bot_message(self, desk_conversation_id: str, message: dict) -> None:
        """One message of Rasa's REST channel into the chat: text, then image or file links, then the buttons as a list."""
        lines = [message["text"].strip()] if isinstance(message.get("text"), str) and message["text"].strip() else []
        for key in ("image", "attachment"):
            value = message.get(key)
            if isinstance(value, dict):
                value = value.get("url") or (value.get("payload") or {}).get("src")
            if isinstance(value, str) and value.strip():
                lines.append(value.strip())
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")][:10]
        if buttons:
            lines.append("\n".join(f"- {b['title']}" for b in buttons))
            await self._remember_buttons(desk_conversation_id, buttons)
        if lines:
            await self._call("POST", self._operator(f"/conversations/{segment(desk_conversation_id)}/messages"), {"text": "\n".join(lines)})

    async def _remember_buttons(self, conversation_id: str, buttons: list[dict]) -> None:
        stored = (await self.store.get(BUTTONS_KEY + conversation_id) or {}).get("options", {})
        for button in buttons:
            stored[str(button["title"]).strip().casefold()] = str(button.get("payload") or button["title"])
        await self.store.put(BUTTONS_KEY + conversation_id, {"options": dict(list(stored.items())[-_BUTTONS_KEPT:])})

    async def _button_payload(self, conversation_id: str, text: str) -> Optional[str]:
        """The payload of a button the bot offered, when the user wrote its title."""
        options = (await self.store.get(BUTTONS_KEY + conversation_id) or {}).get("options", {})
        return options.get(text.strip().casefold()) if text.strip() else None

    # -- outbound ------------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        department = self.settings.department_for(request.routing)
        existing = self.desk_conversation_of(request.sender_id)
        if existing is not None:
            # The user is in a Zobot chat already: forward that chat to the department.
            await self.store.put(CONVERSATION_KEY + existing, {"handoff_id": request.handoff_id, "zobot": True})
            await self._call(
                "PUT",
                self._operator(f"/conversations/{segment(existing)}/transfer"),
                {"department_id": department, "note": self._handover_text(request)},
            )
            return existing
        visitor: dict[str, Any] = {"user_id": _visitor_id(request.sender_id), "name": _name(request.email)}
        if request.email:
            visitor["email"] = request.email
        body = {
            "visitor": visitor,
            "app_id": self.settings.app_id,
            "department_id": department,
            "question": self._handover_text(request),
            "customer_info": self._customer_info(request),
        }
        data = await self._call("POST", self._visitor("/conversations"), body)
        conversation_id = data.get("id")
        if conversation_id in (None, ""):
            raise DeskError("SalesIQ Create Conversation answered without an id", retryable=False)
        conversation_id = str(conversation_id)
        await self.store.put(CONVERSATION_KEY + conversation_id, {"handoff_id": request.handoff_id, "zobot": False})
        return conversation_id

    def _handover_text(self, request: HandoffRequest) -> str:
        """The user's question first (what the operator reads in the queue), then the transcript and the message to the agent."""
        who = {Speaker.USER: "User", Speaker.BOT: "Bot"}
        lines = [request.latest_question.strip() or "(The user asked for a person.)"]
        if request.message_to_agent:
            lines += ["", f"Message to the agent: {request.message_to_agent.strip()}"]
        if request.transcript:
            lines += ["", "Conversation with the bot:"]
            lines += [f"{who[turn.speaker]}: {' '.join(turn.text.split())}" for turn in request.transcript]
        return "\n".join(lines)

    def _customer_info(self, request: HandoffRequest) -> dict[str, str]:
        info = {"email": request.email or "unknown", "language": request.language, "handoff_id": request.handoff_id}
        if request.routing:
            info["routing"] = request.routing
        info.update({str(name): str(value) for name, value in request.attributes.items()})
        return info

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        if record.get("zobot"):
            return  # The user wrote it in SalesIQ: the operator has it already.
        text = message.text_with_links().strip()
        if text:
            await self._call("POST", self._visitor(f"/conversations/{segment(desk_conversation_id)}/messages"), {"text": text})

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        # A Zobot chat is told by the operator side (the bot); a channel handoff's by its visitor.
        side = self._operator if record.get("zobot") else self._visitor
        path = side(f"/conversations/{segment(desk_conversation_id)}/messages")
        await self._call("POST", path, {"text": _CLOSE_NOTES[reason]})
        # Our side ended it: nothing SalesIQ says about it later concerns us.
        await self.store.delete(CONVERSATION_KEY + desk_conversation_id)
        await self.store.delete(BUTTONS_KEY + desk_conversation_id)

    async def check(self) -> ServiceStatus:
        """A fresh token from the refresh token (a revoked one fails here), then the departments with it."""
        try:
            token = await self.api.fetch_token()
            await self.api.call(token.value, "GET", self._operator("/departments"))
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound ----------------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        if request.method in ("HEAD", "GET"):
            # SalesIQ checks a URL when it is saved; nothing is carried.
            return WebhookReply()
        signature.verify(self._keys, request.headers, request.body)
        if request.path == ZOBOT_PATH:
            return await self._zobot(request.body)
        event = webhooks.parse_event(request.body)
        record = await self.store.get(CONVERSATION_KEY + event.conversation_id) if event.conversation_id else None
        if record is None:
            return WebhookReply()  # Not a handoff of ours: nothing to do.
        found = self._events(event, bool(record.get("zobot")))
        return WebhookReply(events=found)

    def _events(self, event: webhooks.Event, zobot: bool) -> list[DeskEvent]:
        conversation_id = event.conversation_id
        name = event.name
        owner = event.owner.name if event.owner else None
        owner_id = event.owner.id if event.owner else ""
        if name == "conversation.attender.updated":
            return [AgentJoined(f"{name}:{conversation_id}:{event.moment('attended_time')}:{owner_id}", conversation_id, owner)]
        if name == "conversation.operator.replied" and event.message is not None:
            if zobot:
                return []  # The user reads the operator in SalesIQ already.
            message = event.message
            key = message.id or event.digest
            return [
                AgentMessage(
                    f"{name}:{conversation_id}:{key}",
                    conversation_id,
                    text=message.text,
                    agent_name=(message.sender.name if message.sender else None) or owner,
                    attachments=tuple(file.url for file in message.files),
                )
            ]
        if name == "conversation.transfer.accepted" and not zobot:
            return [Transferred(f"{name}:{conversation_id}:{event.moment('attended_time')}:{owner_id}", conversation_id, to_agent=owner)]
        if name == "conversation.completed":
            return [ConversationClosed(f"{name}:{conversation_id}:{event.moment('end_time')}", conversation_id)]
        if name == "conversation.missed":
            return [RoutingFailed(f"{name}:{conversation_id}:{event.moment('missed_time')}", conversation_id, reason="missed")]
        return []

    async def _zobot(self, body: bytes) -> WebhookReply:
        call = webhooks.parse_zobot(body)
        reply = HttpReply(200, ZOBOT_ACK)
        if call.handler != "message" or not self.hosts_the_bot or call.conversation_id is None:
            return WebhookReply(reply=reply)
        if not _CONVERSATION_ID.fullmatch(call.conversation_id):
            raise WebhookRejected(400, "visitor.active_conversation_id: not a conversation id")
        if not call.text.strip() and not call.files:
            return WebhookReply(reply=reply)
        email = call.visitor.get("email")
        event = UserWroteInDesk(
            event_id=f"zobot:{call.conversation_id}:{call.message_id}",
            desk_conversation_id=call.conversation_id,
            text=call.text,
            attachments=call.files,
            payload=await self._button_payload(call.conversation_id, call.text),
            email=email if isinstance(email, str) and "@" in email else None,
            metadata={"zoho_salesiq": {"conversation_id": call.conversation_id, "visitor_id": str(call.visitor.get("id") or "")}},
        )
        return WebhookReply(events=[event], reply=reply)


def _visitor_id(sender_id: str) -> str:
    """A stable SalesIQ visitor user_id for a Rasa sender (any characters, any length)."""
    return "rasa-" + hashlib.sha256(sender_id.encode()).hexdigest()[:24]


def _name(email: str) -> str:
    local = email.split("@", 1)[0].strip() if email else ""
    return local or "Chat user"


__all__ = ["WEBHOOK_PATH", "ZOBOT_PATH", "SENDER_PREFIX", "ZohoSalesIQConnector", "sender_for"]
