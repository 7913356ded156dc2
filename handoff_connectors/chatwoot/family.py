"""What Chatwoot and the desks built on it (LiveDesk) do the same way.

Both keep conversations of contacts in inboxes, take messages with
`message_type` incoming (the contact's words) or outgoing (an agent's, or
the bot's), `private` notes for agents, and tell us what happens through
the same webhook payloads (see `payloads`). This base class holds the whole
handoff on top of that; a desk says where its API lives and how it is
authenticated, how a contact is found or created, how its webhooks are
authenticated and how its credentials are checked.

Two modes:

- channel (a Rasa user of any channel): `start` finds or creates the
  contact, opens a conversation in the API inbox for it with the team of
  the routing, adds the transcript as a private note, posts the user's
  latest question as an incoming message and the message to the agent as a
  second note. Each further user message is an incoming message (files as
  links after the text); agents' outgoing messages, assignments, typing,
  snoozes and the resolve come back as events.
- in the desk (`hosts_the_bot`): the contact's incoming messages in
  conversations the bot answers become `UserWroteInDesk`; the bot's answers
  are posted as outgoing messages. A handoff of such a conversation gives
  it to the agents (status open, the routing's team) with the transcript
  note; the bot stays quiet until an agent resolves it.

Our `close` leaves a note saying why and resolves the conversation.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Optional
from urllib.parse import quote

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentSnoozed,
    AgentTyping,
    CloseReason,
    Connector,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    HostsTheBot,
    Speaker,
    TakesWebhooks,
    Transferred,
    UserMessage,
    UserWroteInDesk,
    WebhookReply,
    WebhookRequest,
)
from . import payloads
from .api import DeskAPI

logger = logging.getLogger(__name__)

_CLOSE_NOTES = {
    CloseReason.USER_CLOSED: "The user ended the chat with the bot's End chat button or phrase.",
    CloseReason.TIMEOUT: "The chat ended by itself: the user wrote nothing after the agent's last message.",
    CloseReason.BOT_ENDED: "The bot ended the handoff.",
}
_BUTTONS_KEPT = 20
_RESOLVED = ("conversation_resolved",)


class ChatwootFamilyConnector(Connector, TakesWebhooks, HostsTheBot):
    """The handoff over a Chatwoot-style API; subclasses fill the hooks at the end."""

    name: ClassVar[str]
    #: The desk's name in messages and notes.
    desk_name: ClassVar[str]

    def __init__(self, settings: Any, store: Any, api: DeskAPI, bot_api: Optional[DeskAPI] = None) -> None:
        if store is None:
            raise ValueError(f"the {self.desk_name} connector keeps its state in the handoff store")
        self.settings = settings
        self.store = store
        self.api = api
        # The client the bot's own messages (and its handoffs) go through.
        self.bot_api = bot_api or api

    # -- the desk's hooks ---------------------------------------------------------------

    def path(self, *parts: str) -> str:
        """An API path under the account (ids given here are quoted as one segment each)."""
        raise NotImplementedError

    async def contact_for(self, request: HandoffRequest) -> tuple[str, Optional[str]]:
        """(contact id, source id of its contact inbox or None) for the handoff's user."""
        raise NotImplementedError

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Raise WebhookRejected(401) unless the call is the desk's."""
        raise NotImplementedError

    # -- who is who -----------------------------------------------------------------------

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        raise NotImplementedError

    def team_for(self, routing: Optional[str]) -> Optional[int]:
        if routing and routing in self.settings.teams:
            return self.settings.teams[routing]
        return self.settings.default_team

    def _key(self, kind: str, value: str) -> str:
        return f"{self.name}:{kind}:{value}"

    def conversation_path(self, conversation_id: str, *rest: str) -> str:
        return self.path("conversations", conversation_id, *rest)

    # -- outbound -------------------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        # Resumable: a retry after a failure part-way carries on where it stopped.
        key = self._key("start", request.handoff_id)
        progress = await self.store.get(key)
        if progress is None:
            progress = await self._open(request)
            await self.store.put(key, progress)
            if not progress["in_desk"]:
                await self.store.put(self._key("channel", progress["conversation_id"]), {"handoff_id": request.handoff_id})
        conversation_id = progress["conversation_id"]
        api = self.bot_api if progress["in_desk"] else self.api
        steps: list[tuple[str, Any]] = [("transcript", self._transcript_note(request))]
        if progress["in_desk"]:
            steps += [("open", None), ("team", self.team_for(request.routing))]
        else:
            steps.append(("question", request.latest_question.strip() or "(The user asked for a person.)"))
        steps.append(("message_to_agent", request.message_to_agent))
        for step, value in steps:
            if step in progress["done"]:
                continue
            if step == "open":
                await api.call("POST", self.conversation_path(conversation_id, "toggle_status"), {"status": "open"})
            elif step == "team" and value is not None:
                await api.call("POST", self.conversation_path(conversation_id, "assignments"), {"team_id": value})
            elif step == "question":
                await self._post(api, conversation_id, value, message_type="incoming")
            elif step in ("transcript", "message_to_agent") and value:
                text = value if step == "transcript" else f"Message to the agent: {value}"
                await self._post(api, conversation_id, text, private=True)
            progress["done"].append(step)
            await self.store.put(key, progress)
        await self.store.delete(key)
        return conversation_id

    async def _open(self, request: HandoffRequest) -> dict[str, Any]:
        existing = self.desk_conversation_of(request.sender_id) if self.hosts_the_bot else None
        if existing is not None:
            # The user talks to the bot in the desk already: hand over that conversation.
            return {"conversation_id": existing, "in_desk": True, "done": []}
        inbox = self.settings.inbox_id
        if inbox is None:
            raise DeskError(
                f"{self.desk_name}: no inbox_id to open conversations for users of other channels", retryable=False
            )
        contact_id, source_id = await self.contact_for(request)
        body: dict[str, Any] = {"inbox_id": inbox, "contact_id": int(contact_id) if contact_id.isdigit() else contact_id}
        if source_id:
            body["source_id"] = source_id
        body["status"] = "open"
        team = self.team_for(request.routing)
        if team is not None:
            body["team_id"] = team
        attributes = {"rasa_sender_id": request.sender_id, "language": request.language}
        if request.routing:
            attributes["routing"] = request.routing
        body["custom_attributes"] = {**attributes, **dict(request.attributes)}
        answer = await self.api.call("POST", self.path("conversations"), body)
        conversation_id = answer.get("id") if isinstance(answer, dict) else None
        if conversation_id in (None, ""):
            raise DeskError(f"{self.desk_name} POST conversations answered without an id", retryable=False)
        return {"conversation_id": str(conversation_id), "in_desk": False, "done": []}

    def _transcript_note(self, request: HandoffRequest) -> str:
        facts = [f"email: {request.email}" if request.email else "", f"language: {request.language}"]
        if request.routing:
            facts.append(f"routing: {request.routing}")
        facts += [f"{name}: {value}" for name, value in request.attributes.items()]
        lines = ["Handoff from the Rasa bot (" + ", ".join(f for f in facts if f) + ")", ""]
        for turn in request.transcript:
            who = "User" if turn.speaker is Speaker.USER else "Bot"
            lines.append(f"**{who}:** {turn.text}")
        if request.latest_question.strip():
            lines.append(f"**User (latest question):** {request.latest_question.strip()}")
        return "\n".join(lines)

    async def _post(
        self, api: DeskAPI, conversation_id: str, content: str, *, message_type: str = "outgoing",
        private: bool = False, extra: Optional[dict[str, Any]] = None,
    ) -> Any:
        body: dict[str, Any] = {"content": content, "message_type": message_type, "private": private, **(extra or {})}
        return await api.call("POST", self.conversation_path(conversation_id, "messages"), body)

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        # The API takes a JSON body only for messages: files go as links after the text.
        content = message.text_with_links()
        if content.strip():
            await self._post(self.api, desk_conversation_id, content, message_type="incoming")

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        in_desk = self.hosts_the_bot and await self.store.get(self._key("channel", desk_conversation_id)) is None
        api = self.bot_api if in_desk else self.api
        await self._post(api, desk_conversation_id, _CLOSE_NOTES[reason], private=True)
        await api.call("POST", self.conversation_path(desk_conversation_id, "toggle_status"), {"status": "resolved"})

    async def aclose(self) -> None:
        await self.api.aclose()
        if self.bot_api is not self.api:
            await self.bot_api.aclose()

    # -- the bot's messages in the desk -----------------------------------------------------

    async def post_bot_message(self, desk_conversation_id: str, message: dict) -> None:
        """One message of Rasa's REST channel: text, then an image or file as its link; buttons as a select."""
        lines = [message["text"]] if isinstance(message.get("text"), str) and message["text"].strip() else []
        for key in ("image", "attachment"):
            value = message.get(key)
            if isinstance(value, dict):
                value = value.get("url") or (value.get("payload") or {}).get("src")
            if isinstance(value, str) and value.strip():
                lines.append(value.strip())
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        content = "\n".join(lines)
        if buttons:
            items = [{"title": str(b["title"]), "value": str(b.get("payload") or b["title"])} for b in buttons]
            await self._remember_buttons(desk_conversation_id, items)
            await self._post(
                self.bot_api, desk_conversation_id, content or "Choose one:",
                extra={"content_type": "input_select", "content_attributes": {"items": items}},
            )
        elif content:
            await self._post(self.bot_api, desk_conversation_id, content)

    async def _remember_buttons(self, conversation_id: str, items: list[dict[str, str]]) -> None:
        key = self._key("buttons", conversation_id)
        kept = (await self.store.get(key) or {}).get("items", [])
        kept = [*kept, *items][-_BUTTONS_KEPT:]
        await self.store.put(key, {"items": kept})

    async def _button_payload(self, conversation_id: str, text: str) -> Optional[str]:
        """The payload of a button the bot offered in this conversation whose title the user sent."""
        wanted = text.strip().casefold()
        if not wanted:
            return None
        for item in reversed((await self.store.get(self._key("buttons", conversation_id)) or {}).get("items", [])):
            if item["title"].strip().casefold() == wanted or item["value"].strip().casefold() == wanted:
                return item["value"]
        return None

    # -- inbound --------------------------------------------------------------------------------

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        self.verify_webhook(request)
        delivery = payloads.read(request.body)
        conversation_id = delivery.conversation_id
        if conversation_id is None:
            return WebhookReply()  # An event we do not use (contact_created, webwidget_triggered...).
        in_desk = self.hosts_the_bot and await self.store.get(self._key("channel", conversation_id)) is None
        if in_desk:
            found = await self._for_the_bot(delivery, conversation_id)
        else:
            found = self._from_the_agents(delivery, conversation_id, request)
        return WebhookReply(events=found)

    def _from_the_agents(self, delivery: payloads.Delivery, conversation_id: str, request: WebhookRequest) -> list[DeskEvent]:
        """Channel mode: what the agents did, for the user."""
        event = delivery.event
        message = delivery.message
        if event == "message_created" and message is not None:
            # The contact's messages are the user's own, relayed by us; notes are for agents.
            if message.message_type != "outgoing" or message.private or message.sender.type == "contact":
                return []
            urls = tuple(a.url for a in message.attachments)
            if not message.content.strip() and not urls:
                return []
            return [AgentMessage(
                event_id=f"message:{message.id}", desk_conversation_id=conversation_id,
                text=message.content, agent_name=message.sender.name, attachments=urls,
            )]
        if event in payloads.TYPING_EVENTS:
            user = delivery.typing_user
            if delivery.private or user is None or user.type not in ("user", ""):
                return []  # A private note being written, or the contact typing.
            typing = event.endswith("_on")
            moment = request.headers.get("x-chatwoot-delivery") or delivery.moment
            return [AgentTyping(
                event_id=f"typing:{conversation_id}:{int(typing)}:{moment}", desk_conversation_id=conversation_id,
                agent_name=user.name, typing=typing,
            )]
        if event == "conversation_updated" and "assignee_id" in delivery.changed:
            previous, current = delivery.changed["assignee_id"]
            assignee = delivery.assignee
            if current in (None, "") or assignee is None:
                return []  # Unassigned: nothing for the user until someone takes it.
            event_id = f"assignee:{conversation_id}:{current}:{delivery.moment}"
            if previous not in (None, ""):
                return [Transferred(event_id=event_id, desk_conversation_id=conversation_id, to_agent=assignee.name)]
            return [AgentJoined(event_id=event_id, desk_conversation_id=conversation_id, agent_name=assignee.name)]
        return self._status_change(delivery, conversation_id)

    def _status_change(self, delivery: payloads.Delivery, conversation_id: str) -> list[DeskEvent]:
        status_events = ("conversation_status_changed", *_RESOLVED)
        if delivery.event not in status_events:
            return []
        if delivery.status == "resolved" or delivery.event in _RESOLVED:
            return [ConversationClosed(event_id=f"resolved:{conversation_id}:{delivery.moment}", desk_conversation_id=conversation_id)]
        if delivery.status == "snoozed":
            return [AgentSnoozed(event_id=f"snoozed:{conversation_id}:{delivery.moment}", desk_conversation_id=conversation_id)]
        return []

    async def _for_the_bot(self, delivery: payloads.Delivery, conversation_id: str) -> list[DeskEvent]:
        """In the desk: the contact's words for the bot; the resolve gives the conversation back."""
        message = delivery.message
        if message is None:
            return self._status_change(delivery, conversation_id)
        metadata = {self.name: {"conversation_id": conversation_id, "contact_id": message.sender.id}}
        if delivery.event == "message_updated":
            # A choice in a select the bot offered: Chatwoot fills the message's submitted_values.
            chosen = message.content_attributes.get("submitted_values")
            if message.sender.type == "contact" or not isinstance(chosen, list) or not chosen or not isinstance(chosen[0], dict):
                return []
            value = str(chosen[0].get("value") or chosen[0].get("title") or "")
            if not value:
                return []
            return [UserWroteInDesk(
                event_id=f"submitted:{message.id}", desk_conversation_id=conversation_id,
                text=str(chosen[0].get("title") or value), payload=value, metadata=metadata,
            )]
        if message.message_type != "incoming" or message.private or message.sender.type not in ("contact", ""):
            return []  # The bot's own messages, the agents', notes, activity lines.
        if not message.content.strip() and not message.attachments:
            return []
        return [UserWroteInDesk(
            event_id=f"message:{message.id}", desk_conversation_id=conversation_id,
            text=message.content, attachments=message.attachments,
            payload=await self._button_payload(conversation_id, message.content),
            email=message.sender.email, metadata=metadata,
        )]


def segment(value: Any) -> str:
    """An id as one URL path segment: an id read from a webhook never reaches another path."""
    return quote(str(value), safe="")
