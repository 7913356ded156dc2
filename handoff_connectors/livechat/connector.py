"""The LiveChat connector (API v3.5), in two modes.

channel (default): the user talks to the bot on any channel. A handoff gets
a customer identity for the server-side app (the agent token grant), sets
the customer's email, and starts a chat as that customer in the routing
group with the transcript, the message to the agent and the latest
question as its first events. The user's messages become the customer's
events (files uploaded with `upload_file` and sent as file events; a file
that cannot be fetched goes as a link). Agents' `incoming_event`s come back
as `AgentMessage` (file events as attachments), an agent added to the chat
as `AgentJoined`, a transfer with a queue as `QueuePosition`, and
`chat_deactivated` as `ConversationClosed`. Our `close` deactivates the chat
as the customer.

bot_agent: the bot is also a LiveChat bot agent answering the chats
LiveChat routes to it (the core's bot-inside-the-desk mode,
`core/desk_bot.py`). Customers' events in those chats (`incoming_chat`'s
first events, then `incoming_event`) are `UserWroteInDesk`; the bot's
answers are sent with the Agent Chat API as the bot (`X-Author-Id`). A
handoff there keeps the chat: the bot leaves the agents a note (visible to
agents only) and transfers the chat to the routing group; it stays quiet
until the chat is deactivated or transferred back to the bot. Users of
other channels still get channel-mode handoffs.

Inbound: every webhook carries the app's `secret_key` in its body (and the
organization id); anything else is refused 401. Reading a webhook writes
nothing to the store.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections import OrderedDict
from typing import Any, ClassVar, Optional
from urllib.parse import urlsplit

import httpx

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
    HandoffRequest,
    HostsTheBot,
    QueuePosition,
    ReportsAvailability,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    Transferred,
    UserMessage,
    UserWroteInDesk,
    WebhookReply,
    WebhookRequest,
)
from . import webhooks
from .api import LiveChatAPI, LiveChatError
from .settings import LiveChatSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/livechat/webhook"
SENDER_PREFIX = "livechat-"
WEBHOOK_ACTIONS = ("incoming_chat", "incoming_event", "chat_deactivated", "user_added_to_chat", "chat_transferred")

# Store keys (all under "livechat:").
START_KEY = "livechat:start:"  # a start in progress: {customer_id, profiled, chat_id, done}
CHAT_KEY = "livechat:chat:"  # a chat handed off by us: {handoff_id, customer_id | None, bot: bool}
TOKEN_KEY = "livechat:token:"  # a customer's access token: {token, expires_at}
SENT_KEY = "livechat:sent:"  # parts of a user message already sent (a retry sends the rest)
BUTTONS_KEY = "livechat:buttons:"  # buttons the bot offered in a chat: {title: payload}

MAX_FILE_BYTES = 10 * 1024 * 1024  # upload_file's limit
_TOKEN_MARGIN = 120.0
_KNOWN_CHATS = 500
_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "The customer ended the chat with the bot's End chat button or phrase.",
    CloseReason.TIMEOUT: "The chat ended by itself: the customer wrote nothing after the last agent message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}


class LiveChatConnector(Connector, TakesWebhooks, ReportsAvailability, HostsTheBot):
    name: ClassVar[str] = "livechat"
    Settings = LiveChatSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: LiveChatSettings, store, http: Optional[httpx.AsyncClient] = None) -> None:
        if store is None:
            raise ValueError("the LiveChat connector keeps its state in the handoff store")
        self.settings = settings
        self.store = store
        self._secret = settings.webhook_secret.get_secret_value()
        self._bot = settings.bot_agent_id if settings.mode == "bot_agent" else None
        self.api = LiveChatAPI(
            settings.api_url,
            settings.accounts_url,
            settings.organization_id,
            settings.client_id,
            settings.account_id,
            settings.personal_access_token.get_secret_value(),
            settings.timeout,
            http,
        )
        # chat id -> {customer id: email or None}: who the customers of a chat are (a cache only).
        self._customers: OrderedDict[str, dict[str, Optional[str]]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: LiveChatSettings, context: ConnectorContext) -> "LiveChatConnector":
        return cls(settings, context.store)

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "bot_agent"

    # -- customers' tokens ----------------------------------------------------------

    async def _keep_token(self, customer_id: str, issued: dict[str, Any]) -> str:
        lifetime = issued.get("expires_in") if isinstance(issued.get("expires_in"), (int, float)) else 3600
        await self.store.put(TOKEN_KEY + customer_id, {"token": issued["access_token"], "expires_at": time.time() + lifetime})
        return issued["access_token"]

    async def _token(self, customer_id: str, fresh: bool = False) -> str:
        kept = await self.store.get(TOKEN_KEY + customer_id)
        if kept and not fresh and kept.get("expires_at", 0) > time.time() + _TOKEN_MARGIN:
            return kept["token"]
        return await self._keep_token(customer_id, await self.api.customer_token(customer_id))

    async def _as_customer(self, customer_id: str, action: str, body: dict[str, Any]) -> Any:
        """A Customer Chat API call as that customer; a refused token is renewed once."""
        try:
            return await self.api.customer(action, await self._token(customer_id), body)
        except DeskError as error:
            if not error.auth:
                raise
        return await self.api.customer(action, await self._token(customer_id, fresh=True), body)

    # -- outbound ---------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        chat_id = self.desk_conversation_of(request.sender_id) if self.hosts_the_bot else None
        if chat_id is not None:
            await self._hand_over(chat_id, request)
            return chat_id
        # Resumable: a retry after a failure part-way carries on with the same customer.
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key) or {}
        if not progress.get("customer_id"):
            issued = await self.api.customer_token()
            progress["customer_id"] = str(issued["entity_id"])
            await self._keep_token(progress["customer_id"], issued)
            await self.store.put(key, progress)
        customer_id = progress["customer_id"]
        if request.email and not progress.get("profiled"):
            await self._as_customer(customer_id, "update_customer", {"name": request.email.split("@")[0], "email": request.email})
            progress["profiled"] = True
            await self.store.put(key, progress)
        if not progress.get("chat_id"):
            chat = {
                "access": {"group_ids": [self.settings.group_for(request.routing)]},
                "thread": {"events": self._first_events(request)},
            }
            answer = await self._as_customer(customer_id, "start_chat", {"chat": chat})
            if not isinstance(answer, dict) or not answer.get("chat_id"):
                raise DeskError("LiveChat start_chat answered without a chat_id", retryable=False)
            progress["chat_id"] = str(answer["chat_id"])
            await self.store.put(CHAT_KEY + progress["chat_id"], {"handoff_id": request.handoff_id, "customer_id": customer_id, "bot": False})
            await self.store.put(key, progress)
        await self.store.delete(key)
        return progress["chat_id"]

    def _first_events(self, request: HandoffRequest) -> list[dict[str, Any]]:
        texts = [_transcript(request)]
        if request.message_to_agent:
            texts.append(f"Message to the agent: {request.message_to_agent}")
        if request.latest_question.strip():
            texts.append(request.latest_question.strip())
        return [
            {"type": "message", "text": text, "custom_id": f"{request.handoff_id}:{index}"}
            for index, text in enumerate(texts)
        ]

    async def _hand_over(self, chat_id: str, request: HandoffRequest) -> None:
        """bot_agent mode: the same chat goes to the routing group, with a note for the agents."""
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key) or {"done": []}
        if "note" not in progress["done"]:
            note = {"type": "message", "text": _transcript(request, in_desk=True), "visibility": "agents"}
            await self.api.agent("send_event", {"chat_id": chat_id, "event": note}, author_id=self._bot)
            await self.store.put(CHAT_KEY + chat_id, {"handoff_id": request.handoff_id, "customer_id": None, "bot": True})
            progress["done"].append("note")
            await self.store.put(key, progress)
        if "transfer" not in progress["done"]:
            target = {"type": "group", "ids": [self.settings.group_for(request.routing)]}
            # Queued when nobody is free, rather than refused: the desk's routing takes it from there.
            body = {"id": chat_id, "target": target, "ignore_agents_availability": True}
            await self.api.agent("transfer_chat", body, author_id=self._bot)
        await self.store.delete(key)

    async def _chat(self, chat_id: str) -> dict[str, Any]:
        """Our record of a chat; for a channel chat without one, its customer as LiveChat tells."""
        record = await self.store.get(CHAT_KEY + chat_id)
        if record is not None:
            return record
        answer = await self.api.agent("get_chat", {"chat_id": chat_id})
        users = answer.get("users") if isinstance(answer, dict) else None
        customers = [u["id"] for u in users or [] if isinstance(u, dict) and u.get("type") == "customer" and u.get("id")]
        if not customers:
            raise DeskError("LiveChat get_chat shows no customer in the chat", retryable=False)
        return {"customer_id": str(customers[0]), "bot": False}

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        record = await self._chat(desk_conversation_id)
        customer_id = record.get("customer_id")
        if not customer_id:
            return  # A chat the bot handed over: the customer writes in LiveChat itself.
        key = SENT_KEY + message.message_id
        done = set((await self.store.get(key) or {}).get("done", []))
        uploaded: list[str] = []
        links: list[str] = []
        for attachment in message.attachments:
            url = await self._upload(customer_id, attachment)
            (uploaded if url else links).append(url or attachment.url)
        text = "\n".join(([message.text] if message.text.strip() else []) + links)
        parts = ([("text", {"type": "message", "text": text})] if text else []) + [
            (f"file{index}", {"type": "file", "url": url}) for index, url in enumerate(uploaded)
        ]
        for name, event in parts:
            if name in done:
                continue
            event["custom_id"] = f"{message.message_id}:{name}"
            await self._as_customer(customer_id, "send_event", {"chat_id": desk_conversation_id, "event": event})
            done.add(name)
            await self.store.put(key, {"done": sorted(done)})
        await self.store.delete(key)

    async def _upload(self, customer_id: str, attachment: Attachment) -> Optional[str]:
        """The LiveChat URL of the user's file uploaded as the customer; None to send it as a link."""
        fetched = await self.api.fetch(attachment.url, MAX_FILE_BYTES)
        if fetched is None:
            return None
        content, fetched_type = fetched
        name = attachment.name or urlsplit(attachment.url).path.rsplit("/", 1)[-1] or "file"
        kind = attachment.content_type or mimetypes.guess_type(name)[0] or fetched_type
        try:
            answer = await self.api.customer_upload(await self._token(customer_id), name, content, kind)
        except LiveChatError as error:
            if error.retryable or error.auth:
                raise
            logger.info("LiveChat refused a user's file (%s); it goes as a link", error.error_type or error.status)
            return None
        url = answer.get("url") if isinstance(answer, dict) else None
        return url if isinstance(url, str) and url else None

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        record = await self._chat(desk_conversation_id)
        customer_id = record.get("customer_id")
        try:
            if customer_id:
                note = {"type": "message", "text": _CLOSE_NOTES[reason], "custom_id": f"close:{desk_conversation_id}"}
                await self._as_customer(customer_id, "send_event", {"chat_id": desk_conversation_id, "event": note})
                await self._as_customer(customer_id, "deactivate_chat", {"id": desk_conversation_id})
            else:
                body = {"id": desk_conversation_id, "ignore_requester_presence": True}
                await self.api.agent("deactivate_chat", body)
        except LiveChatError as error:
            if error.error_type != "chat_inactive":
                raise  # An inactive chat is closed already: nothing left to do.

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """Whether an agent of the routing group (the bot aside) is accepting chats."""
        group = self.settings.group_for(routing)
        try:
            statuses = await self.api.agent("list_routing_statuses", {"filters": {"group_ids": [group]}})
        except DeskError as error:
            logger.warning("LiveChat availability unknown: %s", error)
            return None
        if not isinstance(statuses, list):
            return None
        return any(
            isinstance(s, dict) and s.get("status") == "accepting_chats" and s.get("agent_id") != self.settings.bot_agent_id
            for s in statuses
        )

    async def check(self) -> ServiceStatus:
        try:
            await self.api.agent("get_license_info", {})
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    # -- bot_agent mode: the bot's own messages into LiveChat -----------------------------

    async def post_bot_message(self, desk_conversation_id: str, message: dict[str, Any]) -> None:
        """One message from Rasa's REST channel, sent as the bot agent: text, links, buttons."""
        lines = [message["text"]] if isinstance(message.get("text"), str) and message["text"].strip() else []
        for key in ("image", "attachment"):
            value = message.get(key)
            if isinstance(value, dict):
                value = value.get("url") or (value.get("payload") or {}).get("src")
            if isinstance(value, str) and value.strip():
                lines.append(value.strip())
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        try:
            if lines:
                event = {"type": "message", "text": "\n".join(lines), "visibility": "all"}
                await self.api.agent("send_event", {"chat_id": desk_conversation_id, "event": event}, author_id=self._bot)
            if buttons:
                await self._offer(desk_conversation_id, buttons[:10])
        except LiveChatError as error:
            if error.error_type != "chat_inactive":
                raise
            logger.info("LiveChat chat %s is closed: a bot message was not shown", desk_conversation_id)

    async def _offer(self, chat_id: str, buttons: list[dict]) -> None:
        offered = await self.store.get(BUTTONS_KEY + chat_id) or {}
        for button in buttons:
            offered[str(button["title"]).strip().casefold()] = str(button.get("payload") or button["title"])
        await self.store.put(BUTTONS_KEY + chat_id, dict(list(offered.items())[-20:]))
        event = {
            "type": "rich_message",
            "template_id": "quick_replies",
            "visibility": "all",
            "elements": [{
                "buttons": [
                    {"type": "message", "text": str(b["title"]), "value": str(b["title"]), "postback_id": f"button_{i}", "user_ids": []}
                    for i, b in enumerate(buttons)
                ]
            }],
        }
        await self.api.agent("send_event", {"chat_id": chat_id, "event": event}, author_id=self._bot)

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound --------------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        webhook = webhooks.verified(request.body, self._secret, self.settings.organization_id)
        if webhook.action == "incoming_event":
            events = await self._incoming_event(webhook)
        elif webhook.action == "incoming_chat":
            events = await self._incoming_chat(webhook)
        elif webhook.action == "chat_deactivated":
            events = await self._deactivated(webhook)
        elif webhook.action == "user_added_to_chat":
            events = await self._user_added(webhook)
        elif webhook.action == "chat_transferred":
            events = await self._transferred(webhook)
        else:
            events = []  # Another action the app subscribed to: nothing for a handoff.
        return WebhookReply(events=events)

    async def _incoming_event(self, webhook: webhooks.Webhook) -> list[DeskEvent]:
        chat_id = webhook.text("chat_id")
        event = webhooks.event_of(webhook)
        author = str(event.get("author_id") or "")
        record = await self.store.get(CHAT_KEY + chat_id)
        if record is not None and not record.get("bot"):
            # A chat we started as the customer: everyone else in it is the desk's.
            if author in (record.get("customer_id"), self._bot) or event.get("visibility") == "agents":
                return []
            message = _agent_message(chat_id, event)
            return [message] if message else []
        if not self.hosts_the_bot or not author or author == self._bot:
            return []
        customers = await self._customers_of(chat_id, author)
        if author not in customers:
            return []  # An agent: the customer reads them in LiveChat already.
        wrote = await self._user_wrote(chat_id, event, customers.get(author))
        return [wrote] if wrote else []

    async def _incoming_chat(self, webhook: webhooks.Webhook) -> list[DeskEvent]:
        if not self.hosts_the_bot:
            return []  # Channel mode: the chats that matter are ours, started by start().
        chat = webhook.object("chat")
        chat_id = chat.get("id")
        if not isinstance(chat_id, str) or not chat_id:
            raise webhooks.WebhookRejected(400, "payload.chat.id: missing or not a string")
        customers = {
            str(u["id"]): (u.get("email") if isinstance(u.get("email"), str) and u.get("email") else None)
            for u in chat.get("users") or [] if isinstance(u, dict) and u.get("type") == "customer" and u.get("id")
        }
        self._remember(chat_id, customers)
        thread = chat.get("thread") if isinstance(chat.get("thread"), dict) else {}
        found = []
        for event in thread.get("events") or []:
            if isinstance(event, dict) and isinstance(event.get("id"), str) and str(event.get("author_id")) in customers:
                wrote = await self._user_wrote(chat_id, event, customers[str(event["author_id"])])
                if wrote:
                    found.append(wrote)
        return found

    async def _deactivated(self, webhook: webhooks.Webhook) -> list[DeskEvent]:
        chat_id = webhook.text("chat_id")
        thread_id = webhook.text("thread_id", required=False) or ""
        if not self.hosts_the_bot and await self.store.get(CHAT_KEY + chat_id) is None:
            return []
        return [ConversationClosed(event_id=f"deactivated:{chat_id}:{thread_id}", desk_conversation_id=chat_id)]

    async def _user_added(self, webhook: webhooks.Webhook) -> list[DeskEvent]:
        chat_id = webhook.text("chat_id")
        user = webhook.object("user")
        kind = user.get("type") or webhook.payload.get("user_type")
        if kind != "agent" or not user.get("id") or user.get("id") == self._bot:
            return []
        if await self.store.get(CHAT_KEY + chat_id) is None:
            return []
        thread_id = webhook.text("thread_id", required=False) or ""
        name = user.get("name") if isinstance(user.get("name"), str) and user.get("name") else None
        return [AgentJoined(event_id=f"joined:{chat_id}:{thread_id}:{user['id']}", desk_conversation_id=chat_id, agent_name=name)]

    async def _transferred(self, webhook: webhooks.Webhook) -> list[DeskEvent]:
        chat_id = webhook.text("chat_id")
        record = await self.store.get(CHAT_KEY + chat_id)
        if record is None:
            return []
        thread_id = webhook.text("thread_id", required=False) or ""
        target = webhook.payload.get("transferred_to") if isinstance(webhook.payload.get("transferred_to"), dict) else {}
        agents = [str(a) for a in target.get("agent_ids") or []]
        groups = [str(g) for g in target.get("group_ids") or []]
        stamp = f"{chat_id}:{thread_id}:{webhook.payload.get('reason')}:{','.join(agents + groups)}"
        if record.get("bot") and self._bot in agents:
            # The desk gave the chat back to the bot.
            return [ConversationClosed(event_id=f"given-back:{stamp}", desk_conversation_id=chat_id)]
        queue = webhook.payload.get("queue")
        if isinstance(queue, dict) and isinstance(queue.get("position"), int):
            wait = queue.get("wait_time")
            return [QueuePosition(
                event_id=f"queued:{stamp}:{queue['position']}", desk_conversation_id=chat_id,
                position=queue["position"], wait_seconds=float(wait) if isinstance(wait, (int, float)) else None,
            )]
        if webhook.payload.get("requester_id") == self._bot or webhook.payload.get("reason") != "manual":
            return []  # Our own hand-over, or the router placing the chat.
        return [Transferred(
            event_id=f"transferred:{stamp}", desk_conversation_id=chat_id,
            to_agent=agents[0] if agents else None, to_queue=None if agents else (groups[0] if groups else None),
        )]

    # -- bot_agent mode: who is the customer, what they wrote ---------------------------

    def _remember(self, chat_id: str, customers: dict[str, Optional[str]]) -> None:
        self._customers[chat_id] = customers
        self._customers.move_to_end(chat_id)
        while len(self._customers) > _KNOWN_CHATS:
            self._customers.popitem(last=False)

    async def _customers_of(self, chat_id: str, author: str) -> dict[str, Optional[str]]:
        known = self._customers.get(chat_id)
        if known is not None and author in known:
            return known
        try:
            answer = await self.api.agent("get_chat", {"chat_id": chat_id}, author_id=self._bot)
        except DeskError as error:
            # LiveChat's ids tell when it cannot: agents' are their email addresses.
            logger.warning("LiveChat get_chat failed (%s); telling the author apart by its id", error)
            return {} if "@" in author else {author: None}
        users = answer.get("users") if isinstance(answer, dict) else None
        customers = {
            str(u["id"]): (u.get("email") if isinstance(u.get("email"), str) and u.get("email") else None)
            for u in users or [] if isinstance(u, dict) and u.get("type") == "customer" and u.get("id")
        }
        self._remember(chat_id, customers)
        return customers

    async def _user_wrote(self, chat_id: str, event: dict[str, Any], email: Optional[str]) -> Optional[UserWroteInDesk]:
        kind = event.get("type")
        text = event.get("text") if kind == "message" and isinstance(event.get("text"), str) else ""
        url = webhooks.files_of(event)
        files = (Attachment(url, event.get("name") or None, event.get("content_type") or None),) if url else ()
        if not text.strip() and not files:
            return None
        offered = await self.store.get(BUTTONS_KEY + chat_id) or {}
        payload = offered.get(text.strip().casefold()) if text else None
        return UserWroteInDesk(
            event_id=str(event["id"]),
            desk_conversation_id=chat_id,
            text=text,
            attachments=files,
            payload=payload,
            email=email,
            metadata={"livechat": {"chat_id": chat_id, "customer_id": event.get("author_id")}},
        )


def _agent_message(chat_id: str, event: dict[str, Any]) -> Optional[AgentMessage]:
    kind = event.get("type")
    text = event.get("text") if kind == "message" and isinstance(event.get("text"), str) else ""
    url = webhooks.files_of(event)
    if not text.strip() and not url:
        return None  # System messages, forms, rich messages: nothing the user reads here.
    return AgentMessage(event_id=str(event["id"]), desk_conversation_id=chat_id, text=text, attachments=(url,) if url else ())


def _transcript(request: HandoffRequest, in_desk: bool = False) -> str:
    lines = ["The bot handed this chat over." if in_desk else "Conversation with the bot before the handoff:"]
    for turn in request.transcript:
        lines.append(f"{'User' if turn.speaker is Speaker.USER else 'Bot'}: {turn.text}")
    facts = [f"email: {request.email}"] if request.email else []
    facts += [f"routing: {request.routing}"] if request.routing else []
    facts += [f"{name}: {value}" for name, value in request.attributes.items()]
    if facts:
        lines.append("(" + ", ".join(facts) + ")")
    if in_desk and request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    return "\n".join(lines)
