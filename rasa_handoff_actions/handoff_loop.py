"""`handoff_loop`: the active loop that owns the conversation during a handoff.

Rasa runs an active loop on every user message, whatever NLU made of it, and
on the EXTERNAL_ intents the sidecar pushes. So while the loop is active:
the user's messages go to the desk and the bot says nothing of its own; the
agent's messages come back through here; either side can end it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from handoff_connectors.core.contract import Attachment, CloseReason
from handoff_connectors.core.rasa_protocol import (
    DESK_INTENTS,
    ENTITY_AGENT,
    ENTITY_ATTACHMENTS,
    ENTITY_EVENT_ID,
    ENTITY_POSITION,
    ENTITY_QUEUE,
    ENTITY_REASON,
    ENTITY_STATE,
    ENTITY_TEXT,
    ENTITY_TIMER,
    ENTITY_WAIT,
    EVENT_ID_SLOT,
    INTENT_AGENT_JOINED,
    INTENT_AGENT_MESSAGE,
    INTENT_AGENT_SNOOZED,
    INTENT_AGENT_TYPING,
    INTENT_CLOSED,
    INTENT_MESSAGES_READ,
    INTENT_QUEUE_POSITION,
    INTENT_ROUTING_FAILED,
    INTENT_TIMEOUT,
    INTENT_TRANSFERRED,
    REASON_REFUSED,
    acknowledged,
)
from handoff_connectors.core.timers import SESSION, WAITING

from .calm import back_to_calm
from .conversation import (
    events_before,
    find_email,
    handoff_language,
    is_external,
    latest_intent,
    known_email,
    session_events,
    transcript,
)
from .escalation import Escalation, escalation_for, refusal
from .names import (
    INTENT_END,
    INTENT_KEEP_WAITING,
    LOOP,
    SLOT_EMAIL,
    SLOT_EMAIL_ATTEMPTS,
    SLOT_LANGUAGE,
    SLOT_NOTE,
    SLOT_QUESTION,
    SLOT_ROUTING,
    SLOT_STATE,
    STATE_ASKED_TO_WAIT,
    STATE_ASKING_EMAIL,
    STATE_CONNECTED,
)
from .runtime import Runtime, runtime

logger = logging.getLogger(__name__)

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg")

# Ends the action's turn: the bot waits for the user, whatever the policies think.
LISTEN = FollowupAction("action_listen")


def entity(tracker: Tracker, name: str) -> Optional[str]:
    return next(tracker.get_latest_entity_values(name), None)


def already_handled(tracker: Tracker, event_id: str) -> bool:
    """Whether a desk event with this id was handled before (a redelivery)."""
    return acknowledged(tracker.events, event_id)


def agent_attachments(tracker: Tracker) -> list[str]:
    """The URLs an agent attached to the latest desk message (a list entity)."""
    found: list[str] = []
    for value in tracker.get_latest_entity_values(ENTITY_ATTACHMENTS):
        for url in value if isinstance(value, list) else [value]:
            if isinstance(url, str) and url.strip():
                found.append(url.strip())
    return found


def utter_agent_message(dispatcher: CollectingDispatcher, tracker: Tracker, event_id: Optional[str]) -> None:
    """The agent's text, then each attachment: images as images, other files as attachments."""
    text = entity(tracker, ENTITY_TEXT) or ""
    attachments = agent_attachments(tracker)
    if text or not attachments:
        dispatcher.utter_message(text=text, handoff_event_id=event_id)
    for url in attachments:
        if url.split("?", 1)[0].lower().endswith(_IMAGE_SUFFIXES):
            dispatcher.utter_message(image=url, handoff_event_id=event_id)
        else:
            dispatcher.utter_message(attachment=url, handoff_event_id=event_id)


