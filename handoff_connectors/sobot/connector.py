"""The Sobot connector: the bot inside Sobot's own chat widget, handing visitors to a human group.

Desk to desk only: Sobot's human service exists only in Sobot's widget, so
the bot answers there (the core's bot-inside-the-desk mode,
`core/desk_bot.py`) and a handoff gives that same Sobot conversation to a
human group.

- Sobot forwards what happens in its chats to the sidecar (the
  message-forwarding push: signed batches, `X-Log-Sign`). A visitor's
  message becomes `UserWroteInDesk`; the core hands it to Rasa as the sender
  `sobot-<visitor uid>` and gives the bot's answers to `post_bot_message`,
  which sends them into the visitor's session as the bot. An agent's
  message, an agent joining, a transfer, the queue position and the end of
  the human session become the usual events; the end gives the
  conversation back to the bot.
- `start` hands the visitor's session to the human group chosen by routing
  (`groups`, else `default_group`); while the handoff lives the bot says
  nothing there and the visitor and the agent talk in Sobot (`send` has
  nothing to relay). `close` ends the human session when our side ends it.
- Every call carries one token shared through the store (`FetchesTokens`):
  Sobot issues a new token on every fetch and the previous one stops
  working, so one process fetches it for all, before its 24 h end; a token
  Sobot refuses (its `ret_code`, with HTTP 200) is refreshed and the call
  tried once more.

The paths and item fields Sobot's public pages leave out are chosen in
`wire.py` (and listed on doc.md).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any, Callable, ClassVar, Optional

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    Attachment,
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
    QueuePosition,
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
from ..core.text import repaired
from . import wire
from .api import HOSTS, SobotAPI
from .settings import SobotSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/sobot/push"
SENDER_PREFIX = "sobot-"
BUTTONS_KEY = "sobot:buttons:"  # the buttons the bot last offered a visitor: {"options": [{title, payload}]}

#: What Sobot hears back for a batch it may stop sending.
RECEIVED = HttpReply(200, {"ret_code": wire.SUCCESS, "ret_msg": "success"})

_CLOSE_REASONS = {
    CloseReason.USER_CLOSED: "The visitor ended the chat with the bot's End chat button or phrase.",
    CloseReason.TIMEOUT: "The chat ended by itself: the visitor sent nothing new after the agent's last message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}


def sender_for(uid: str) -> str:
    """The Rasa sender id of a Sobot visitor the bot answers."""
    return f"{SENDER_PREFIX}{uid}"


class SobotConnector(Connector, TakesWebhooks, FetchesTokens, HostsTheBot):
    name: ClassVar[str] = "sobot"
    Settings = SobotSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)
    hosts_the_bot = True

    def __init__(self, settings: SobotSettings, store, clock: Callable[[], float] = time.time) -> None:
        if store is None:
            raise ValueError("the Sobot connector keeps the bot's offered buttons in the handoff store")
        self.settings = settings
        self.store = store
        self._clock = clock
        self._company = settings.company_id
        self._push_key = (settings.push_app_key or settings.app_key).get_secret_value()
        self.api = SobotAPI(
            settings.base_url or HOSTS[settings.region],
            settings.appid,
            settings.app_key.get_secret_value(),
            settings.token_error_codes,
            settings.timeout,
            clock,
        )

    @classmethod
    def from_settings(cls, settings: SobotSettings, context: ConnectorContext) -> "SobotConnector":
        return cls(settings, context.store)

    # -- the token --------------------------------------------------------------------

    async def fetch_token(self) -> IssuedToken:
        return await self.api.fetch_token()

    async def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        return await self.tokens.call(lambda token: self.api.call(token, method, path, body))

    # -- outbound -------------------------------------------------------------------------

    def group_for(self, routing: Optional[str]) -> Optional[str]:
        if routing and routing in self.settings.groups:
            return self.settings.groups[routing]
        return self.settings.default_group

    async def start(self, request: HandoffRequest) -> str:
        """Hand the visitor's Sobot session to the human group; the conversation id stays the visitor's uid."""
        uid = self.desk_conversation_of(request.sender_id)
        if uid is None:
            # Credentials first, so a refused key reads as the desk being unavailable.
            await self.tokens.get()
            raise DeskError("Sobot hands over only visitors of its own chat widget (desk to desk)", retryable=False)
        body: dict[str, Any] = {"uid": uid, "summary": _summary(request)}
        group = self.group_for(request.routing)
        if group is not None:
            body["groupid"] = group
        await self._call("POST", wire.TRANSFER_PATH, body)
        return uid

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        """Nothing to relay: the visitor wrote it in Sobot's widget, where the agent reads it."""

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        """Our side ended the handoff (End chat, the session timeout): end the human session in Sobot."""
        await self._call("POST", wire.END_SESSION_PATH, {"uid": desk_conversation_id, "reason": _CLOSE_REASONS[reason]})

    async def check(self) -> ServiceStatus:
        """The shared token works: a read of the company's groups with it (a refused one is fetched anew)."""
        try:
            await self._call("GET", wire.GROUPS_PATH)
        except DeskError as error:
            logger.info("Sobot unavailable: %s", error)
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- the bot's own messages into the visitor's session ----------------------------------

    async def post_bot_message(self, desk_conversation_id: str, message: dict[str, Any]) -> None:
        """One message from Rasa's REST channel, as the bot: text (links for files), image, buttons as lines."""
        lines = [message["text"].strip()] if isinstance(message.get("text"), str) and message["text"].strip() else []
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            attachment = attachment.get("url") or (attachment.get("payload") or {}).get("src")
        if isinstance(attachment, str) and attachment.strip():
            lines.append(attachment.strip())
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and str(b.get("title") or "").strip()]
        if buttons:
            # Sobot's widget shows the bot's text; the visitor answers by typing (or tapping) a title.
            await self._remember_buttons(desk_conversation_id, buttons)
            lines += [f"- {str(b['title']).strip()}" for b in buttons]
        if lines:
            await self._bot_says(desk_conversation_id, "text", "\n".join(lines))
        image = message.get("image")
        if isinstance(image, str) and image.strip():
            await self._bot_says(desk_conversation_id, "image", image.strip())

    async def _bot_says(self, uid: str, msg_type: str, content: str) -> None:
        await self._call("POST", wire.BOT_SEND_PATH, {"uid": uid, "msg_type": msg_type, "content": content})

    async def _remember_buttons(self, uid: str, buttons: list[dict[str, Any]]) -> None:
        options = [{"title": str(b["title"]).strip(), "payload": str(b.get("payload") or b["title"])} for b in buttons[:10]]
        await self.store.put(BUTTONS_KEY + uid, {"options": options})

    async def button_payload(self, uid: str, text: str) -> Optional[str]:
        """The payload of the button the bot last offered this visitor, when the text is its title."""
        wanted = text.strip().casefold()
        if not wanted:
            return None
        options = (await self.store.get(BUTTONS_KEY + uid) or {}).get("options") or []
        for option in options:
            if option.get("title", "").casefold() == wanted:
                return option.get("payload")
        return None

    # -- inbound: the message-forwarding push ---------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        self._verify(request.headers)
        events: list[DeskEvent] = []
        for index, raw in enumerate(_batch(request.body)):
            try:
                item = wire.read_item(raw, index)
            except wire.Malformed as error:
                raise WebhookRejected(400, str(error)) from None
            event = await self._event(item)
            if event is not None:
                events.append(event)
        return WebhookReply(events=events, reply=RECEIVED)

    def _verify(self, headers: dict[str, str]) -> None:
        sign = headers.get(wire.SIGN_HEADER, "")
        stamp = headers.get(wire.TIMESTAMP_HEADER, "")
        code = headers.get(wire.RANDOM_HEADER, "")
        if not (sign and stamp and code):
            raise WebhookRejected(401, "missing X-Log-Sign, X-Log-TimeStamp or X-Log-RandomCode")
        expected = wire.push_sign(self._company, stamp, code, self._push_key)
        if not hmac.compare_digest(sign.strip().lower().encode(), expected.encode()):
            raise WebhookRejected(401, "wrong X-Log-Sign")
        try:
            sent_at = int(stamp) / 1000.0
        except ValueError:
            raise WebhookRejected(401, "X-Log-TimeStamp is not milliseconds") from None
        if abs(self._clock() - sent_at) > self.settings.push_max_age:
            raise WebhookRejected(401, "X-Log-TimeStamp too far from now (a replayed push?)")

    async def _event(self, item: wire.Item) -> Optional[DeskEvent]:
        ids = {"event_id": item.msgid, "desk_conversation_id": item.uid}
        if item.type == wire.MESSAGE:
            text, files = _content(item)
            if not text and not files:
                return None
            if item.sender_type == wire.VISITOR:
                return UserWroteInDesk(
                    **ids,
                    text=text,
                    attachments=files,
                    payload=await self.button_payload(item.uid, text) if text else None,
                    email=item.email,
                    metadata={"sobot": {"uid": item.uid, "cid": item.cid}},
                )
            if item.sender_type == wire.AGENT:
                return AgentMessage(**ids, text=text, agent_name=item.sender_name, attachments=tuple(f.url for f in files))
            return None  # The bot's own messages, echoed back.
        if item.type == wire.SESSION:
            if item.event == wire.AGENT_JOIN:
                return AgentJoined(**ids, agent_name=item.agent_name)
            if item.event == wire.TRANSFER:
                return Transferred(**ids, to_agent=item.agent_name, to_queue=item.group_name)
            if item.event == wire.QUEUE and item.queue_position is not None:
                return QueuePosition(**ids, position=item.queue_position)
            if item.event == wire.SESSION_END:
                return ConversationClosed(**ids)
        return None  # Data Sobot forwards that tells a handoff nothing.


