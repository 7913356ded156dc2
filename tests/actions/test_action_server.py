"""rasa_handoff_actions through the real rasa-sdk action server, over HTTP.

Each test plays Rasa's part: it keeps a conversation's tracker the way Rasa
3.6 serialises it, POSTs `/webhook` with the next action, applies the events
and messages the action returns, and goes on. The help desk on the other side
is the reference webhook desk, so what the desk receives is checked on the
wire too.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from handoff_connectors.core.messages import DEFAULT_MESSAGES
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import free_port


# The texts the user sees, by key (wording may change; the key used must not).
EN = DEFAULT_MESSAGES["en"]
ASK_EMAIL = EN["ask_email"]
INVALID_EMAIL = EN["invalid_email"]
GAVE_UP = EN["email_gave_up"]
CONNECTING = EN["connecting"]
CANCELLED = EN["handoff_cancelled"]
USER_ENDED = EN["user_ended"]
AGENT_ENDED = EN["agent_ended"]
OFFER_DECLINED = EN["offer_declined"]
END_BUTTON = {"title": EN["end_button"], "payload": "/handoff_end"}

LOOP = "handoff_loop"
LATE = "action_handoff_late_event"
SESSION_START = "action_session_start"

RunAction = Callable[..., dict[str, Any]]
# conftest.py writes handoff.yml with email.max_attempts: 2 and transcript_rounds: 2.
MAX_EMAIL_ATTEMPTS = 2

_clock = itertools.count(1_700_000_000)


class Conversation:
    """One Rasa conversation, kept as Rasa's tracker store would keep it."""

    def __init__(self, sender_id: str, domain: dict[str, Any]) -> None:
        self.sender_id = sender_id
        self.slots: dict[str, Any] = {name: None for name in domain["slots"]}
        self.active_loop: dict[str, Any] = {}
        self.latest_message: dict[str, Any] = {}
        self.latest_action_name: Optional[str] = None
        self.events: list[dict[str, Any]] = []
        self.action("action_session_start")
        self.events.append({"event": "session_started", "timestamp": next(_clock)})
        self.action("action_listen")

    # -- what happens in the conversation ----------------------------------------

    def user(
        self,
        text: str,
        intent: str = "nlu_fallback",
        confidence: float = 0.87,
        metadata: Optional[dict[str, Any]] = None,
    ) -> "Conversation":
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [
                {"name": intent, "confidence": confidence},
                {"name": "greet", "confidence": round(1 - confidence, 4)},
            ],
            "entities": [],
            "message_id": uuid.uuid4().hex,
            "metadata": metadata or {},
        }
        self._user_event(text, parse_data, metadata or {})
        return self

    def external(self, intent: str, entities: dict[str, str]) -> "Conversation":
        """What Rasa logs for POST /conversations/{id}/trigger_intent."""
        text = f"/{intent}"
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": [{"entity": name, "value": value} for name, value in entities.items()],
            "message_id": uuid.uuid4().hex,
            "metadata": {"is_external": True},
        }
        self._user_event(text, parse_data, {"is_external": True})
        return self

    def _user_event(self, text: str, parse_data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.latest_message = parse_data
        self.events.append(
            {
                "event": "user",
                "timestamp": next(_clock),
                "text": text,
                "parse_data": parse_data,
                "input_channel": "callback",
                "message_id": parse_data["message_id"],
                "metadata": metadata,
            }
        )

    def bot(self, text: str, metadata: Optional[dict[str, Any]] = None) -> "Conversation":
        self.events.append(
            {
                "event": "bot",
                "timestamp": next(_clock),
                "text": text,
                "data": {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None, "custom": None},
                "metadata": metadata or {},
            }
        )
        return self

    def exchange(self, text: str, answer: str, intent: str = "nlu_fallback") -> "Conversation":
        """A user message the bot answered with one of its own responses."""
        self.user(text, intent=intent)
        self.action("utter_" + intent)
        self.bot(answer)
        self.action("action_listen")
        return self

    def action(self, name: str) -> None:
        self.latest_action_name = name
        self.events.append(
            {"event": "action", "timestamp": next(_clock), "name": name, "policy": "RulePolicy", "confidence": 1.0}
        )

    # -- talking to the action server ------------------------------------------

    def tracker(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": self.latest_message,
            "latest_event_time": self.events[-1]["timestamp"],
            "followup_action": None,
            "paused": False,
            "events": list(self.events),
            "latest_input_channel": "callback",
            "active_loop": dict(self.active_loop),
            "latest_action": {"action_name": self.latest_action_name},
            "latest_action_name": self.latest_action_name,
        }

    def run(self, run_action: RunAction, name: str) -> dict[str, Any]:
        """Run action `name` and log what it returned, as Rasa does."""
        result = run_action(name, self.tracker())
        self.action(name)
        # Rasa logs the action's messages first, then its events.
        for message in result["responses"]:
            extra = {k: v for k, v in message.items() if k not in _MESSAGE_FIELDS}
            self.bot(message.get("text") or "", metadata=extra)
        for event in result["events"]:
            event = {**event, "timestamp": event.get("timestamp") or next(_clock)}
            self.events.append(event)
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "active_loop":
                self.active_loop = (
                    {"name": event["name"], "validate": True, "rejected": False, "trigger_message": self.latest_message}
                    if event["name"]
                    else {}
                )
        return result


_MESSAGE_FIELDS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


# -- reading an action's answer -------------------------------------------------


def texts(result: dict[str, Any]) -> list[str]:
    return [message.get("text") for message in result["responses"]]


def slot_sets(result: dict[str, Any]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in result["events"] if event["event"] == "slot"}


def assert_slots(result: dict[str, Any], expected: dict[str, Any]) -> None:
    """The action set each of these slots to this value (it may set others too)."""
    slots = slot_sets(result)
    assert {name: slots.get(name, "<not set>") for name in expected} == expected


def loops(result: dict[str, Any]) -> list[Optional[str]]:
    return [event["name"] for event in result["events"] if event["event"] == "active_loop"]


def followups(result: dict[str, Any]) -> list[str]:
    return [event["name"] for event in result["events"] if event["event"] == "followup"]


def assert_deactivated(result: dict[str, Any]) -> None:
    assert loops(result) == [None]
    assert followups(result) == ["action_listen"]
    slots = slot_sets(result)
    assert slots["handoff_state"] is None
    assert slots["handoff_question"] is None
    assert slots["handoff_email_attempts"] is None


# -- fixtures -------------------------------------------------------------------


@pytest.fixture
def conversation(sender_id: str, domain: dict[str, Any]) -> Conversation:
    return Conversation(sender_id, domain)


def connect(conversation: Conversation, run_action: RunAction, desk, email: str = "ana@example.com") -> str:
    """Ask for a person with the email in the channel's metadata; the desk conversation id."""
    conversation.user("I want to talk to a human", intent="handoff_request", metadata={"email": email})
    result = conversation.run(run_action, LOOP)
    assert texts(result) == [CONNECTING], result
    [establish] = desk.wait_establish_for(conversation.sender_id)
    return establish["conversation_id"]


def agent_message(conversation: Conversation, event_id: str, text: str) -> Conversation:
    return conversation.external(
        "EXTERNAL_handoff_agent_message", {"handoff_event_id": event_id, "handoff_text": text}
    )


# -- asking for a person -----------------------------------------------------------


def test_unknown_email_is_asked_for_and_the_loop_starts(conversation, run_action, desk):
    conversation.exchange("hello", "Hi! How can I help?", intent="greet")
    conversation.user("I want to talk to a human", intent="handoff_request")

    result = conversation.run(run_action, LOOP)

    assert texts(result) == [ASK_EMAIL]
    assert loops(result) == [LOOP]
    assert_slots(result, {
        "handoff_state": "asking_email",
        "handoff_language": "en",
        "handoff_question": "I want to talk to a human",
        "handoff_email_attempts": 0,
    })
    assert followups(result) == []
    # Nothing went to the desk yet.
    assert desk.establish_for(conversation.sender_id) == []


def test_email_in_the_metadata_connects_with_the_transcript(conversation, run_action, desk):
    conversation.exchange("hello", "Hi! How can I help?", intent="greet")
    conversation.exchange("/greet", "Hi again!", intent="greet")  # a button payload, not something said
    conversation.exchange("where is my order", "Orders ship within two working days.", intent="order_status")
    conversation.exchange("what are your opening hours", "Monday to Friday, 9:00 to 18:00.", intent="hours")
    conversation.user(
        "I want to talk to a human",
        intent="handoff_request",
        metadata={"email": "Ana.Lopez@Example.COM", "language": "en"},
    )

    result = conversation.run(run_action, LOOP)

    assert texts(result) == [CONNECTING]
    assert result["responses"][0]["buttons"] == [END_BUTTON]
    assert loops(result) == [LOOP]
    assert_slots(result, {
        "handoff_state": "connected",
        "handoff_email": "Ana.Lopez@example.com",
        "handoff_language": "en",
        "handoff_question": None,
        "handoff_email_attempts": None,
    })
    [establish] = desk.wait_establish_for(conversation.sender_id)
    assert establish["email"] == "Ana.Lopez@example.com"
    assert establish["bot_id"] == "actions-test-bot"
    assert establish["user_info"] == {
        "phone": None,
        "email": "Ana.Lopez@example.com",
        "user_id": conversation.sender_id,
        "anonymous_id": conversation.sender_id,
    }
    # The last two exchanges (transcript_rounds: 2), then the request itself.
    assert establish["body"] == [
        {"text": "where is my order", "message_type": "QUESTION"},
        {"text": "Orders ship within two working days.", "message_type": "ANSWER"},
        {"text": "what are your opening hours", "message_type": "QUESTION"},
        {"text": "Monday to Friday, 9:00 to 18:00.", "message_type": "ANSWER"},
        {"text": "I want to talk to a human", "message_type": "QUESTION"},
    ]
    assert establish["conversation_id"]


def test_invalid_answers_are_asked_again_until_the_bot_gives_up(conversation, run_action, desk):
    conversation.user("can I speak to a person", intent="handoff_request")
    assert texts(conversation.run(run_action, LOOP)) == [ASK_EMAIL]

    for attempt in range(1, MAX_EMAIL_ATTEMPTS):
        conversation.user("my email is ana at example dot com", intent="inform")
        result = conversation.run(run_action, LOOP)
        assert texts(result) == [INVALID_EMAIL]
        assert result["events"] == [
            {"event": "slot", "timestamp": None, "name": "handoff_email_attempts", "value": attempt}
        ]
        assert conversation.active_loop.get("name") == LOOP

    conversation.user("no", intent="deny")
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [GAVE_UP]
    assert_deactivated(result)
    assert conversation.active_loop == {}
    assert desk.establish_for(conversation.sender_id) == []


def test_a_valid_answer_connects_with_the_original_question(conversation, run_action, desk):
    conversation.exchange("hello", "Hi! How can I help?", intent="greet")
    conversation.user("I need a person to fix my invoice", intent="handoff_request")
    assert texts(conversation.run(run_action, LOOP)) == [ASK_EMAIL]
    conversation.user("oops", intent="nlu_fallback")
    assert texts(conversation.run(run_action, LOOP)) == [INVALID_EMAIL]

    conversation.user("sure, it's Bo.Chen@Mail.Example.org", intent="inform")
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [CONNECTING]
    assert result["responses"][0]["buttons"] == [END_BUTTON]
    assert slot_sets(result)["handoff_email"] == "Bo.Chen@mail.example.org"
    assert slot_sets(result)["handoff_state"] == "connected"
    [establish] = desk.wait_establish_for(conversation.sender_id)
    assert establish["email"] == "Bo.Chen@mail.example.org"
    assert establish["body"] == [
        {"text": "hello", "message_type": "QUESTION"},
        {"text": "Hi! How can I help?", "message_type": "ANSWER"},
        {"text": "I need a person to fix my invoice", "message_type": "QUESTION"},
    ]


def test_the_user_can_cancel_while_asked_for_the_email(conversation, run_action, desk):
    conversation.user("talk to a human", intent="handoff_request")
    assert texts(conversation.run(run_action, LOOP)) == [ASK_EMAIL]

    conversation.user("/handoff_end", intent="handoff_end", confidence=1.0)
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [CANCELLED]
    assert_deactivated(result)
    assert desk.establish_for(conversation.sender_id) == []


# -- connected -------------------------------------------------------------------


def test_user_messages_go_to_the_desk_and_the_bot_says_nothing(conversation, run_action, desk):
    conversation_id = connect(conversation, run_action, desk)

    for text, intent in (("my order number is 1234", "inform"), ("it never arrived", "nlu_fallback"), ("hello?", "greet")):
        conversation.user(text, intent=intent)
        result = conversation.run(run_action, LOOP)
        assert result == {"events": [], "responses": []}

    chats = desk.wait_accepted("/chat", 3, conversation_id)
    assert [chat["body"] for chat in chats] == ["my order number is 1234", "it never arrived", "hello?"]
    assert all(isinstance(chat["timestamp"], int) for chat in chats)
    assert desk.accepted("/conversation/close", conversation_id) == []


@pytest.mark.parametrize(
    "text, intent",
    [("End chat!", "nlu_fallback"), ("/handoff_end", "handoff_end"), ("  back to the BOT ", "goodbye")],
    ids=["end phrase", "End chat button", "another phrase"],
)
def test_the_user_ends_the_handoff(conversation, run_action, desk, text, intent):
    conversation_id = connect(conversation, run_action, desk)

    conversation.user(text, intent=intent)
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [USER_ENDED]
    assert_deactivated(result)
    [close] = desk.wait_accepted("/conversation/close", 1, conversation_id)
    assert close["type"] == "USER_CLOSED"
    # The closing words are not relayed to the agent.
    assert desk.accepted("/chat", conversation_id) == []

    # The handoff is over in the store too: a new session does not bring it back.
    result = conversation.run(run_action, SESSION_START)
    assert loops(result) == []


def test_a_message_that_merely_mentions_ending_is_relayed(conversation, run_action, desk):
    conversation_id = connect(conversation, run_action, desk)

    conversation.user("I'm done with this order, please end chat after you refund it", intent="goodbye")
    result = conversation.run(run_action, LOOP)

    assert result == {"events": [], "responses": []}
    [chat] = desk.wait_accepted("/chat", 1, conversation_id)
    assert chat["body"] == "I'm done with this order, please end chat after you refund it"
    assert desk.accepted("/conversation/close", conversation_id) == []


# -- events from the desk, pushed by the sidecar ------------------------------------


def test_an_agent_message_is_shown_once_and_acknowledged(conversation, run_action, desk):
    conversation_id = connect(conversation, run_action, desk)

    agent_message(conversation, "webhook:m-1", "Hi, I'm Sam. How can I help?")
    result = conversation.run(run_action, LOOP)

    assert texts(result) == ["Hi, I'm Sam. How can I help?"]
    assert result["responses"][0]["handoff_event_id"] == "webhook:m-1"
    assert result["events"] == [{"event": "slot", "timestamp": None, "name": "handoff_event_id", "value": "webhook:m-1"}]

    # The sidecar pushes the same event again (it never saw the ack): not shown twice, acked again.
    agent_message(conversation, "webhook:m-1", "Hi, I'm Sam. How can I help?")
    result = conversation.run(run_action, LOOP)
    assert result["responses"] == []
    assert result["events"] == [{"event": "slot", "timestamp": None, "name": "handoff_event_id", "value": "webhook:m-1"}]

    # The next one is shown, even with the same words.
    agent_message(conversation, "webhook:m-2", "Hi, I'm Sam. How can I help?")
    result = conversation.run(run_action, LOOP)
    assert texts(result) == ["Hi, I'm Sam. How can I help?"]
    assert slot_sets(result) == {"handoff_event_id": "webhook:m-2"}

    # The loop stays active and nothing the agent said went back to the desk.
    assert conversation.active_loop.get("name") == LOOP
    assert desk.accepted("/chat", conversation_id) == []


def test_an_agent_joining_is_announced(conversation, run_action, desk):
    connect(conversation, run_action, desk)

    conversation.external("EXTERNAL_handoff_agent_joined", {"handoff_event_id": "webhook:j-1", "handoff_agent": "Sam"})
    result = conversation.run(run_action, LOOP)

    assert texts(result) == ["Sam has joined the chat."]
    assert slot_sets(result) == {"handoff_event_id": "webhook:j-1"}


def test_the_desk_closing_ends_the_loop(conversation, run_action, desk):
    conversation_id = connect(conversation, run_action, desk)

    conversation.external("EXTERNAL_handoff_closed", {"handoff_event_id": f"webhook:close:{conversation_id}"})
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [AGENT_ENDED]
    assert result["responses"][0]["handoff_event_id"] == f"webhook:close:{conversation_id}"
    assert_deactivated(result)
    assert slot_sets(result)["handoff_event_id"] == f"webhook:close:{conversation_id}"
    # The desk closed it; it is not told about its own close.
    assert desk.accepted("/conversation/close", conversation_id) == []


def test_a_desk_that_turns_the_request_down_ends_the_loop_with_the_offline_words(conversation, run_action, desk):
    connect(conversation, run_action, desk)

    # What the sidecar pushes when the desk refused to open the conversation.
    conversation.external("EXTERNAL_handoff_closed", {"handoff_event_id": "refused:h1", "handoff_reason": "refused"})
    result = conversation.run(run_action, LOOP)

    assert texts(result) == [EN["disabled"]]
    assert_deactivated(result)


def test_late_desk_events_after_the_loop_ended(conversation, run_action, desk):
    conversation_id = connect(conversation, run_action, desk)
    conversation.user("end chat", intent="nlu_fallback")
    assert texts(conversation.run(run_action, LOOP)) == [USER_ENDED]
    assert conversation.active_loop == {}

    # The agent was still typing: the words are shown, once.
    agent_message(conversation, "webhook:late-1", "Sorry, one last thing: your refund is on its way.")
    result = conversation.run(run_action, LATE)
    assert texts(result) == ["Sorry, one last thing: your refund is on its way."]
    assert result["responses"][0]["handoff_event_id"] == "webhook:late-1"
    assert slot_sets(result) == {"handoff_event_id": "webhook:late-1"}
    assert followups(result) == ["action_listen"]

    agent_message(conversation, "webhook:late-1", "Sorry, one last thing: your refund is on its way.")
    result = conversation.run(run_action, LATE)
    assert result["responses"] == []
    assert slot_sets(result) == {"handoff_event_id": "webhook:late-1"}

    # The desk's own close arrives late: acknowledged without a word.
    conversation.external("EXTERNAL_handoff_closed", {"handoff_event_id": f"webhook:close:{conversation_id}"})
    result = conversation.run(run_action, LATE)
    assert result["responses"] == []
    assert slot_sets(result) == {"handoff_event_id": f"webhook:close:{conversation_id}"}
    assert followups(result) == ["action_listen"]
    assert loops(result) == []

    # An old "End chat" button pressed again: no handoff to end, nothing to ack.
    conversation.user("/handoff_end", intent="handoff_end", confidence=1.0)
    result = conversation.run(run_action, LATE)
    assert texts(result) == [OFFER_DECLINED]
    assert result["events"] == [{"event": "followup", "timestamp": None, "name": "action_listen"}]
    # The desk heard of the end once, when the user ended it.
    assert len(desk.wait_accepted("/conversation/close", 1, conversation_id)) == 1


# -- session start ------------------------------------------------------------------


def test_session_start_restores_a_live_handoff_and_carries_slots_over(conversation, run_action, desk):
    connect(conversation, run_action, desk, email="cy@example.net")
    # The session expired: Rasa dropped the loop, the slots stay.
    conversation.active_loop = {}
    conversation.slots["handoff_state"] = "connected"

    result = conversation.run(run_action, SESSION_START)

    events = result["events"]
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert loops(result) == [LOOP]
    slots = slot_sets(result)
    assert slots["handoff_email"] == "cy@example.net"
    assert slots["handoff_language"] == "en"
    assert slots["handoff_state"] == "connected"
    # Empty slots are not "carried over" as None.
    assert "handoff_question" not in slots
    assert result["responses"] == []


def test_session_start_without_a_handoff_only_carries_slots_over(conversation, run_action):
    conversation.slots["handoff_email"] = "dee@example.com"
    conversation.slots["handoff_language"] = "fr"

    result = conversation.run(run_action, SESSION_START)

    assert [event["event"] for event in result["events"]] == ["session_started", "slot", "slot", "action"]
    assert slot_sets(result) == {"handoff_email": "dee@example.com", "handoff_language": "fr"}
    assert loops(result) == []
    assert result["events"][-1]["name"] == "action_listen"


def test_session_start_keeps_no_slots_when_the_domain_says_so(sender_id, run_action, domain, desk):
    conversation = Conversation(sender_id, domain)
    connect(conversation, run_action, desk)
    tracker = conversation.tracker()
    tracker["active_loop"] = {}

    no_carry = {**domain, "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": False}}
    result = run_action(SESSION_START, tracker, no_carry)

    # The live handoff still comes back; nothing else does.
    assert loops(result) == [LOOP]
    assert slot_sets(result) == {"handoff_state": "connected"}