def user_attachments(message: dict[str, Any]) -> list[Attachment]:
    """Files the user's channel put in the message metadata (`attachments`: URLs or {url, name, type})."""
    metadata = message.get("metadata") or {}
    given = metadata.get("attachments") if isinstance(metadata, dict) else None
    found = []
    for item in given if isinstance(given, list) else []:
        details = item if isinstance(item, dict) else {"url": item}
        url = details.get("url")
        if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://")):
            name, kind = details.get("name"), details.get("type") or details.get("content_type")
            found.append(
                Attachment(url.strip(), name if isinstance(name, str) else None, kind if isinstance(kind, str) else None)
            )
    return found


def show_desk_event(
    rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
) -> bool:
    """Tell the user what the desk said. True when the desk closed the chat."""
    intent = latest_intent(tracker)
    event_id = entity(tracker, ENTITY_EVENT_ID)
    if intent == INTENT_AGENT_MESSAGE:
        utter_agent_message(dispatcher, tracker, event_id)
    elif intent in (INTENT_AGENT_SNOOZED, INTENT_AGENT_JOINED):
        agent = entity(tracker, ENTITY_AGENT) or rt.messages.text("agent_default_name", language)
        key = "agent_snoozed" if intent == INTENT_AGENT_SNOOZED else "agent_joined"
        dispatcher.utter_message(text=rt.messages.text(key, language, agent=agent), handoff_event_id=event_id)
    elif intent == INTENT_CLOSED:
        key = "disabled" if entity(tracker, ENTITY_REASON) == REASON_REFUSED else "agent_ended"
        dispatcher.utter_message(text=rt.messages.text(key, language), handoff_event_id=event_id)
        return True
    elif intent == INTENT_ROUTING_FAILED:
        # Nobody took it: the offline message, and the bot is back.
        dispatcher.utter_message(text=rt.messages.text("no_agents", language), handoff_event_id=event_id)
        return True
    elif intent in (INTENT_AGENT_TYPING, INTENT_MESSAGES_READ):
        show_signal(dispatcher, tracker, intent, event_id)
    elif intent == INTENT_TRANSFERRED:
        show_transfer(rt, dispatcher, tracker, language, event_id)
    elif intent == INTENT_QUEUE_POSITION:
        show_queue_position(rt, dispatcher, tracker, language, event_id)
    elif intent == INTENT_TIMEOUT and entity(tracker, ENTITY_TIMER) == SESSION:
        dispatcher.utter_message(text=rt.messages.text("session_timed_out", language), handoff_event_id=event_id)
        return True
    elif intent == INTENT_TIMEOUT and entity(tracker, ENTITY_TIMER) == WAITING:
        dispatcher.utter_message(
            text=rt.messages.text("ask_keep_waiting", language),
            buttons=[
                {"title": rt.messages.text("keep_waiting_button", language), "payload": f"/{INTENT_KEEP_WAITING}"},
                {"title": rt.messages.text("end_request_button", language), "payload": f"/{INTENT_END}"},
            ],
            handoff_event_id=event_id,
        )
    return False


def show_signal(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str, event_id: Optional[str]) -> None:
    """Typing and read receipts have no text: a custom payload the channel may show (or ignore)."""
    state = entity(tracker, ENTITY_STATE)
    signal: dict[str, Any] = {"agent": entity(tracker, ENTITY_AGENT)}
    if intent == INTENT_AGENT_TYPING:
        signal.update(event="typing", typing=state != "off")
    else:
        signal.update(event="read", message_id=state)
    dispatcher.utter_message(json_message={"handoff": signal}, handoff_event_id=event_id)


def show_transfer(
    rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str, event_id: Optional[str]
) -> None:
    agent, queue = entity(tracker, ENTITY_AGENT), entity(tracker, ENTITY_QUEUE)
    if agent:
        text = rt.messages.text("transferred_to_agent", language, agent=agent)
    else:
        text = rt.messages.text("transferred_to_queue", language, queue=queue or rt.messages.text("agent_default_name", language))
    dispatcher.utter_message(text=text, handoff_event_id=event_id)


