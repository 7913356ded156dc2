"""The action server module every benchmark runs: the demo bot's and rasa-handoff's actions, plus two of ours.

Run as `python -m rasa_sdk --actions benchmarks.bench_actions`. Importing the
demo bot's module registers its actions and, through it, rasa-handoff's, the
way a bot with actions of its own adds handoff.

- `action_benchmark_noop` does nothing: the relay benchmark's baseline, what a
  rasa-sdk round trip with the same tracker costs without handoff's work.
- `action_benchmark_ping` utters one message: the agent-to-user benchmark's
  baseline, Rasa running a custom action on an external intent.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

import handoff_connectors.demo.bot_actions  # noqa: F401  (registers the demo bot's and handoff's actions)
from benchmarks.bot import MARKER_ENTITY, NOOP_ACTION, PING_ACTION


class BenchmarkNoop(Action):
    def name(self) -> str:
        return NOOP_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return []


class BenchmarkPing(Action):
    def name(self) -> str:
        return PING_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        marker = next(tracker.get_latest_entity_values(MARKER_ENTITY), None) or "pong"
        dispatcher.utter_message(text=str(marker))
        return []
