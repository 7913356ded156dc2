"""The handoff actions under Rasa Pro (CALM), through the real action server.

Rasa Pro needs a licence key at run time, which these tests cannot use, so
they play its part: each request is shaped as Rasa Pro 3.12 sends it to an
action server (rasa/core/actions/custom_action_executor.py: `next_action`,
`sender_id`, `tracker` as `current_state(EventVerbosity.ALL)` with its
`stack` of flow frames, `version`, the `domain` with its `domain_digest`),
and the tracker holds what CALM puts there: the coexistence slot
`route_session_to_calm`, `stack` and `flow_started` events, and the commands
of the latest message. What Rasa Pro itself does with the answers (the
router, FlowPolicy, RulePolicy) is not run here; docs/calm.md says so.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from handoff_connectors.core.handoffs.records import active_key
from handoff_connectors.core.store import SqliteStore

from tests.actions.test_action_server import CONNECTING, LOOP, USER_ENDED, Conversation, _clock, followups, loops, slot_sets, texts

CALM_DOMAIN = Path(__file__).resolve().parents[2] / "handoff_connectors" / "bundle" / "calm" / "domain.yml"
RASA_PRO_VERSION = "3.12.6"
CALM_ACTION = "action_handoff_from_calm"


class CalmConversation(Conversation):
    """A conversation as Rasa Pro keeps it for a CALM assistant in coexistence."""

    def __init__(self, sender_id: str, domain: dict[str, Any]) -> None:
        self.stack: list[dict[str, Any]] = []
        super().__init__(sender_id, domain)
        self.slots["route_session_to_calm"] = True  # the router sent this session to CALM

    def user_asks_for_a_person(self, text: str, email: str | None = None) -> "CalmConversation":
        # The command generator's answer: the "human handoff" command, no intent of ours.
        self.user(text, intent="nlu_fallback", metadata={"email": email} if email else None)
        self.latest_message["commands"] = [{"command": "human handoff"}]
        self._flow("pattern_human_handoff", "0_action_handoff_from_calm")
        return self

    def flow_hands_off(self, flow_id: str, routing: str, note: str, email: str) -> "CalmConversation":
        """A flow of the bot's own sets where the handoff goes, then calls the action."""
        self.user("I want to dispute a charge of 40 euros", intent="nlu_fallback", metadata={"email": email})
        self.latest_message["commands"] = [{"command": "start flow", "flow": flow_id}]
        self._flow(flow_id, "2_action_handoff_from_calm")
        for name, value in (("handoff_routing", routing), ("handoff_note", note)):
            self.slots[name] = value
            self.events.append({"event": "slot", "timestamp": next(_clock), "name": name, "value": value})
        return self

    def routed_message(self, text: str, intent: str = "nlu_fallback", metadata: dict | None = None) -> "CalmConversation":
        """A message while the session is on the rule-based side: the router silenced the LLM."""
        self.user(text, intent=intent, metadata=metadata)
        self.latest_message["commands"] = [{"command": "noop"}]
        return self

    def _flow(self, flow_id: str, step_id: str) -> None:
        frame = {"frame_id": uuid.uuid4().hex[:8], "flow_id": flow_id, "step_id": step_id,
                 "frame_type": "regular" if not flow_id.startswith("pattern_") else None, "type": "flow" if not flow_id.startswith("pattern_") else flow_id}
        update = json.dumps([{"op": "add", "path": f"/{len(self.stack)}", "value": frame}])
        self.stack.append(frame)
        self.events.append({"event": "stack", "timestamp": next(_clock), "update": update})
        self.events.append({"event": "flow_started", "timestamp": next(_clock), "flow_id": flow_id, "metadata": {}})

    def tracker(self) -> dict[str, Any]:
        state = super().tracker()
        state["stack"] = list(self.stack)
        state["latest_action"] = {"action_name": self.latest_action_name}
        return state


@pytest.fixture(scope="module")
def calm_domain(domain: dict[str, Any]) -> dict[str, Any]:
    extra = yaml.safe_load(CALM_DOMAIN.read_text(encoding="utf-8"))
    return {**domain, "slots": {**domain["slots"], **extra["slots"]}, "actions": [*domain["actions"], *extra["actions"]]}