# -- the desk is down: nothing is lost ----------------------------------------------------


@pytest.fixture
def desk_outage(desk):
    """Lets a test take the desk down; it is always back afterwards."""
    yield desk
    desk.down = False


def test_a_message_relayed_while_the_desk_is_down_arrives_in_order_later(conversation, run_action, desk_outage):
    desk = desk_outage
    conversation_id = connect(conversation, run_action, desk)

    desk.down = True
    for text in ("first, while the desk is down", "second, still down"):
        conversation.user(text)
        assert conversation.run(run_action, LOOP) == {"events": [], "responses": []}
    # The sidecar tried the desk and was refused: nothing delivered yet.
    assert [a["body"] for a in desk.wait_attempts("/chat", 1, conversation_id)][:1] == ["first, while the desk is down"]
    assert desk.accepted("/chat", conversation_id) == []

    desk.down = False
    conversation.user("third, the desk is back")
    assert conversation.run(run_action, LOOP) == {"events": [], "responses": []}

    chats = desk.wait_accepted("/chat", 3, conversation_id)
    assert [chat["body"] for chat in chats] == [
        "first, while the desk is down",
        "second, still down",
        "third, the desk is back",
    ]


def test_messages_held_back_go_out_once_the_desk_is_back_without_another_user_message(
    conversation, run_action, desk_outage
):
    desk = desk_outage
    conversation_id = connect(conversation, run_action, desk)

    desk.down = True
    for text in ("one", "two"):
        conversation.user(text)
        assert conversation.run(run_action, LOOP) == {"events": [], "responses": []}
    desk.wait_attempts("/chat", 1, conversation_id)
    assert desk.accepted("/chat", conversation_id) == []
    desk.down = False

    # The sidecar's pump retries from the shared store; nothing else happens meanwhile.
    chats = desk.wait_accepted("/chat", 2, conversation_id)
    assert [chat["body"] for chat in chats] == ["one", "two"]


