"""The Intercom connector (REST API 2.14), in two modes.

channel (default): the user talks to the bot on any channel. A handoff finds
or creates the Intercom contact by email, opens a conversation from it with
the user's latest question, adds the transcript and the message to the agent
as internal notes and assigns it to the routing team. The user's further
messages become the contact's replies (images as Intercom attachments, other
files as links); the agents' replies, snoozes, assignments (an agent taking
it joins, an agent passing it to another agent or a team transfers it) and
the close come back through the sidecar.

messenger: the bot is also the first responder inside Intercom Messenger
(the core's bot-inside-the-desk mode, `core/desk_bot.py`). The connector
reads `conversation.user.created` / `conversation.user.replied` as
`UserWroteInDesk`; the core hands the text to Rasa as sender
`intercom-<conversation id>` and gives the bot's answers back to
`post_bot_message`, which posts them as the bot admin. A handoff there
assigns that same conversation to the team; the bot stays quiet in it until
Intercom closes it. Senders from other channels still get channel-mode
handoffs, so one bot can serve both.

Inbound: every POST must carry `X-Hub-Signature` (HMAC-SHA1 of the raw body
with the app's client secret); Intercom's HEAD check is answered 200.
Notifications are deduplicated by their id (the DeskEvent id). Parts the
bot admin wrote itself, notes, and conversations that are no handoff of ours
are ignored with a 200, so Intercom never retries them. Reading a
notification writes nothing: the core queues its events and ends the handoff.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import mimetypes
import re
import time
import uuid
from typing import Any, ClassVar, Optional
from urllib.parse import quote, urlsplit

import httpx

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentSnoozed,
    Attachment,
    CloseReason,
    Connector,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    HostsTheBot,
    ReportsAvailability,
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
from . import webhooks
from .api import REGIONS, IntercomAPI, IntercomError
from .html import linkified, paragraphs, to_text
from .settings import IntercomConnectorSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/intercom/webhook"
SENDER_PREFIX = "intercom-"

# Store keys (all under "intercom:").
START_KEY = "intercom:start:"  # a start in progress: {conversation_id, contact_id, done: [steps]}
CONVERSATION_KEY = "intercom:conversation:"  # a conversation handed off by us: {handoff_id, contact_id, messenger}
QUICK_KEY = "intercom:quick:"  # quick-reply options the bot offered: {options: {uuid: {payload, title}}}

USER_TOPICS = ("conversation.user.created", "conversation.user.replied")
_ASSIGN_TOPICS = ("conversation.admin.assigned", "conversation.admin.open.assigned")
_CONTACT_AUTHORS = ("user", "lead", "contact")
_REPLY_PARTS = ("comment", "quick_reply")
_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "The user ended the chat with the bot's End chat button or phrase.",
    CloseReason.TIMEOUT: "The chat ended by itself: the user sent nothing new after the last agent message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}
_QUICK_KEPT = 20
_MAX_ATTACHMENT_URLS = 10
_HEX24 = re.compile(r"\b([0-9a-f]{24})\b")


def sender_for(conversation_id: str) -> str:
    """The Rasa sender id of an Intercom Messenger conversation (messenger mode)."""
    return f"{SENDER_PREFIX}{conversation_id}"


def conversation_for(sender_id: str) -> Optional[str]:
    """The Intercom conversation a messenger-mode sender id stands for, if it is one."""
    if not sender_id.startswith(SENDER_PREFIX):
        return None
    rest = sender_id[len(SENDER_PREFIX):]
    return rest if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rest) else None


class IntercomConnector(Connector, TakesWebhooks, ReportsAvailability, HostsTheBot):
    name: ClassVar[str] = "intercom"
    Settings = IntercomConnectorSettings
    webhook_routes = (("HEAD", WEBHOOK_PATH), ("POST", WEBHOOK_PATH))

    def __init__(self, settings: IntercomConnectorSettings, store, http: httpx.AsyncClient | None = None) -> None:
        if store is None:
            raise ValueError("the Intercom connector keeps its state in the handoff store")
        self.settings = settings
        self.mode = settings.mode
        self.store = store
        self._secret = settings.client_secret.get_secret_value()
        self.api = IntercomAPI(
            settings.base_url or REGIONS[settings.region],
            settings.access_token.get_secret_value(),
            settings.timeout,
            http,
        )
        self._admin_id: Optional[str] = settings.admin_id

    @classmethod
    def from_settings(cls, settings: IntercomConnectorSettings, context: ConnectorContext) -> "IntercomConnector":
        return cls(settings, context.store)

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.mode == "messenger"

    def bot_sender(self, desk_conversation_id: str) -> str:
        return sender_for(desk_conversation_id)

    def desk_conversation_of(self, sender_id: str) -> Optional[str]:
        return conversation_for(sender_id)

    # -- who the bot is, where a handoff goes ----------------------------------

    async def bot_admin(self) -> str:
        """The bot's admin id: configured, or the token's own admin (GET /me), cached."""
        if self._admin_id is None:
            me = await self.api.call("GET", "/me")
            if me.get("id") in (None, ""):
                raise DeskError("Intercom GET /me answered without an admin id", retryable=False)
            self._admin_id = str(me["id"])
        return self._admin_id

    def team_for(self, routing: Optional[str]) -> Optional[str]:
        if routing and routing in self.settings.teams:
            return self.settings.teams[routing]
        return self.settings.default_team

    # -- outbound ------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        # Resumable: a retry after a failure part-way carries on where it stopped
        # instead of opening a second conversation.
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key)
        if progress is None:
            progress = await self._open(request)
            await self.store.put(key, progress)
            await self.store.put(
                CONVERSATION_KEY + progress["conversation_id"],
                {
                    "handoff_id": request.handoff_id,
                    "contact_id": progress.get("contact_id"),
                    "messenger": progress.get("messenger", False),
                },
            )
        conversation_id = progress["conversation_id"]
        admin = await self.bot_admin()
        steps = [
            ("transcript", self._transcript_note(request)),
            ("assign", None),
            ("message_to_agent", self._agent_note(request)),
        ]
        for step, note in steps:
            if step in progress["done"]:
                continue
            if step == "assign":
                await self._assign(conversation_id, admin, request.routing, progress.get("messenger", False))
            elif note:
                await self._note(conversation_id, admin, note)
            progress["done"].append(step)
            await self.store.put(key, progress)
        await self.store.delete(key)
        return conversation_id

    async def _open(self, request: HandoffRequest) -> dict[str, Any]:
        existing = conversation_for(request.sender_id) if self.mode == "messenger" else None
        if existing is not None:
            # The user is already in an Intercom conversation with the bot: hand over that one.
            return {"conversation_id": existing, "contact_id": None, "messenger": True, "done": []}
        contact = await self._contact(request.email)
        answer = await self.api.call(
            "POST",
            "/conversations",
            {
                "from": {"type": contact["role"], "id": contact["id"]},
                # Plain text: Intercom takes no HTML in a new conversation's body.
                "body": request.latest_question.strip() or "(The user asked for a person.)",
            },
        )
        conversation_id = answer.get("conversation_id")
        if conversation_id in (None, ""):
            raise DeskError("Intercom POST /conversations answered without a conversation_id", retryable=False)
        return {"conversation_id": str(conversation_id), "contact_id": contact["id"], "messenger": False, "done": []}

    async def _contact(self, email: str) -> dict[str, str]:
        """The Intercom contact with this email (a user before a lead), created when there is none."""
        if email:
            found = await self.api.call(
                "POST",
                "/contacts/search",
                {"query": {"field": "email", "operator": "=", "value": email}, "pagination": {"per_page": 5}},
            )
            contacts = [c for c in found.get("data") or [] if isinstance(c, dict) and c.get("id")]
            contacts.sort(key=lambda c: c.get("role") != "user")
            if contacts:
                return {"id": str(contacts[0]["id"]), "role": _role(contacts[0])}
        body: dict[str, Any] = {"email": email, "role": "user"} if email else {"role": "lead"}
        try:
            created = await self.api.call("POST", "/contacts", body)
        except IntercomError as error:
            # Search lags behind creation: "A contact matching those details already exists with id=...".
            existing = _HEX24.search(error.detail) if error.status == 409 else None
            if existing is None:
                raise
            return {"id": existing.group(1), "role": "user"}
        if created.get("id") in (None, ""):
            raise DeskError("Intercom POST /contacts answered without an id", retryable=False)
        return {"id": str(created["id"]), "role": _role(created)}

    def _transcript_note(self, request: HandoffRequest) -> str:
        who = {Speaker.USER: "User", Speaker.BOT: "Bot"}
        about = [f"email: {request.email or 'unknown'}", f"language: {request.language}"]
        if request.routing:
            about.append(f"routing: {request.routing}")
        # The facts `escalation.attributes` collects, where the agent reads them first.
        about += [f"{name}: {value}" for name, value in request.attributes.items()]
        lines = [f"<p><b>Handoff from the bot</b> ({html.escape(', '.join(about))})</p>"]
        for turn in request.transcript:
            lines.append(f"<p><b>{who[turn.speaker]}:</b> {_one_line(turn.text)}</p>")
        lines.append(f"<p><b>User (latest question):</b> {_one_line(request.latest_question)}</p>")
        return "".join(lines)

    def _agent_note(self, request: HandoffRequest) -> Optional[str]:
        if not request.message_to_agent:
            return None
        return f"<p><b>Message to the agent:</b> {_one_line(request.message_to_agent)}</p>"

    async def _note(self, conversation_id: str, admin: str, body: str) -> None:
        await self.api.call(
            "POST",
            f"/conversations/{_segment(conversation_id)}/reply",
            {"message_type": "note", "type": "admin", "admin_id": admin, "body": body},
        )

    async def _assign(self, conversation_id: str, admin: str, routing: Optional[str], messenger: bool) -> None:
        team = self.team_for(routing)
        if team is not None:
            assignment = {"type": "team", "assignee_id": team}
        elif messenger:
            # No team configured: take it off the bot so it shows as unassigned.
            assignment = {"type": "admin", "assignee_id": "0"}
        else:
            return  # A new conversation is unassigned already.
        await self.api.call(
            "POST",
            f"/conversations/{_segment(conversation_id)}/parts",
            {"message_type": "assignment", "admin_id": admin, **assignment},
        )

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        if record.get("messenger"):
            return  # The user wrote it in Intercom: the agent has it already.
        contact_id = record.get("contact_id") or await self._contact_of(desk_conversation_id)
        images, linked = _images_and_the_rest(message.attachments)
        reply: dict[str, Any] = {
            "message_type": "comment",
            "type": "user",
            "intercom_user_id": contact_id,
            # What Intercom cannot show as an image reaches the agent as a link.
            "body": paragraphs(dataclasses.replace(message, attachments=linked).text_with_links()),
            "created_at": int(message.sent_at) if message.sent_at else int(time.time()),
        }
        if images:
            reply["attachment_urls"] = images
        await self.api.call("POST", f"/conversations/{_segment(desk_conversation_id)}/reply", reply)

    async def _contact_of(self, conversation_id: str) -> str:
        conversation = await self.api.call("GET", f"/conversations/{_segment(conversation_id)}")
        contacts = (conversation.get("contacts") or {}).get("contacts") or []
        if not contacts or not contacts[0].get("id"):
            raise DeskError(f"Intercom conversation {conversation_id} has no contact", retryable=False)
        return str(contacts[0]["id"])

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        admin = await self.bot_admin()
        await self._note(desk_conversation_id, admin, f"<p>{html.escape(_CLOSE_NOTES[reason])}</p>")
        await self.api.call(
            "POST",
            f"/conversations/{_segment(desk_conversation_id)}/parts",
            {"message_type": "close", "type": "admin", "admin_id": admin},
        )
        # Our side ended it: nothing Intercom says about it later concerns us.
        await self.store.delete(CONVERSATION_KEY + desk_conversation_id)
        await self.store.delete(QUICK_KEY + desk_conversation_id)

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """Whether someone in the routing team (or anyone, without a team) is not away."""
        team = self.team_for(routing)
        try:
            bot = await self.bot_admin()
            listing = await self.api.call("GET", "/admins")
        except DeskError as error:
            logger.warning("Intercom availability unknown: %s", error)
            return None
        admins = [a for a in listing.get("admins") or [] if isinstance(a, dict)]
        if not admins:
            return None
        for admin in admins:
            if str(admin.get("id")) == bot or admin.get("away_mode_enabled") or admin.get("has_inbox_seat") is False:
                continue
            if team is None or team in {str(t) for t in admin.get("team_ids") or []}:
                return True
        return False

    async def check(self) -> ServiceStatus:
        try:
            me = await self.api.call("GET", "/me")
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        if self._admin_id is None and me.get("id") not in (None, ""):
            self._admin_id = str(me["id"])
        return ServiceStatus.AVAILABLE

    # -- messenger mode: the bot's own messages into Intercom --------------------

    async def post_bot_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """One message from Rasa's REST channel, as the bot admin: text, image, buttons."""
        admin = await self.bot_admin()
        lines = [message["text"]] if isinstance(message.get("text"), str) and message["text"].strip() else []
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            attachment = attachment.get("url") or (attachment.get("payload") or {}).get("src")
        if isinstance(attachment, str) and attachment.strip():
            lines.append(attachment.strip())
        image = message.get("image") if isinstance(message.get("image"), str) else None
        if lines or image:
            reply: dict[str, Any] = {
                "message_type": "comment",
                "type": "admin",
                "admin_id": admin,
                "body": paragraphs("\n".join(lines)) if lines else f'<p>{linkified(image)}</p>',
            }
            if image:
                reply["attachment_urls"] = [image]
            await self.api.call("POST", f"/conversations/{_segment(conversation_id)}/reply", reply)
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        if buttons:
            options = {str(uuid.uuid4()): b for b in buttons[:10]}
            await self._remember_quick_replies(conversation_id, options)
            await self.api.call(
                "POST",
                f"/conversations/{_segment(conversation_id)}/reply",
                {
                    "message_type": "quick_reply",
                    "type": "admin",
                    "admin_id": admin,
                    "reply_options": [{"text": str(b["title"]), "uuid": key} for key, b in options.items()],
                },
            )

    async def _remember_quick_replies(self, conversation_id: str, options: dict[str, dict]) -> None:
        stored = (await self.store.get(QUICK_KEY + conversation_id) or {}).get("options", {})
        for key, button in options.items():
            stored[key] = {"title": str(button["title"]), "payload": str(button.get("payload") or button["title"])}
        kept = dict(list(stored.items())[-_QUICK_KEPT:])
        await self.store.put(QUICK_KEY + conversation_id, {"options": kept})

    async def quick_reply_payload(self, conversation_id: str, chosen_uuid: Optional[str], text: str) -> Optional[str]:
        """The payload of a quick reply the bot offered, when the user picked one."""
        options = (await self.store.get(QUICK_KEY + conversation_id) or {}).get("options", {})
        if chosen_uuid and chosen_uuid in options:
            return options[chosen_uuid]["payload"]
        for option in reversed(list(options.values())):
            if text and option["title"].strip().casefold() == text.strip().casefold():
                return option["payload"]
        return None

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound -------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        if request.method == "HEAD":
            # Intercom checks a new endpoint with HEAD; it carries no notification.
            return WebhookReply()
        webhooks.verify(self._secret, request.headers, request.body)
        notification = webhooks.parse(request.body)
        conversation_id = notification.conversation_id
        if notification.topic == "ping" or conversation_id is None:
            return WebhookReply()
        if notification.topic in USER_TOPICS:
            if self.mode == "messenger":
                return WebhookReply(events=await self._for_the_bot(notification, conversation_id))
            return WebhookReply()
        # Read only: the record outlives a close Intercom reports, so should queueing the
        # close fail, Intercom's retry still finds it. The core ends the handoff; what is
        # left is this small record, which only lets later notifications about the
        # conversation reach the core, where no handoff owns them.
        record = await self.store.get(CONVERSATION_KEY + conversation_id)
        if record is None:
            return WebhookReply()  # Not a handoff of ours: nothing to do.
        try:
            bot = await self.bot_admin()
        except DeskError:
            raise WebhookRejected(503, "cannot tell the bot's own parts apart yet (GET /me failed)") from None
        found = await self._events(notification, conversation_id, bot, bool(record.get("messenger")))
        return WebhookReply(events=_with_event_ids(notification.id, found))

    async def _events(
        self, notification: webhooks.Notification, conversation_id: str, bot: str, messenger: bool
    ) -> list[tuple[str, DeskEvent]]:
        """(part id, event) for what the topic tells the user; the bot's own parts tell nothing."""
        topic = notification.topic
        if topic == "conversation.admin.replied":
            # In messenger mode the user reads the agent in Intercom already.
            return [] if messenger else _agent_messages(notification, conversation_id, bot)
        if topic == "conversation.admin.closed":
            return _closes(notification, conversation_id, bot)
        if topic == "conversation.admin.snoozed":
            return _snoozes(notification, conversation_id, bot)
        if topic in _ASSIGN_TOPICS:
            found = []
            for part in notification.parts():
                event = await self._assignment(part, notification, conversation_id, bot)
                if event is not None:
                    found.append((part.id, event))
            return found
        return []

    async def _assignment(
        self, part: webhooks.Part, notification: webhooks.Notification, conversation_id: str, bot: str
    ) -> Optional[DeskEvent]:
        """An agent taking the conversation (or given it by Intercom's routing) joins;
        an agent handing it to another agent or to a team transfers it."""
        assignee = part.assigned_to or {}
        assignee_id = str(assignee.get("id") or "")
        if part.author.id == bot or assignee_id in ("", "0", bot):
            return None
        # An assignment written by a person other than the assignee: someone passed it on.
        by_a_person = part.author.type == "admin" and part.author.id not in (None, assignee_id)
        if assignee.get("type") == "team":
            if not by_a_person:
                return None  # Intercom's own routing placing it in a team: nothing for the user yet.
            return Transferred(event_id="", desk_conversation_id=conversation_id, to_queue=await self._team_name(assignee_id))
        if assignee.get("type") != "admin":
            return None
        name = await self._admin_name(assignee, part, notification)
        if by_a_person:
            return Transferred(event_id="", desk_conversation_id=conversation_id, to_agent=name)
        return AgentJoined(event_id="", desk_conversation_id=conversation_id, agent_name=name)

    async def _admin_name(self, assignee: dict, part: webhooks.Part, notification: webhooks.Notification) -> Optional[str]:
        if isinstance(assignee.get("name"), str) and assignee["name"]:
            return assignee["name"]
        if part.author.id == str(assignee.get("id")) and part.author.name:
            return part.author.name
        for admin in (notification.item.get("teammates") or {}).get("admins") or []:
            if isinstance(admin, dict) and str(admin.get("id")) == str(assignee.get("id")) and admin.get("name"):
                return admin["name"]
        return await self._name_of(f"/admins/{_segment(assignee['id'])}")

    async def _team_name(self, team_id: str) -> Optional[str]:
        """The team's name as Intercom shows it (the user is told where the chat goes)."""
        return await self._name_of(f"/teams/{_segment(team_id)}")

    async def _name_of(self, path: str) -> Optional[str]:
        """The `name` of an admin or team; None when Intercom cannot say (the actions name nobody then)."""
        try:
            found = await self.api.call("GET", path)
        except DeskError:
            return None
        return found.get("name") if isinstance(found.get("name"), str) and found["name"] else None

    async def _for_the_bot(self, notification: webhooks.Notification, conversation_id: str) -> list[DeskEvent]:
        """Messenger mode: what the user wrote, for the bot (the core decides if it goes)."""
        messages = [p for p in notification.parts() if p.author.type in _CONTACT_AUTHORS and p.part_type in _REPLY_PARTS]
        if notification.topic == "conversation.user.created" and not messages:
            source = notification.source()
            if source is not None and source.author.type in _CONTACT_AUTHORS:
                messages = [source]
        contact = notification.contact()
        events: list[DeskEvent] = []
        for part in messages:
            text, images = to_text(part.body)
            files = [*_files(part), *(Attachment(url) for url in images)]
            if not text and not files:
                continue
            email = part.author.email or contact.get("email")
            payload = await self.quick_reply_payload(conversation_id, part.metadata.get("quick_reply_uuid"), text)
            events.append(
                UserWroteInDesk(
                    event_id=f"{notification.id}:{part.id}",
                    desk_conversation_id=conversation_id,
                    text=text,
                    attachments=tuple(files),
                    payload=payload,
                    email=email if isinstance(email, str) and email else None,
                    metadata={"intercom": {"conversation_id": conversation_id, "contact_id": part.author.id or contact.get("id")}},
                )
            )
        return events


