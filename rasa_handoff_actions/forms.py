"""Fallback escalation from inside a form: N invalid answers in a row.

A form's validation action reports each answer it rejects through
`escalate_on_invalid_answers`; at `escalation.fallback.after` invalid answers
in a row the conversation is handed off (the handoff loop takes over from the
form). `mode: off` turns it off. In a form, `offer` hands off too: offering
would leave the form waiting for an answer it cannot take.

    class ValidateOrderForm(FormValidationAction):
        def name(self) -> str:
            return "validate_order_form"

        async def run(self, dispatcher, tracker, domain):
            events = await super().run(dispatcher, tracker, domain)
            return await escalate_on_invalid_answers(events, tracker)
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet

from .names import LOOP, SLOT_INVALID_ANSWERS
from .runtime import runtime


def rejected_requested_slot(events: list[dict[str, Any]], tracker: Tracker) -> bool:
    """Whether the validation set the slot the form asked for back to None."""
    requested = tracker.get_slot("requested_slot")
    return requested is not None and any(
        event.get("event") == "slot" and event.get("name") == requested and event.get("value") is None
        for event in events
    )


async def escalate_on_invalid_answers(events: list[EventType], tracker: Tracker) -> list[EventType]:
    """`events` plus what counts this answer and, at the limit, starts the handoff."""
    settings = (await runtime()).config.escalation.fallback
    if settings.mode == "off":
        return events
    if not rejected_requested_slot(events, tracker):
        return [*events, SlotSet(SLOT_INVALID_ANSWERS, 0)]
    count = int(tracker.get_slot(SLOT_INVALID_ANSWERS) or 0) + 1
    if count < settings.after:
        return [*events, SlotSet(SLOT_INVALID_ANSWERS, count)]
    return [*events, SlotSet(SLOT_INVALID_ANSWERS, 0), FollowupAction(LOOP)]