def test_a_handoff_opened_while_the_desk_is_down_reaches_it_before_the_next_message(
    conversation, run_action, desk_outage
):
    desk = desk_outage
    desk.down = True
    conversation.user("I want to talk to a human", intent="handoff_request", metadata={"email": "eve@example.com"})
    result = conversation.run(run_action, LOOP)
    # The desk is down, not refusing: the user is told to wait, the loop runs.
    assert texts(result) == [CONNECTING]
    assert loops(result) == [LOOP]
    assert desk.establish_for(conversation.sender_id) == []

    desk.down = False
    conversation.user("is anyone there?")
    assert conversation.run(run_action, LOOP) == {"events": [], "responses": []}

    [establish] = desk.wait_establish_for(conversation.sender_id)
    [chat] = desk.wait_accepted("/chat", 1, establish["conversation_id"])
    assert chat["body"] == "is anyone there?"
    assert establish["body"][-1] == {"text": "I want to talk to a human", "message_type": "QUESTION"}


# -- a bad handoff.yml stops the action server at start -------------------------------------


def test_a_bad_config_stops_the_action_server_naming_the_field(tmp_path: Path, desk, write_config):
    config = write_config(
        tmp_path / "handoff.yml", desk.url, tmp_path / "handoff.sqlite", sidecar={"pol_interval": 0.1}
    )
    service = processes.action_server(free_port(), config, tmp_path / "logs")

    try:
        with pytest.raises(RuntimeError) as failure:
            service.start(timeout=60)
    finally:
        service.stop()  # only does something if it wrongly started

    assert service.process.returncode not in (0, None)
    assert "sidecar.pol_interval: unknown key" in str(failure.value)
    # The reason alone, not a traceback.
    assert "Traceback" not in service.log_path.read_text()


