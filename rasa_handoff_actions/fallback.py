"""`action_handoff_fallback`: what the bot does when it did not understand.

Use it for `nlu_fallback` (the shipped rule does) and as the RulePolicy's
`core_fallback_action_name`. Below `escalation.fallback.after` misunderstood
turns in a row it asks the user to rephrase; at that count it hands off
(`mode: handoff`), offers to (`mode: offer`), or keeps asking (`mode: off`).
An understood turn in between starts the count again.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from .conversation import handoff_language, session_events
from .escalation import misunderstood_turns
from .handoff_loop import LISTEN
from .names import FALLBACK_ACTION, INTENT_END, INTENT_REQUEST, LOOP
from .runtime import runtime


class HandoffFallback(Action):
    def name(self) -> str:
        return FALLBACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        rt = await runtime()
        settings = rt.config.escalation.fallback
        language = handoff_language(tracker, rt.config)
        if settings.mode != "off" and misunderstood_turns(session_events(tracker)) >= settings.after:
            if settings.mode == "handoff":
                return [FollowupAction(LOOP)]
            dispatcher.utter_message(
                text=rt.messages.text("offer_handoff", language),
                buttons=[
                    {"title": rt.messages.text("offer_yes", language), "payload": f"/{INTENT_REQUEST}"},
                    {"title": rt.messages.text("offer_no", language), "payload": f"/{INTENT_END}"},
                ],
            )
            return [LISTEN]
        dispatcher.utter_message(text=rt.messages.text("fallback_rephrase", language))
        return [LISTEN]
