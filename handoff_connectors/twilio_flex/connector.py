"""The Twilio Flex connector: Conversations for the chat, an Interaction (TaskRouter) for the routing.

A handoff opens a conversation in the Flex Conversations service, named
after the handoff (`UniqueName` rasa-handoff-<id>, so a retried start finds
it instead of opening a second one), registers the sidecar as the
conversation's webhook (`onMessageAdded`, `onParticipantAdded`,
`onConversationStateUpdated`), adds the user as a chat participant
(identity `rasa:<sender id>`), writes the transcript as one message of the
bot's (`bot_author`) and the user's latest question as the user's message,
and then creates a Flex Interaction bound to that conversation
(`media_channel_sid`) whose routing creates the TaskRouter task for the
configured workspace and workflow, with the queue and the handoff's facts in
the task's attributes. Each step is done once: a retry carries on where a
failure stopped it.

The user's further messages are messages authored by the user; files go as
links after the text (sending a file into a conversation needs an upload to
Twilio's media service first, which the connector does not do). The agents'
messages (their files as links Twilio's media service gives), an agent
joining and the conversation closing come back as the conversation's
webhooks, verified with `X-Twilio-Signature` over the URL as Twilio called
it and the form. Our close writes why into the conversation, closes the
interaction's channel (Flex wraps up the task) and closes the conversation.
"""

from __future__ import annotations

import json
import logging
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
    HandoffRequest,
    ReportsAvailability,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    UserMessage,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
)
from . import signature
from .api import TwilioAPI, TwilioError, segment
from .settings import TwilioFlexSettings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/twilio_flex/webhook"
WEBHOOK_EVENTS = ("onMessageAdded", "onParticipantAdded", "onConversationStateUpdated")
IDENTITY_PREFIX = "rasa:"

# Store keys (all under "twilio_flex:").
START_KEY = "twilio_flex:start:"  # a start in progress: {conversation_sid, done: [steps]}
CONVERSATION_KEY = "twilio_flex:conversation:"  # a conversation of ours: {identity, interaction_sid, channel_sid}

_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "The user ended the chat with the bot's End chat button or phrase.",
    CloseReason.TIMEOUT: "The chat ended by itself: the user sent nothing new after the last agent message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}
_FORM = "application/x-www-form-urlencoded"


def identity_for(sender_id: str) -> str:
    """The Conversations identity the Rasa user writes as."""
    return IDENTITY_PREFIX + sender_id