def test_a_secret_in_the_wrong_field_is_named_but_not_printed(tmp_path: Path, desk):
    config = tmp_path / "handoff.yml"
    config.write_text(
        "connector: webhook\n"
        f"store: {{path: {tmp_path / 'handoff.sqlite'}}}\n"
        "connectors:\n"
        "  webhook:\n"
        f"    url: {desk.url}\n"
        "    apikey: leaky-value-9c1f\n",
        encoding="utf-8",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "rasa_sdk", "--actions", "rasa_handoff_actions", "--port", str(free_port())],
        env={**os.environ, "HANDOFF_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "connectors.webhook.apikey: unknown key" in output
    assert "connectors.webhook.api_key: Field required" in output
    assert "leaky-value-9c1f" not in output


async def test_while_the_desk_is_unavailable_a_request_gets_the_offline_message(conversation, run_action, desk, store_path):
    store = SqliteStore(str(store_path))
    # What the sidecar or an earlier desk call recorded: the desk refused our credentials.
    await store.put("status:webhook", {"status": "Unavailable", "at": 0})
    try:
        conversation.user("I want to talk to a human", intent="handoff_request", metadata={"email": "x@example.com"})
        result = conversation.run(run_action, LOOP)
        assert texts(result) == [EN["no_agents"]]
        assert loops(result) == []
        assert desk.establish_for(conversation.sender_id) == []
    finally:
        await store.delete("status:webhook")
        await store.close()