def show_queue_position(
    rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str, event_id: Optional[str]
) -> None:
    position = next(tracker.get_latest_entity_values(ENTITY_POSITION), None)
    wait = next(tracker.get_latest_entity_values(ENTITY_WAIT), None)
    if not isinstance(position, (int, float)) or isinstance(position, bool):
        return
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0:
        minutes = max(1, round(wait / 60))
        text = rt.messages.text("queue_position_wait", language, position=int(position), minutes=minutes)
    else:
        text = rt.messages.text("queue_position", language, position=int(position))
    dispatcher.utter_message(text=text, handoff_event_id=event_id)


def handoff_attributes(rt: Runtime, tracker: Tracker) -> dict[str, str]:
    """`escalation.attributes` (name -> slot), from the slots that hold a value."""
    values = {}
    for name, slot in rt.config.escalation.attributes.items():
        value = tracker.get_slot(slot)
        if value not in (None, "", []):
            values[name] = value if isinstance(value, str) else str(value)
    return values


def request_slots_cleared() -> list[EventType]:
    """The slots that only carry a request until it is connected."""
    return [SlotSet(slot, None) for slot in (SLOT_QUESTION, SLOT_EMAIL_ATTEMPTS, SLOT_ROUTING, SLOT_NOTE)]


def ended() -> list[EventType]:
    return [ActiveLoop(None), SlotSet(SLOT_STATE, None), *request_slots_cleared(), LISTEN]