@pytest.fixture(scope="module")
def run_as_rasa_pro(action_server, sidecar, calm_domain):
    """POST /webhook as Rasa Pro 3.12 does: the domain and its digest, the tracker with its stack."""
    port = action_server.health_url.split(":")[2].split("/")[0]
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    digest = hashlib.sha256(json.dumps(calm_domain, sort_keys=True, default=str).encode()).hexdigest()

    def run(action: str, tracker: dict[str, Any]) -> dict[str, Any]:
        payload = {"next_action": action, "sender_id": tracker["sender_id"], "tracker": tracker,
                   "version": RASA_PRO_VERSION, "domain": calm_domain, "domain_digest": digest}
        response = client.post("/webhook", json=payload)
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}\n{action_server.log_tail()}"
        return response.json()

    yield run
    client.close()


@pytest.fixture
def calm(sender_id: str, calm_domain: dict[str, Any]) -> CalmConversation:
    return CalmConversation(sender_id, calm_domain)


def test_the_handoff_pattern_routes_the_session_to_the_handoff_loop(calm, run_as_rasa_pro):
    calm.user_asks_for_a_person("can I talk to someone real please")
    result = calm.run(run_as_rasa_pro, CALM_ACTION)
    assert texts(result) == []
    assert slot_sets(result) == {"route_session_to_calm": False, "handoff_return_to_calm": True}
    assert followups(result) == [LOOP]


def test_a_calm_handoff_reaches_the_desk_relays_while_live_and_gives_the_session_back(calm, run_as_rasa_pro, desk):
    calm.user_asks_for_a_person("can I talk to someone real please", email="calm.user@example.com")
    calm.run(run_as_rasa_pro, CALM_ACTION)

    started = calm.run(run_as_rasa_pro, LOOP)  # the followup Rasa Pro runs next
    assert texts(started) == [CONNECTING]
    assert loops(started) == [LOOP]
    assert "route_session_to_calm" not in slot_sets(started)  # still on the handoff's side
    [establish] = desk.wait_establish_for(calm.sender_id)
    assert establish["user_info"]["email"] == "calm.user@example.com"

    # While live, the router sends each message to the rule-based side and the loop relays it.
    calm.routed_message("my order 7731 never arrived")
    relayed = calm.run(run_as_rasa_pro, LOOP)
    assert texts(relayed) == [] and "route_session_to_calm" not in slot_sets(relayed)
    [chat] = desk.wait_accepted("/chat", 1, conversation_id=establish["conversation_id"])
    assert chat["body"] == "my order 7731 never arrived"

    # The user ends it: the loop ends and the session goes back to CALM.
    calm.routed_message("end chat", intent="handoff_end")
    ended = calm.run(run_as_rasa_pro, LOOP)
    assert texts(ended) == [USER_ENDED]
    assert loops(ended) == [None]
    assert {k: v for k, v in slot_sets(ended).items() if k in ("route_session_to_calm", "handoff_return_to_calm")} == {
        "route_session_to_calm": True, "handoff_return_to_calm": None,
    }


async def test_a_flow_of_the_bot_chooses_the_routing_and_the_message_to_the_agent(calm, run_as_rasa_pro, desk, store_path):
    calm.flow_hands_off("dispute_a_charge", routing="billing", note="Disputes a charge of {disputed_amount}", email="flow.user@example.com")
    calm.slots["disputed_amount"] = "40 euros"
    calm.run(run_as_rasa_pro, CALM_ACTION)
    started = calm.run(run_as_rasa_pro, LOOP)
    assert texts(started) == [CONNECTING]
    [establish] = desk.wait_establish_for(calm.sender_id)
    assert "Disputes a charge of 40 euros" in json.dumps(establish)
    # The webhook protocol carries no routing: where the handoff went is in its record.
    store = SqliteStore(str(store_path))
    try:
        record = await store.get(active_key(calm.sender_id))
    finally:
        await store.close()
    assert record["routing"] == "billing"


def test_a_request_cancelled_while_the_email_is_asked_gives_the_session_back(calm, run_as_rasa_pro):
    calm.user_asks_for_a_person("a human please")
    calm.run(run_as_rasa_pro, CALM_ACTION)
    asked = calm.run(run_as_rasa_pro, LOOP)
    assert loops(asked) == [LOOP]
    assert "route_session_to_calm" not in slot_sets(asked)  # still the handoff's, while it asks the email
    calm.routed_message("forget it", intent="handoff_end")
    cancelled = calm.run(run_as_rasa_pro, LOOP)
    assert loops(cancelled) == [None]
    assert slot_sets(cancelled)["route_session_to_calm"] is True