def _agent_messages(notification: webhooks.Notification, conversation_id: str, bot: str) -> list[tuple[str, DeskEvent]]:
    found: list[tuple[str, DeskEvent]] = []
    for part in notification.parts():
        if part.author.id == bot or part.author.type != "admin" or part.part_type not in _REPLY_PARTS:
            continue
        text, images = to_text(part.body)
        urls = tuple([file.url for file in _files(part)] + images)
        if text or urls:
            message = AgentMessage(
                event_id="", desk_conversation_id=conversation_id, text=text, agent_name=part.author.name, attachments=urls
            )
            found.append((part.id, message))
    return found


def _closes(notification: webhooks.Notification, conversation_id: str, bot: str) -> list[tuple[str, DeskEvent]]:
    closers = [p for p in notification.parts() if p.part_type == "close"]
    if closers and all(p.author.id == bot for p in closers):
        return []  # The bot closed it: our side ended it already.
    return [("close", ConversationClosed(event_id="", desk_conversation_id=conversation_id))]


def _snoozes(notification: webhooks.Notification, conversation_id: str, bot: str) -> list[tuple[str, DeskEvent]]:
    snoozers = [p for p in notification.parts() if p.part_type in ("snoozed", "snooze")]
    if not snoozers:
        # Told even without its part: the topic alone says the agent set it aside.
        return [("snoozed", AgentSnoozed(event_id="", desk_conversation_id=conversation_id))]
    return [
        (part.id, AgentSnoozed(event_id="", desk_conversation_id=conversation_id, agent_name=part.author.name))
        for part in snoozers
        if part.author.id != bot
    ]


