"""The Zendesk connector: Sunshine Conversations API v2 and its switchboard, in two modes.

channel (default): the user talks to the bot on any channel. A handoff
creates (or finds) the Sunshine user, whose external id is the Rasa sender,
opens a personal conversation for them, posts the transcript and the
latest question as the user, and passes control to the agent workspace
(`passControl`, with `first_message_id` so the ticket starts at the
transcript, the routing tag and the message to the agent in the metadata).
The user's further messages are posted as the user (files as `image` or
`file` messages). Agents' messages (`conversation:message` by a business
author) come back as `AgentMessage`, their typing and reading as
`AgentTyping` / `MessagesRead`; control leaving the agent workspace
(`switchboard:releaseControl`, or `switchboard:passControl` to anyone else)
or the conversation being removed ends the handoff.

switchboard_bot: the bot is itself a switchboard integration of the app. A
user's message in a conversation the bot controls (or nobody does yet) is a
`UserWroteInDesk` for the core's desk bot (`core/desk_bot.py`), which asks
Rasa and hands the answers to `post_bot_message` (posted as the business).
A handoff passes control of that same conversation to the agent workspace;
while it has it the bot hears nothing but its own "End chat" button, and
when control comes back (released, or passed to anyone but the agent
workspace) the handoff ends and the bot answers again. Senders from other
channels still get channel-mode handoffs.

Agent joined: Sunshine sends no event when an agent takes the ticket
(`conversation:join` is for participants of sdkGroup conversations), so an
agent joins with their first message: each business message carries an
`AgentJoined` for its author's `displayName`, with an id made of the handoff
and the name, which the core keeps once.

Inbound: every call must carry the webhook's secret as `X-API-Key`. Events
are deduplicated by Sunshine's event ids. Our own switchboard calls come
back as events too: they carry `rasa_handoff_closed` in their metadata and
are passed over. Reading a call writes nothing.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from typing import Any, ClassVar, Optional
from urllib.parse import urlsplit

import httpx

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentTyping,
    Attachment,
    CloseReason,
    Connector,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    HostsTheBot,
    MessagesRead,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    UserMessage,
    UserWroteInDesk,
    WebhookReply,
    WebhookRequest,
)
from . import webhooks
from .api import SunshineAPI, SunshineError, segment
from .settings import ZendeskConnectorSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/zendesk/webhook"
SENDER_PREFIX = "zendesk-"

# Store keys.
START_KEY = "zendesk:start:"  # a start in progress: its steps' results
CONVERSATION_KEY = "zendesk:conversation:"  # a conversation handed off by us: {handoff_id, user_id, desk}
SENT_KEY = "zendesk:sent:"  # parts of a user message already posted (a retry posts the rest)

# Metadata keys on our own switchboard calls (they come back in the switchboard events).
HANDOFF_MARK = "rasa_handoff_id"
CLOSED_MARK = "rasa_handoff_closed"

_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "(The user ended the chat with the bot's End chat button or phrase.)",
    CloseReason.TIMEOUT: "(The chat ended by itself: the user sent nothing new after the last agent message.)",
    CloseReason.BOT_ENDED: "(The bot ended the handoff.)",
}
_TEXT_LIMIT = 4096  # textMessage.text maxLength
_ALT_LIMIT = 128  # altText maxLength
_METADATA_TEXT = 1000  # metadata is 4 KB in all: keep each value short
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def sender_for(conversation_id: str) -> str:
    """The Rasa sender id of a Sunshine conversation the bot answers (switchboard_bot mode)."""
    return f"{SENDER_PREFIX}{conversation_id}"


def conversation_for(sender_id: str) -> Optional[str]:
    """The Sunshine conversation a switchboard_bot sender id stands for, if it is one."""
    rest = sender_id[len(SENDER_PREFIX):] if sender_id.startswith(SENDER_PREFIX) else ""
    return rest if _CONVERSATION_ID.fullmatch(rest) else None


class ZendeskConnector(Connector, TakesWebhooks, HostsTheBot):
    name: ClassVar[str] = "zendesk"
    Settings = ZendeskConnectorSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: ZendeskConnectorSettings, store, http: httpx.AsyncClient | None = None) -> None:
        if store is None:
            raise ValueError("the Zendesk connector keeps its state in the handoff store")
        self.settings = settings
        self.store = store
        self._webhook_secret = settings.webhook_secret.get_secret_value()
        self.api = SunshineAPI(
            settings.api_url, settings.app_id, settings.key_id, settings.key_secret.get_secret_value(),
            settings.timeout, http,
        )

    @classmethod
    def from_settings(cls, settings: ZendeskConnectorSettings, context: ConnectorContext) -> "ZendeskConnector":
        return cls(settings, context.store)

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "switchboard_bot"

    def bot_sender(self, desk_conversation_id: str) -> str:
        return sender_for(desk_conversation_id)

    def desk_conversation_of(self, sender_id: str) -> Optional[str]:
        return conversation_for(sender_id)

    # -- outbound: a handoff ---------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        # Resumable: a retry after a failure part-way carries on where it stopped
        # instead of creating a second conversation.
        key = START_KEY + request.handoff_id
        progress: dict[str, Any] = await self.store.get(key) or {}
        in_desk = conversation_for(request.sender_id) if self.hosts_the_bot else None
        if in_desk is not None:
            # The user is talking to the bot in Zendesk: that conversation goes to the agents.
            progress["conversation_id"] = in_desk
            await self._remember(in_desk, request.handoff_id, None, desk=True)
        else:
            if "user_id" not in progress:
                progress["user_id"] = await self._user(request)
                await self.store.put(key, progress)
            if "conversation_id" not in progress:
                progress["conversation_id"] = await self._conversation(request, progress["user_id"])
                await self.store.put(key, progress)
                await self._remember(progress["conversation_id"], request.handoff_id, progress["user_id"], desk=False)
            if "first_message_id" not in progress:
                progress["first_message_id"] = await self._handover_messages(request, progress)
                await self.store.put(key, progress)
        conversation_id = progress["conversation_id"]
        await self.api.call(
            "POST",
            f"/conversations/{segment(conversation_id)}/passControl",
            {"switchboardIntegration": self.settings.agent_workspace, "metadata": self._handoff_metadata(request, progress)},
        )
        await self.store.delete(key)
        return conversation_id

    async def _remember(self, conversation_id: str, handoff_id: str, user_id: Optional[str], desk: bool) -> None:
        await self.store.put(CONVERSATION_KEY + conversation_id, {"handoff_id": handoff_id, "user_id": user_id, "desk": desk})

    async def _user(self, request: HandoffRequest) -> str:
        """The Sunshine user of this Rasa sender (external id = sender id), created when new."""
        body: dict[str, Any] = {"externalId": request.sender_id, "metadata": {"source": "rasa-handoff"}}
        profile: dict[str, Any] = {"locale": request.language}
        if request.email:
            profile["email"] = request.email
        body["profile"] = profile
        try:
            created = await self.api.call("POST", "/users", body)
        except SunshineError as error:
            if error.status != 409:
                raise
            # "User already exists": the sender asked for a person before.
            created = await self.api.call("GET", f"/users/{segment(request.sender_id)}")
        user_id = (created.get("user") or {}).get("id")
        if not user_id:
            raise DeskError("Sunshine answered without the user's id", retryable=False)
        return str(user_id)

    async def _conversation(self, request: HandoffRequest, user_id: str) -> str:
        answer = await self.api.call(
            "POST",
            "/conversations",
            {
                "type": "personal",
                "participants": [{"userId": user_id}],
                "displayName": "Chat handed over by the bot",
                "metadata": {HANDOFF_MARK: request.handoff_id},
            },
        )
        conversation_id = (answer.get("conversation") or {}).get("id")
        if not conversation_id:
            raise DeskError("Sunshine answered without the conversation's id", retryable=False)
        return str(conversation_id)

    async def _handover_messages(self, request: HandoffRequest, progress: dict[str, Any]) -> str:
        """The transcript, then the latest question, as the user; the transcript's message id."""
        conversation_id, user_id = progress["conversation_id"], progress["user_id"]
        if "transcript_id" not in progress:
            progress["transcript_id"] = await self._post_as_user(conversation_id, user_id, _text(_transcript(request)))
            await self.store.put(START_KEY + request.handoff_id, progress)
        question = request.latest_question.strip()
        if question:
            await self._post_as_user(conversation_id, user_id, _text(question))
        return progress["transcript_id"]

    def _handoff_metadata(self, request: HandoffRequest, progress: dict[str, Any]) -> dict[str, Any]:
        """passControl's metadata: flat strings, read by the agent workspace (and by us when it comes back)."""
        metadata: dict[str, Any] = {HANDOFF_MARK: request.handoff_id}
        if progress.get("first_message_id"):
            # The ticket shows the conversation from the transcript on.
            metadata["first_message_id"] = progress["first_message_id"]
        tag = self.settings.tag_for(request.routing)
        if tag:
            metadata["dataCapture.systemField.tags"] = tag
        if request.routing:
            metadata["rasa_handoff_routing"] = request.routing
        if request.message_to_agent:
            metadata["rasa_handoff_message_to_agent"] = request.message_to_agent[:_METADATA_TEXT]
            if self.settings.message_ticket_field:
                field = f"dataCapture.ticketField.{self.settings.message_ticket_field}"
                metadata[field] = request.message_to_agent[:_METADATA_TEXT]
        if request.email:
            metadata["rasa_handoff_email"] = request.email
        return metadata

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        if record.get("desk"):
            return  # The user wrote it in Zendesk: the agent has it already.
        user_id = record.get("user_id") or await self._user_of(desk_conversation_id)
        contents = []
        if message.text.strip():
            contents.append(_text(message.text))
        contents += [_media(attachment) for attachment in message.attachments]
        # A retry after a failure part-way posts only what is left.
        key = SENT_KEY + message.message_id
        done = (await self.store.get(key) or {}).get("parts", 0)
        for index, content in enumerate(contents):
            if index < done:
                continue
            await self._post_as_user(desk_conversation_id, user_id, content, {"rasa_handoff_message_id": message.message_id})
            await self.store.put(key, {"parts": index + 1})
        await self.store.delete(key)

    async def _post_as_user(self, conversation_id: str, user_id: str, content: dict[str, Any],
                            metadata: Optional[dict[str, Any]] = None) -> str:
        body: dict[str, Any] = {"author": {"type": "user", "userId": user_id}, "content": content}
        if metadata:
            body["metadata"] = metadata
        answer = await self.api.call("POST", f"/conversations/{segment(conversation_id)}/messages", body)
        messages = answer.get("messages") or [{}]
        return str(messages[0].get("id") or "")

    async def _user_of(self, conversation_id: str) -> str:
        """The conversation's user, asked of Sunshine (our record of it is gone)."""
        answer = await self.api.call("GET", f"/conversations/{segment(conversation_id)}/participants")
        for participant in answer.get("participants") or []:
            if isinstance(participant, dict) and participant.get("userId"):
                return str(participant["userId"])
        raise DeskError(f"Sunshine conversation {conversation_id} has no participant", retryable=False)

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        path = f"/conversations/{segment(desk_conversation_id)}"
        metadata = {CLOSED_MARK: reason.value}
        if record.get("desk"):
            # The user saw the bot's goodbye in Zendesk; the conversation is the bot's again.
            await self.api.call(
                "POST", path + "/passControl",
                {"switchboardIntegration": self.settings.bot_integration, "metadata": metadata},
            )
        else:
            user_id = record.get("user_id") or await self._user_of(desk_conversation_id)
            await self._post_as_user(desk_conversation_id, user_id, _text(_CLOSE_NOTES[reason]))
            await self.api.call("POST", path + "/releaseControl", {"metadata": metadata})
        # Our side ended it: nothing Sunshine says about it later concerns us.
        await self.store.delete(CONVERSATION_KEY + desk_conversation_id)

    async def check(self) -> ServiceStatus:
        """GET the app: a cheap call every app-scoped key may make."""
        try:
            await self.api.call("GET", "")
        except DeskError as error:
            logger.info("Zendesk (Sunshine Conversations) unavailable: %s", error)
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- switchboard_bot mode: the bot's own messages ---------------------------------------

    async def post_bot_message(self, desk_conversation_id: str, message: dict[str, Any]) -> None:
        """One message of Rasa's REST channel, as the business: text (with reply buttons), image, file."""
        contents: list[dict[str, Any]] = []
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        if text.strip() or buttons:
            content = _text(text) if text.strip() else {"type": "text"}
            if buttons:
                content["actions"] = [
                    {"type": "reply", "text": str(b["title"]), "payload": str(b.get("payload") or b["title"])}
                    for b in buttons[:10]
                ]
            contents.append(content)
        if isinstance(message.get("image"), str) and message["image"].strip():
            contents.append({"type": "image", "mediaUrl": message["image"].strip()})
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            attachment = attachment.get("url") or (attachment.get("payload") or {}).get("src")
        if isinstance(attachment, str) and attachment.strip():
            contents.append(_media(Attachment(attachment.strip())))
        for content in contents:
            await self.api.call(
                "POST",
                f"/conversations/{segment(desk_conversation_id)}/messages",
                {"author": {"type": "business"}, "content": content},
            )

    # -- inbound -----------------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        webhooks.verify(self._webhook_secret, request.headers)
        call = webhooks.parse(request.body)
        if call.app_id is not None and call.app_id != self.settings.app_id:
            return WebhookReply()  # Another app's webhook pointed here: nothing of ours.
        found: list[DeskEvent] = []
        for event in call.events:
            record = await self.store.get(CONVERSATION_KEY + event.conversation_id)
            found += self._read(event, record)
        return WebhookReply(events=found)

    def _read(self, event: webhooks.Event, record: Optional[dict[str, Any]]) -> list[DeskEvent]:
        ours_in_channel = record is not None and not record.get("desk")
        if event.type == webhooks.MESSAGE:
            author = event.author
            if author.type == "user":
                # In channel mode the user's messages are our own posts.
                return [] if ours_in_channel or not self.hosts_the_bot else self._for_the_bot(event)
            # A business message: an agent's, in a channel-mode handoff; in Zendesk's own
            # chat the user reads the agent (and the bot) there already.
            return self._agent_said(event, record) if ours_in_channel else []
        if record is None:
            return []  # Not a handoff of ours.
        if event.type in (webhooks.TYPING, webhooks.READ):
            if not ours_in_channel or event.author.type != "business":
                return []
            if event.type == webhooks.READ:
                return [MessagesRead(event.id, event.conversation_id, agent_name=event.author.name)]
            typing = event.activity_type != "typing:stop"
            return [AgentTyping(event.id, event.conversation_id, agent_name=event.author.name, typing=typing)]
        if CLOSED_MARK in event.metadata:
            return []  # Our own close, coming back.
        if event.type == webhooks.PASS_CONTROL and self._is_agent_workspace(event.active_integration):
            return []  # The handoff itself (ours, or a transfer between agent workspaces).
        # Released, passed back to a bot, or the conversation deleted: the agents are done.
        return [ConversationClosed(event.id, event.conversation_id)]

    def _agent_said(self, event: webhooks.Event, record: dict[str, Any]) -> list[DeskEvent]:
        content = event.content
        text = (content.get("text") or "").strip()
        media = content.get("mediaUrl") if content.get("type") in ("image", "file") else None
        if not text and not media:
            return []  # A carousel, a form...: nothing a chat shows as text.
        name = event.author.name
        said = AgentMessage(event.id, event.conversation_id, text=text, agent_name=name, attachments=(media,) if media else ())
        if not name:
            return [said]
        joined = AgentJoined(f"{record.get('handoff_id')}:joined:{name}", event.conversation_id, agent_name=name)
        return [joined, said]

    def _for_the_bot(self, event: webhooks.Event) -> list[DeskEvent]:
        """switchboard_bot: what the user wrote, when the bot is in control (or it is the bot's own button)."""
        content = event.content
        payload = content.get("payload") if isinstance(content.get("payload"), str) and content["payload"] else None
        if payload is None and not self._bot_in_control(event.active_integration):
            return []  # An agent (or another bot) has the conversation.
        text = (content.get("text") or "").strip()
        files = ()
        if content.get("type") in ("image", "file") and content.get("mediaUrl"):
            files = (Attachment(content["mediaUrl"], content.get("altText") or None, content.get("mediaType") or None),)
        if not text and not files and payload is None:
            return []
        author = event.author
        return [
            UserWroteInDesk(
                event.id,
                event.conversation_id,
                text=text,
                attachments=files,
                payload=payload,
                email=author.email,
                metadata={"zendesk": {"conversation_id": event.conversation_id, "user_id": author.user_id}},
            )
        ]

    def _is_agent_workspace(self, integration: Optional[dict[str, Any]]) -> bool:
        return _names(integration, self.settings.agent_workspace)

    def _bot_in_control(self, integration: Optional[dict[str, Any]]) -> bool:
        # Nobody in control: the switchboard's default integration (the bot) takes the message.
        return integration is None or _names(integration, self.settings.bot_integration)


