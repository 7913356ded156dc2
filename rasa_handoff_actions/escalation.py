"""Where a handoff goes and whether it may start now.

Planned escalation: handoff.yml's `escalation.planned` names intents (or
actions) that always hand off, each with its routing target and a message to
the agent (slot values fill `{slot}` placeholders). Fallback escalation
hands off, or offers to, after `escalation.fallback.after` misunderstood
turns in a row. Before connecting: enabled, service hours, the desk's status,
agents available.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any, Optional

from rasa_sdk import Tracker

from handoff_connectors.core.contract import ServiceStatus

from .conversation import is_external, latest_intent
from .names import CALM_ACTION, FALLBACK_ACTION, SLOT_LANGUAGE, SLOT_NOTE, SLOT_ROUTING
from .runtime import Runtime


@dataclass(frozen=True)
class Escalation:
    routing: Optional[str] = None
    message_to_agent: Optional[str] = None


class _SlotValues(dict):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: Optional[str], tracker: Tracker, **known: str) -> Optional[str]:
    """`template` with `{slot}` replaced by the slot's value (empty when unset).

    `known` holds values decided in this very turn, not yet in the slots.
    """
    if not template:
        return None
    values = _SlotValues({name: "" if value is None else value for name, value in tracker.slots.items()})
    values.update(known)
    try:
        return string.Formatter().vformat(template, (), values)
    except (ValueError, IndexError):
        return template


def escalation_for(rt: Runtime, tracker: Tracker, language: str) -> Escalation:
    settings = rt.config.escalation
    known = {SLOT_LANGUAGE: language}
    intent, previous_action = latest_intent(tracker), tracker.latest_action_name
    for planned in settings.planned:
        if (planned.intent and planned.intent == intent) or (planned.action and planned.action == previous_action):
            return Escalation(
                planned.routing or settings.routing,
                fill(planned.message_to_agent or settings.message_to_agent, tracker, **known),
            )
    if previous_action == CALM_ACTION:
        # A CALM flow may have set where this handoff goes, and the note, before calling the action.
        return Escalation(
            tracker.get_slot(SLOT_ROUTING) or settings.routing,
            fill(tracker.get_slot(SLOT_NOTE) or settings.message_to_agent, tracker, **known),
        )
    if previous_action == FALLBACK_ACTION:
        fallback = settings.fallback
        return Escalation(
            fallback.routing or settings.routing,
            fill(fallback.message_to_agent or settings.message_to_agent, tracker, **known),
        )
    return Escalation(settings.routing, fill(settings.message_to_agent, tracker, **known))


async def refusal(rt: Runtime, routing: Optional[str], language: str, now: dt.datetime) -> Optional[str]:
    """Why a handoff can't start now, as the text for the user; None when it can."""
    if not rt.config.enabled:
        return rt.messages.text("disabled", language)
    if rt.hours is not None and not rt.hours.is_open(now):
        opening = rt.hours.next_opening(now) if rt.config.service_hours.show_next_opening else None
        if opening is None:
            return rt.messages.text("out_of_hours", language)
        return rt.messages.text("out_of_hours_next", language, opening=rt.messages.moment(opening, language))
    if await rt.service.status() is ServiceStatus.UNAVAILABLE:
        return rt.messages.text("no_agents", language)
    # None (the desk can't tell, or not yet) lets the handoff go ahead: the desk's routing decides.
    if await rt.service.agents_available(routing) is False:
        return rt.messages.text("no_agents", language)
    return None


def misunderstood_turns(events: list[dict[str, Any]]) -> int:
    """How many user turns in a row the fallback action answered, this one included."""
    # For each user turn (pushes from the sidecar aside), the first action that answered it.
    answers: list[Optional[str]] = []
    for event in events:
        if event.get("event") == "user" and not is_external(event):
            answers.append(None)
        elif event.get("event") == "action" and event.get("name") != "action_listen" and answers:
            if answers[-1] is None:
                answers[-1] = event.get("name")
    count = 1  # the turn being answered now
    for answer in reversed(answers[:-1]):
        if answer != FALLBACK_ACTION:
            break
        count += 1
    return count