def _batch(body: bytes) -> list[Any]:
    """The batch's items: a JSON array (a single object counts as a batch of one)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body: not JSON") from None
    except RecursionError:
        raise WebhookRejected(400, "body: nests too deep") from None
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise WebhookRejected(400, "body: must be a JSON array of items")
    try:
        return repaired(payload)
    except RecursionError:
        raise WebhookRejected(400, "body: nests too deep") from None


def _content(item: wire.Item) -> tuple[str, tuple[Attachment, ...]]:
    if item.msg_type in wire.FILE_TYPES:
        return "", (Attachment(item.content, item.file_name),)
    return item.content.strip(), ()


def _summary(request: HandoffRequest) -> str:
    """What the agent reads first: who, where from, what the bot heard, and the message to the agent."""
    about = [f"email: {request.email or 'unknown'}", f"language: {request.language}"]
    if request.routing:
        about.append(f"routing: {request.routing}")
    about += [f"{name}: {value}" for name, value in request.attributes.items()]
    lines = [f"Handoff from the bot ({', '.join(about)})"]
    if request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    who = {Speaker.USER: "User", Speaker.BOT: "Bot"}
    lines += [f"{who[turn.speaker]}: {turn.text}" for turn in request.transcript]
    lines.append(f"User (latest question): {request.latest_question}")
    return "\n".join(lines)