def _names(integration: Optional[dict[str, Any]], reference: Optional[str]) -> bool:
    """Whether a switchboard integration is the one `reference` names (by id, name, integration id or type)."""
    if not integration or not reference:
        return False
    return reference in {str(integration.get(key)) for key in ("id", "name", "integrationId", "integrationType")}


def _transcript(request: HandoffRequest) -> str:
    who = {Speaker.USER: "User", Speaker.BOT: "Bot"}
    about = [f"email: {request.email or 'unknown'}", f"language: {request.language}"]
    if request.routing:
        about.append(f"routing: {request.routing}")
    about += [f"{name}: {value}" for name, value in request.attributes.items()]
    lines = [f"Handoff from the bot ({', '.join(about)})"]
    if request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    lines += [f"{who[turn.speaker]}: {turn.text.strip()}" for turn in request.transcript]
    return "\n".join(lines)


def _text(text: str) -> dict[str, Any]:
    if len(text) > _TEXT_LIMIT:
        text = text[: _TEXT_LIMIT - 1] + "…"
    return {"type": "text", "text": text}


def _media(attachment: Attachment) -> dict[str, Any]:
    """A file as the spec's `image` message when it is one, else a `file` message."""
    kind = attachment.content_type or mimetypes.guess_type(urlsplit(attachment.url).path)[0] or ""
    content: dict[str, Any] = {"type": "image" if kind.lower().startswith("image/") else "file", "mediaUrl": attachment.url}
    name = attachment.name or urlsplit(attachment.url).path.rsplit("/", 1)[-1]
    if name:
        content["altText"] = name[:_ALT_LIMIT]
    return content


__all__ = ["ZendeskConnector", "WEBHOOK_PATH", "SENDER_PREFIX", "sender_for", "conversation_for"]