class TwilioFlexConnector(Connector, TakesWebhooks, ReportsAvailability):
    name: ClassVar[str] = "twilio_flex"
    Settings = TwilioFlexSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(
        self,
        settings: TwilioFlexSettings,
        store,
        public_url: Optional[str] = None,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        if store is None:
            raise ValueError("the Twilio Flex connector keeps its state in the handoff store")
        self.settings = settings
        self.store = store
        self._token = settings.auth_token.get_secret_value()
        if settings.api_key_sid and settings.api_key_secret:
            username, password = settings.api_key_sid, settings.api_key_secret.get_secret_value()
        else:
            username, password = settings.account_sid, self._token
        self.api = TwilioAPI(username, password, settings.timeout, http)
        self.webhook_url = settings.webhook_url or (public_url.rstrip("/") + WEBHOOK_PATH if public_url else None)
        self._service = f"{settings.conversations_url}/v1/Services/{segment(settings.conversations_service_sid)}"
        self._names: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: TwilioFlexSettings, context: ConnectorContext) -> "TwilioFlexConnector":
        return cls(settings, context.store, context.public_url)

    def _conversation(self, conversation_sid: str, *rest: str) -> str:
        return "/".join([self._service, "Conversations", segment(conversation_sid), *rest])

    def queue_for(self, routing: Optional[str]) -> Optional[str]:
        """The TaskRouter queue (name or SID) a routing target goes to."""
        return self.settings.queues.get(routing or "", self.settings.default_queue)

    # -- outbound ------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key)
        identity = identity_for(request.sender_id)
        if progress is None:
            conversation_sid = await self._open(request, identity)
            progress = {"conversation_sid": conversation_sid, "done": []}
            await self.store.put(key, progress)
            await self.store.put(CONVERSATION_KEY + conversation_sid, {"identity": identity})
        conversation_sid = progress["conversation_sid"]
        steps = {
            "webhook": lambda: self._add_webhook(conversation_sid),
            "participant": lambda: self._add_participant(conversation_sid, identity, request),
            "transcript": lambda: self._post(conversation_sid, self.settings.bot_author, _transcript(request)),
            "question": lambda: self._post(conversation_sid, identity, request.latest_question.strip() or "(The user asked for a person.)"),
            "interaction": lambda: self._interact(conversation_sid, identity, request),
        }
        for step, run in steps.items():
            if step not in progress["done"]:
                await run()
                progress["done"].append(step)
                await self.store.put(key, progress)
        await self.store.delete(key)
        return conversation_sid

    async def _open(self, request: HandoffRequest, identity: str) -> str:
        unique_name = f"rasa-handoff-{request.handoff_id}"
        attributes = {"rasa_handoff": {"handoff_id": request.handoff_id, "sender_id": request.sender_id, "identity": identity}}
        try:
            created = await self.api.call(
                "POST",
                f"{self._service}/Conversations",
                {
                    "UniqueName": unique_name,
                    "FriendlyName": f"{request.email or request.sender_id} (from the bot)",
                    "Attributes": json.dumps(attributes),
                },
            )
        except TwilioError as error:
            if error.status != 409:
                raise
            # A start that failed after Twilio created the conversation: it is there under its unique name.
            created = await self.api.call("GET", f"{self._service}/Conversations/{segment(unique_name)}")
        sid = created.get("sid")
        if not isinstance(sid, str) or not sid:
            raise DeskError("Twilio created a conversation without a sid", retryable=False)
        return sid

    async def _add_webhook(self, conversation_sid: str) -> None:
        if self.webhook_url is None:
            return  # The service-wide webhook (set in the Console) tells us instead.
        await self.api.call(
            "POST",
            self._conversation(conversation_sid, "Webhooks"),
            {
                "Target": "webhook",
                "Configuration.Url": self.webhook_url,
                "Configuration.Method": "post",
                "Configuration.Filters": list(WEBHOOK_EVENTS),
            },
        )

    async def _add_participant(self, conversation_sid: str, identity: str, request: HandoffRequest) -> None:
        attributes = {"email": request.email or None, "language": request.language, "friendlyName": request.email or request.sender_id}
        try:
            await self.api.call(
                "POST",
                self._conversation(conversation_sid, "Participants"),
                {"Identity": identity, "Attributes": json.dumps(attributes)},
            )
        except TwilioError as error:
            if error.status != 409:  # 409: a retry after Twilio added them already.
                raise

    async def _post(self, conversation_sid: str, author: str, body: str, attributes: Optional[dict] = None) -> None:
        form = {"Author": author, "Body": body}
        if attributes:
            form["Attributes"] = json.dumps(attributes)
        await self.api.call("POST", self._conversation(conversation_sid, "Messages"), form)

    def task_attributes(self, conversation_sid: str, identity: str, request: HandoffRequest) -> dict[str, Any]:
        """What the task carries: what Flex shows of the customer, the queue for the workflow, the handoff's facts."""
        attributes: dict[str, Any] = {name: value for name, value in request.attributes.items()}
        attributes.update(
            {
                "from": identity,
                "customerName": request.email or request.sender_id,
                "customerAddress": request.email or identity,
                "channelType": "web",
                "conversationSid": conversation_sid,
                "queue": self.queue_for(request.routing),
                "routing": request.routing,
                "handoff": {
                    "id": request.handoff_id,
                    "sender_id": request.sender_id,
                    "email": request.email or None,
                    "language": request.language,
                    "message_to_agent": request.message_to_agent,
                },
            }
        )
        return attributes

    async def _interact(self, conversation_sid: str, identity: str, request: HandoffRequest) -> None:
        channel = {"type": "chat", "initiated_by": "customer", "properties": {"media_channel_sid": conversation_sid}}
        routing = {
            "properties": {
                "workspace_sid": self.settings.workspace_sid,
                "workflow_sid": self.settings.workflow_sid,
                "task_channel_unique_name": self.settings.task_channel,
                "attributes": self.task_attributes(conversation_sid, identity, request),
            }
        }
        created = await self.api.call(
            "POST", f"{self.settings.flex_url}/v1/Interactions", {"Channel": json.dumps(channel), "Routing": json.dumps(routing)}
        )
        interaction_sid = created.get("sid")
        channel_sid = (created.get("channel") or {}).get("sid") if isinstance(created.get("channel"), dict) else None
        if not isinstance(interaction_sid, str) or not isinstance(channel_sid, str):
            raise DeskError("Twilio created an interaction without its sid or channel sid", retryable=False)
        record = await self.store.get(CONVERSATION_KEY + conversation_sid) or {"identity": identity}
        await self.store.put(CONVERSATION_KEY + conversation_sid, {**record, "interaction_sid": interaction_sid, "channel_sid": channel_sid})

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        identity = await self._identity_of(desk_conversation_id)
        await self._post(desk_conversation_id, identity, message.text_with_links(), {"rasa_message_id": message.message_id})

    async def _identity_of(self, conversation_sid: str) -> str:
        """The user's identity in a conversation of ours: from the store, else the conversation's attributes."""
        record = await self.store.get(CONVERSATION_KEY + conversation_sid)
        if record and record.get("identity"):
            return record["identity"]
        conversation = await self.api.call("GET", self._conversation(conversation_sid))
        try:
            identity = json.loads(conversation.get("attributes") or "{}")["rasa_handoff"]["identity"]
        except (ValueError, KeyError, TypeError):
            identity = None
        if not isinstance(identity, str) or not identity:
            raise DeskError(f"Twilio conversation {conversation_sid} is not one the bot opened", retryable=False)
        return identity

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        record = await self.store.get(CONVERSATION_KEY + desk_conversation_id) or {}
        done = list(record.get("closing") or [])
        steps = {
            "note": lambda: self._post(desk_conversation_id, self.settings.bot_author, _CLOSE_NOTES[reason]),
            "channel": lambda: self._close_channel(record),
            "conversation": lambda: self.api.call("POST", self._conversation(desk_conversation_id), {"State": "closed"}),
        }
        for step, run in steps.items():
            if step in done or (step == "note" and not record):
                continue
            await run()
            if record:
                done.append(step)
                await self.store.put(CONVERSATION_KEY + desk_conversation_id, {**record, "closing": done})
        # Our side ended it: nothing Twilio says about it later concerns us.
        await self.store.delete(CONVERSATION_KEY + desk_conversation_id)

    async def _close_channel(self, record: dict) -> None:
        if not record.get("interaction_sid") or not record.get("channel_sid"):
            return
        await self.api.call(
            "POST",
            f"{self.settings.flex_url}/v1/Interactions/{segment(record['interaction_sid'])}/Channels/{segment(record['channel_sid'])}",
            {"Status": "closed"},
        )

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """Whether a TaskRouter worker is available in the routing's queue (in the workspace, without one)."""
        queue = self.queue_for(routing)
        query = {"Available": "true", "PageSize": "1"}
        if queue is not None:
            query["TaskQueueSid" if _is_sid(queue, "WQ") else "TaskQueueName"] = queue
        url = f"{self.settings.taskrouter_url}/v1/Workspaces/{segment(self.settings.workspace_sid)}/Workers"
        try:
            listing = await self.api.call("GET", url, query=query)
        except DeskError as error:
            logger.warning("Twilio availability unknown: %s", error)
            return None
        workers = listing.get("workers")
        if not isinstance(workers, list):
            return None
        return any(isinstance(w, dict) and w.get("available") is not False for w in workers)

    async def check(self) -> ServiceStatus:
        try:
            await self.api.call("GET", self._service)
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound -------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
            # Twilio's Conversations webhooks are forms; anything else is unsigned as far as we can tell.
            raise WebhookRejected(401 if "x-twilio-signature" not in request.headers else 400, f"the body must be {_FORM}")
        signature.verify(self._token, request)
        form = {name: values[-1] for name, values in request.form.items() if values}
        event_type = _required(form, "EventType")
        conversation_sid = _required(form, "ConversationSid")
        if event_type not in WEBHOOK_EVENTS:
            return WebhookReply()  # Pre-events and others: allowed, nothing to tell the user.
        checks = {"onMessageAdded": ("MessageSid",), "onParticipantAdded": ("ParticipantSid",), "onConversationStateUpdated": ("StateTo",)}
        for name in checks[event_type]:
            _required(form, name)
        media = _media(form.get("Media"))
        record = await self.store.get(CONVERSATION_KEY + conversation_sid)
        if record is None:
            return WebhookReply()  # Not a handoff of ours (or one we ended): nothing to do.
        event = await self._event(event_type, conversation_sid, form, media, record)
        return WebhookReply(events=[event] if event is not None else [])

    async def _event(self, event_type: str, conversation_sid: str, form: dict[str, str], media: list[dict], record: dict) -> Optional[DeskEvent]:
        ours = {record.get("identity"), self.settings.bot_author, "system", ""}
        if event_type == "onConversationStateUpdated":
            if form["StateTo"] != "closed":
                return None
            return ConversationClosed(event_id=f"{conversation_sid}:closed", desk_conversation_id=conversation_sid)
        if event_type == "onParticipantAdded":
            who = form.get("Identity", "")
            if who in ours:
                return None  # The user, or a participant with no chat identity (SMS, WhatsApp).
            return AgentJoined(event_id=form["ParticipantSid"], desk_conversation_id=conversation_sid, agent_name=await self.agent_name(who))
        author = form.get("Author", "")
        if author in ours:
            return None  # The user's own messages, and the bot's notes.
        urls = [await self._media_link(conversation_sid, item) for item in media]
        text = form.get("Body", "").strip()
        if not text and not urls:
            return None
        return AgentMessage(
            event_id=form["MessageSid"],
            desk_conversation_id=conversation_sid,
            text=text,
            agent_name=await self.agent_name(author),
            attachments=tuple(url for url in urls if url),
        )

    async def agent_name(self, identity: str) -> str:
        """The agent's name as Flex shows it (the Conversations user's friendly name), else the identity."""
        if identity not in self._names:
            try:
                user = await self.api.call("GET", f"{self._service}/Users/{segment(identity)}")
            except DeskError:
                return identity  # Asked again next time.
            name = user.get("friendly_name")
            self._names[identity] = name if isinstance(name, str) and name.strip() else identity
        return self._names[identity]

    async def _media_link(self, conversation_sid: str, item: dict) -> Optional[str]:
        """A link to a file an agent sent: Twilio's media service hands out a temporary direct URL."""
        sid = item.get("Sid") or item.get("sid")
        if not isinstance(sid, str) or not sid:
            return None
        url = f"{self.settings.media_url}/v1/Services/{segment(self.settings.conversations_service_sid)}/Media/{segment(sid)}"
        try:
            found = await self.api.call("GET", url)
        except DeskError as error:
            logger.warning("Twilio media %s of conversation %s: no link (%s)", sid, conversation_sid, error)
            return None
        link = (found.get("links") or {}).get("content_direct_temporary") if isinstance(found.get("links"), dict) else None
        return link if isinstance(link, str) and link.startswith(("https://", "http://")) else None


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise WebhookRejected(400, f"{name}: required")
    return value


def _media(raw: Optional[str]) -> list[dict]:
    """The `Media` field of a message: a JSON list of the files' descriptions."""
    if raw is None or not raw.strip():
        return []
    try:
        media = json.loads(raw)
    except ValueError:
        raise WebhookRejected(400, "Media: must be a JSON list") from None
    if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
        raise WebhookRejected(400, "Media: must be a JSON list of objects")
    return media


def _is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and all(c in "0123456789abcdefABCDEF" for c in value[2:])


def _transcript(request: HandoffRequest) -> str:
    """The chat with the bot as one message: the facts first, each turn on a line, the note for the agent last."""
    facts = {"email": request.email or "unknown", "language": request.language, "routing": request.routing, **request.attributes}
    lines = ["Chat with the bot before the handoff (" + "; ".join(f"{k}: {v}" for k, v in facts.items() if v) + ")"]
    lines += [("Customer" if turn.speaker is Speaker.USER else "Bot") + " > " + turn.text.strip() for turn in request.transcript]
    if request.message_to_agent:
        lines.append(f"Note for the agent: {request.message_to_agent}")
    return "\n".join(lines)
