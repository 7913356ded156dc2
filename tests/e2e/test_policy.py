"""Handoff policy against a real Rasa: service hours, escalation, timers."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import httpx
import pytest

from .harness import Deployment, User
from .test_conversations import ASK_EMAIL, CONNECTING, connect

pytestmark = pytest.mark.e2e

OUT_OF_SCOPE = ("the weather on mars", "purple elephants dancing")  # out of scope for the demo bot


def test_out_of_hours_gives_the_preset_reply_and_no_handoff(deployment: Deployment):
    closed = {"timezone": "Europe/Madrid", "rules": [{"date": "2020-01-06", "from": "09:00", "to": "10:00"}]}
    with deployment.reconfigured(service_hours=closed):
        user = deployment.new_user()
        assert user.say("I want to talk to a human") == ["Our agents aren't available right now."]
        assert user.say("hello")[0].startswith("Hello! I'm the demo bot.")
        assert not [c for c in deployment.desk.received("/conversation/establish") if c["user_info"]["user_id"] == user.sender_id]


def test_out_of_hours_tells_the_next_opening_in_the_users_language(deployment: Deployment):
    zone = ZoneInfo("Europe/Madrid")
    tomorrow = dt.datetime.now(zone).date() + dt.timedelta(days=1)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow.weekday()]
    german_day = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")[tomorrow.weekday()]
    hours = {"timezone": "Europe/Madrid", "rules": [{"days": [day], "from": "09:00", "to": "10:00"}]}
    with deployment.reconfigured(service_hours=hours):
        user = deployment.new_user()
        assert user.say("ich möchte mit einem Menschen sprechen") == [
            f"Unsere Mitarbeiter sind gerade nicht erreichbar. Wir sind ab {german_day} 09:00 wieder da."
        ]


def test_planned_escalation_carries_its_message_to_the_agent(deployment: Deployment, user: User):
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("bill.payer@example.com") == [CONNECTING]
    body = user.desk_conversation()["body"]
    assert body[0] == {"text": "Customer wants to pay a bill (en)", "message_type": "ANSWER"}
    assert body[-1] == {"text": "I want to pay my bill", "message_type": "QUESTION"}
    assert user.say("end chat")[0].startswith("You have ended the chat")


def test_planned_escalation_is_routed_to_its_queue(deployment: Deployment):
    with deployment.reconfigured(connector="local", connectors={"local": {"token": "e2e-inbox-token"}}):
        user = deployment.new_user()
        assert user.say("I want to pay my bill", expect=1) == [ASK_EMAIL]
        assert user.say("queue.check@example.com") == [CONNECTING]
        inbox = httpx.get(
            f"{deployment.desk.sidecar_url}/inbox/api/conversations",
            headers={"Authorization": "Bearer e2e-inbox-token"},
        ).json()
        mine = [c for c in inbox["conversations"] if c["sender_id"] == user.sender_id]
        assert [(c["routing"], c["message_to_agent"]) for c in mine] == [("billing", "Customer wants to pay a bill (en)")]
        user.say("end chat")


def test_fallback_escalation_after_two_misunderstood_turns(deployment: Deployment, user: User):
    assert user.say(OUT_OF_SCOPE[0]) == ["Sorry, I didn't understand that. Could you say it another way?"]
    assert user.say("hello")[0].startswith("Hello!")  # understood: the count starts again
    assert user.say(OUT_OF_SCOPE[0]) == ["Sorry, I didn't understand that. Could you say it another way?"]
    assert user.say(OUT_OF_SCOPE[1]) == [ASK_EMAIL]
    assert user.say("lost@example.com") == [CONNECTING]
    assert user.desk_conversation()["body"][-1] == {"text": OUT_OF_SCOPE[1], "message_type": "QUESTION"}
    user.say("end chat")


def test_fallback_offer_can_be_declined_or_taken(deployment: Deployment):
    with deployment.reconfigured(escalation={"fallback": {"mode": "offer", "after": 2}}):
        user = deployment.new_user()
        user.say(OUT_OF_SCOPE[0])
        assert user.say(OUT_OF_SCOPE[1]) == ["I'm having trouble understanding. Would you like to talk to a person?"]
        assert [b["payload"] for b in user.messages()[-1]["buttons"]] == ["/handoff_request", "/handoff_end"]
        assert user.say("/handoff_end") == ["Okay. What else can I help you with?"]
        user.say(OUT_OF_SCOPE[0])
        user.say(OUT_OF_SCOPE[1])
        assert user.say("/handoff_request") == [ASK_EMAIL]


def test_waiting_timeout_keep_waiting_then_the_agent_answers_then_session_timeout(deployment: Deployment):
    with deployment.reconfigured(timeouts={"waiting": 3, "session": 3}):
        user = deployment.new_user()
        conversation_id = connect(user)
        assert user.next_messages(1, timeout=15) == [
            "No agent has answered yet. Would you like to keep waiting or end your request?"
        ]
        assert [b["payload"] for b in user.messages()[-1]["buttons"]] == ["/handoff_keep_waiting", "/handoff_end"]
        assert user.say("keep waiting") == ["Okay, we'll keep looking for an agent."]
        deployment.desk.reply(conversation_id, "Sorry for the wait, how can I help?")
        assert user.next_messages(1) == ["Sorry for the wait, how can I help?"]
        # The user goes quiet: the handoff ends by itself and the desk is told.
        assert user.next_messages(1, timeout=15) == [
            "The chat with the agent ended because there were no new messages. I'm back if you need anything else."
        ]
        closes = deployment.desk.wait_for("/conversation/close")
        assert any(c["conversation_id"] == conversation_id and c["type"] == "TIMEOUT" for c in closes)
        assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]


def test_a_user_message_holds_off_the_session_timeout(deployment: Deployment):
    with deployment.reconfigured(timeouts={"waiting": 30, "session": 6}):
        user = deployment.new_user()
        conversation_id = connect(user)
        deployment.desk.reply(conversation_id, "Hello!")
        assert user.next_messages(1) == ["Hello!"]
        time.sleep(3)
        user.say("still thinking", expect=0)
        user.assert_quiet(4.5)  # 7.5 s after the agent's message, but the user spoke
        user.say("end chat")


def test_a_timer_due_while_the_sidecar_was_down_fires_once_after_restart(deployment: Deployment):
    with deployment.reconfigured(timeouts={"waiting": 4, "session": 600}):
        user = deployment.new_user()
        connect(user)
        deployment.stop_sidecar()
        try:
            time.sleep(6)
            user.assert_quiet(0)
        finally:
            deployment.start_sidecar()
        assert user.next_messages(1, timeout=20) == [
            "No agent has answered yet. Would you like to keep waiting or end your request?"
        ]
        user.assert_quiet(4)
        user.say("end chat")


def test_invalid_answers_in_a_form_escalate(deployment: Deployment, user: User):
    assert user.say("I want to change my delivery address") == ["What's your order number?"]
    assert user.say("no idea", expect=2) == [
        "That doesn't look like an order number (4 to 8 digits).",
        "What's your order number?",
    ]
    # The second invalid answer in a row (fallback.after is 2): the form asks
    # once more as Rasa forms do, then the handoff loop takes over.
    assert user.say("it's the blue one", expect=3) == [
        "That doesn't look like an order number (4 to 8 digits).",
        "What's your order number?",
        ASK_EMAIL,
    ]
    assert user.say("form.user@example.com")[-1] == CONNECTING
    user.say("end chat")


def test_a_valid_answer_resets_the_count_and_the_form_completes(deployment: Deployment, user: User):
    assert user.say("I want to change my delivery address") == ["What's your order number?"]
    user.say("no idea", expect=2)
    assert user.say("order 55121") == ["Thanks, the address change for order 55121 is noted."]