def _with_event_ids(notification_id: str, found: list[tuple[str, DeskEvent]]) -> list[DeskEvent]:
    """Intercom redelivers a notification with the same id: that id (and the part's) is the event id."""
    if len(found) == 1:
        return [dataclasses.replace(found[0][1], event_id=notification_id)]
    return [dataclasses.replace(event, event_id=f"{notification_id}:{key}") for key, event in found]


def _files(part: webhooks.Part) -> list[Attachment]:
    """The files attached to a part, with the name and type Intercom gives."""
    return [
        Attachment(a["url"], a.get("name") or None, a.get("content_type") or None)
        for a in part.attachments
        if isinstance(a.get("url"), str) and a["url"]
    ]


def _images_and_the_rest(attachments: tuple[Attachment, ...]) -> tuple[list[str], tuple[Attachment, ...]]:
    """The image URLs a contact's reply can carry (`attachment_urls`: images, at most
    ten), and the attachments left over."""
    images = [a.url for a in attachments if _is_image(a)][:_MAX_ATTACHMENT_URLS]
    return images, tuple(a for a in attachments if a.url not in images)


def _is_image(attachment: Attachment) -> bool:
    # A channel often gives no type: the file name in the URL tells it then.
    kind = attachment.content_type or mimetypes.guess_type(urlsplit(attachment.url).path)[0] or ""
    return kind.lower().startswith("image/")


def _role(contact: dict[str, Any]) -> str:
    return "lead" if contact.get("role") == "lead" else "user"


def _one_line(text: str) -> str:
    """User or bot text for a note: escaped, links kept, line breaks as <br>."""
    return "<br>".join(linkified(line) for line in text.strip().splitlines()) or "<i>(empty)</i>"


def _segment(value: str) -> str:
    """An id as one URL path segment: an id from a notification never reaches another path."""
    return quote(str(value), safe="")