class HandoffLoop(Action):
    def name(self) -> str:
        return LOOP

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return back_to_calm(tracker, await self._step(dispatcher, tracker))

    async def _step(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        rt = await runtime()
        language = handoff_language(tracker, rt.config)
        if tracker.active_loop_name != LOOP:
            return await self._activate(rt, dispatcher, tracker, language)
        if latest_intent(tracker) in DESK_INTENTS:
            return await self._desk_event(rt, dispatcher, tracker, language)
        if tracker.get_slot(SLOT_STATE) == STATE_ASKING_EMAIL:
            return await self._collect_email(rt, dispatcher, tracker, language)
        if tracker.get_slot(SLOT_STATE) == STATE_ASKED_TO_WAIT:
            return await self._answer_to_waiting(rt, dispatcher, tracker, language)
        return await self._relay(rt, dispatcher, tracker, language)

    # -- the user asked for a person ------------------------------------------

    async def _activate(
        self, rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> list[EventType]:
        escalation = escalation_for(rt, tracker, language)
        reason = await refusal(rt, escalation.routing, language, dt.datetime.now(dt.timezone.utc))
        if reason is not None:
            dispatcher.utter_message(text=reason)
            return [LISTEN]
        if await rt.service.active(tracker.sender_id):
            # Asked again while connected: the request itself goes to the agent.
            return [ActiveLoop(LOOP), SlotSet(SLOT_STATE, STATE_CONNECTED)] + await self._relay(
                rt, dispatcher, tracker, language
            )
        question = tracker.latest_message.get("text") or ""
        email = known_email(tracker, SLOT_EMAIL)
        if email is None and rt.config.email.required:
            dispatcher.utter_message(text=rt.messages.text("ask_email", language))
            return [
                ActiveLoop(LOOP),
                SlotSet(SLOT_STATE, STATE_ASKING_EMAIL),
                SlotSet(SLOT_LANGUAGE, language),
                SlotSet(SLOT_QUESTION, question),
                SlotSet(SLOT_EMAIL_ATTEMPTS, 0),
                SlotSet(SLOT_ROUTING, escalation.routing),
                SlotSet(SLOT_NOTE, escalation.message_to_agent),
            ]
        return await self._connect(rt, dispatcher, tracker, language, email or "", question, escalation)

    async def _collect_email(
        self, rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        if latest_intent(tracker) == INTENT_END or rt.messages.is_end_phrase(text):
            dispatcher.utter_message(text=rt.messages.text("handoff_cancelled", language))
            return ended()
        email = find_email(text)
        if email is None:
            attempts = int(tracker.get_slot(SLOT_EMAIL_ATTEMPTS) or 0) + 1
            if attempts >= rt.config.email.max_attempts:
                dispatcher.utter_message(text=rt.messages.text("email_gave_up", language))
                return ended()
            dispatcher.utter_message(text=rt.messages.text("invalid_email", language))
            return [SlotSet(SLOT_EMAIL_ATTEMPTS, attempts)]
        question = tracker.get_slot(SLOT_QUESTION) or ""
        escalation = Escalation(tracker.get_slot(SLOT_ROUTING), tracker.get_slot(SLOT_NOTE))
        return await self._connect(rt, dispatcher, tracker, language, email, question, escalation)

    async def _connect(
        self,
        rt: Runtime,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        language: str,
        email: str,
        question: str,
        escalation: Escalation,
    ) -> list[EventType]:
        # The exchanges before the request; the request itself is the question.
        history = transcript(events_before(session_events(tracker), question), rt.config.transcript_rounds)
        await rt.service.open(
            sender_id=tracker.sender_id,
            email=email,
            language=language,
            transcript=history,
            latest_question=question,
            routing=escalation.routing,
            message_to_agent=escalation.message_to_agent,
            attributes=handoff_attributes(rt, tracker),
        )
        # The desk hears of it from the sidecar; should it turn the request
        # down, a closed event with the reason "refused" comes back.
        dispatcher.utter_message(
            text=rt.messages.text("connecting", language),
            buttons=[{"title": rt.messages.text("end_button", language), "payload": f"/{INTENT_END}"}],
        )
        return [
            ActiveLoop(LOOP),
            SlotSet(SLOT_STATE, STATE_CONNECTED),
            SlotSet(SLOT_EMAIL, email),
            SlotSet(SLOT_LANGUAGE, language),
            *request_slots_cleared(),
        ]

    # -- connected -----------------------------------------------------------

    async def _relay(
        self, rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        handoff = await rt.service.active(tracker.sender_id)
        if handoff is None:
            # The desk closed it a moment ago; its close event is on its way.
            dispatcher.utter_message(text=rt.messages.text("agent_ended", language))
            return ended()
        if latest_intent(tracker) == INTENT_END or rt.messages.is_end_phrase(text):
            await rt.service.finish(handoff, CloseReason.USER_CLOSED)
            dispatcher.utter_message(text=rt.messages.text("user_ended", language))
            return ended()
        if not is_external(tracker.latest_message):
            # Files go as attachments; a desk that takes none gets them as links after the text.
            attachments = user_attachments(tracker.latest_message)
            if text.strip() or attachments:
                await rt.service.relay(handoff, text, attachments)
        return []

    async def _answer_to_waiting(
        self, rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> list[EventType]:
        """The user answers "keep waiting or end?" (anything else also keeps waiting)."""
        text = tracker.latest_message.get("text") or ""
        keeps_waiting = latest_intent(tracker) == INTENT_KEEP_WAITING or rt.messages.is_keep_waiting_phrase(text)
        handoff = await rt.service.active(tracker.sender_id)
        if handoff is not None:
            await rt.service.keep_waiting(handoff)
        if not keeps_waiting or handoff is None:
            return [SlotSet(SLOT_STATE, STATE_CONNECTED)] + await self._relay(rt, dispatcher, tracker, language)
        dispatcher.utter_message(text=rt.messages.text("keep_waiting_ok", language))
        return [SlotSet(SLOT_STATE, STATE_CONNECTED)]

    async def _desk_event(
        self, rt: Runtime, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> list[EventType]:
        event_id = entity(tracker, ENTITY_EVENT_ID)
        if not event_id or already_handled(tracker, event_id):
            return [SlotSet(EVENT_ID_SLOT, event_id)] if event_id else []
        acknowledged = [SlotSet(EVENT_ID_SLOT, event_id)]
        if show_desk_event(rt, dispatcher, tracker, language):
            return acknowledged + ended()
        if latest_intent(tracker) == INTENT_TIMEOUT:
            acknowledged.append(SlotSet(SLOT_STATE, STATE_ASKED_TO_WAIT))
        return acknowledged

