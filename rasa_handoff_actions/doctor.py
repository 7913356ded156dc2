"""`action_handoff_doctor`: what `rasa-handoff doctor` asks the action server.

Rasa never runs it (it is in no domain). The doctor posts it to the action
server's /webhook directly, as Rasa would post any action, and learns in one
call that the server has the handoff actions loaded, which rasa-sdk and
rasa-handoff it runs, and which store it writes to: the answer carries the
probe the doctor just wrote into the store of its own handoff.yml, so a
match means the action server and the sidecar really share one store.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from handoff_connectors.onboarding.probe import read_probe
from handoff_connectors.onboarding.versions import installed_version

from .names import DOCTOR_ACTION
from .runtime import runtime


class HandoffDoctor(Action):
    def name(self) -> str:
        return DOCTOR_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        rt = await runtime()
        dispatcher.utter_message(json_message={"handoff_doctor": {
            "store_probe": await read_probe(rt.service.store),
            "connector": rt.config.connector,
            "rasa_sdk": installed_version("rasa-sdk") or "unknown",
            "rasa_handoff": installed_version("rasa-handoff") or "unknown",
        }})
        return []
