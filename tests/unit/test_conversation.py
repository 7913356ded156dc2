"""What the actions read from a Rasa tracker: emails, the transcript, the language."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa_sdk import Tracker

from handoff_connectors.core.contract import Speaker, Turn
from rasa_handoff_actions.conversation import (
    conversation_language,
    events_before,
    find_email,
    is_external,
    known_email,
    latest_intent,
    session_events,
    transcript,
    user_texts,
)

# -- realistic Rasa events ------------------------------------------------------------

_clock = iter(range(1_700_000_000, 1_800_000_000))


def user(
    text: str,
    intent: str = "inform",
    metadata: Optional[dict[str, Any]] = None,
    entities: Optional[list[dict]] = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": float(next(_clock)),
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.97},
            "entities": entities or [],
            "text": text,
            "message_id": f"m{next(_clock)}",
            "metadata": metadata or {},
        },
        "input_channel": "rest",
        "message_id": f"m{next(_clock)}",
        "metadata": metadata or {},
    }


def external(intent: str, text_entity: Optional[str] = None) -> dict[str, Any]:
    """What Rasa stores for POST /conversations/{id}/trigger_intent."""
    entities = [{"entity": "handoff_text", "value": text_entity}] if text_entity else []
    return {
        "event": "user",
        "timestamp": float(next(_clock)),
        "text": f"EXTERNAL: {intent}",
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": entities},
        "input_channel": None,
        "metadata": {"is_external": True},
    }


def bot(text: str) -> dict[str, Any]:
    return {"event": "bot", "timestamp": float(next(_clock)), "text": text, "data": {}, "metadata": {}}


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "timestamp": float(next(_clock)), "name": name, "policy": "RulePolicy", "confidence": 1.0}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": float(next(_clock)), "name": name, "value": value}


def session_start() -> list[dict[str, Any]]:
    return [
        action("action_session_start"),
        {"event": "session_started", "timestamp": float(next(_clock))},
        action("action_listen"),
    ]


def tracker(events: list[dict[str, Any]], slots: Optional[dict[str, Any]] = None) -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), None)
    latest_message = (
        {**latest["parse_data"], "text": latest["text"], "metadata": latest.get("metadata") or {}}
        if latest
        else {}
    )
    return Tracker.from_dict(
        {
            "sender_id": "user-42",
            "slots": slots or {},
            "latest_message": latest_message,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


# -- find_email ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, email",
    [
        ("ana@example.com", "ana@example.com"),
        ("my email is ana.perez@example.com thanks", "ana.perez@example.com"),
        ("Ana.Perez+support@Mail.Example.COM.", "Ana.Perez+support@mail.example.com"),
        ("write to <bob_o'neil@sub.domain.example.co.uk>", "bob_o'neil@sub.domain.example.co.uk"),
        ("x-y@my-company.io, please", "x-y@my-company.io"),
        ("first a@example.org then b@example.org", "a@example.org"),
        ("mail: 12345@example.museum", "12345@example.museum"),
    ],
)
def test_finds_valid_emails_and_lowercases_the_domain(text: str, email: str) -> None:
    assert find_email(text) == email


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "ana at example",
        "ana at example dot com",
        "a@b",
        "a..b@x.com",
        ".ana@example.com",
        "ana.@example.com",
        "ana@example.c",
        "ana@-example.com",
        "ana@example..com",
        "ana@@example.com",
        "@example.com",
        "ana@",
        "x" * 65 + "@example.com",
    ],
)
def test_refuses_what_is_not_an_email(text: Optional[str]) -> None:
    assert find_email(text) is None


def test_local_part_of_64_characters_is_fine() -> None:
    local = "x" * 64
    assert find_email(f"{local}@example.com") == f"{local}@example.com"


# -- transcript -------------------------------------------------------------------------------


def conversation() -> list[dict[str, Any]]:
    return [
        *session_start(),
        user("hi", "greet"),
        action("utter_greet"),
        bot("Hello! How can I help?"),
        action("action_listen"),
        user("/check_order", "check_order"),  # a button payload
        action("action_listen"),
        user("where is my order 123", "order_status"),
        action("action_order_status"),
        bot("Order 123 was shipped on Monday."),
        bot("It should arrive this week."),
        slot("order", "123"),
        action("action_listen"),
        external("EXTERNAL_reminder"),
        action("action_listen"),
        user("it has not arrived", "inform"),
        bot("Sorry to hear that."),
    ]


def test_transcript_has_the_users_messages_and_the_bots_answers() -> None:
    assert transcript(conversation(), rounds=10) == [
        Turn(Speaker.USER, "hi"),
        Turn(Speaker.BOT, "Hello! How can I help?"),
        Turn(Speaker.USER, "where is my order 123"),
        Turn(Speaker.BOT, "Order 123 was shipped on Monday."),
        Turn(Speaker.BOT, "It should arrive this week."),
        Turn(Speaker.USER, "it has not arrived"),
        Turn(Speaker.BOT, "Sorry to hear that."),
    ]


@pytest.mark.parametrize(
    "left_out",
    [
        user("/check_order", "check_order"),
        user('/inform{"order": "123"}', "inform"),
        external("EXTERNAL_handoff_agent_message", "Hi, Anna here"),
        {**user("EXTERNAL: EXTERNAL_x", "EXTERNAL_x"), "metadata": {}},
    ],
)
def test_payloads_and_external_events_are_not_user_turns(left_out: dict[str, Any]) -> None:
    events = [user("hi"), bot("Hello"), left_out, user("thanks")]
    users = [turn.text for turn in transcript(events, rounds=10) if turn.speaker is Speaker.USER]
    assert users == ["hi", "thanks"]


def test_transcript_keeps_the_last_rounds() -> None:
    turns = transcript(conversation(), rounds=2)
    assert turns[0] == Turn(Speaker.USER, "where is my order 123")
    assert [t.text for t in turns if t.speaker is Speaker.USER] == ["where is my order 123", "it has not arrived"]

    assert transcript(conversation(), rounds=1) == [
        Turn(Speaker.USER, "it has not arrived"),
        Turn(Speaker.BOT, "Sorry to hear that."),
    ]


def test_zero_rounds_is_an_empty_transcript() -> None:
    assert transcript(conversation(), rounds=0) == []


def test_bot_messages_before_the_first_user_message_are_left_out() -> None:
    events = [*session_start(), bot("Welcome to Acme!"), user("hello", "greet"), bot("Hi there")]
    assert transcript(events, rounds=5) == [Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi there")]


def test_blank_texts_are_skipped_and_texts_stripped() -> None:
    events = [user("  hello  "), bot(""), bot("   "), bot(" Hi! "), user("   "), {"event": "bot", "text": None}]
    assert transcript(events, rounds=5) == [Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi!")]


def test_external_event_marked_only_by_its_intent_is_left_out() -> None:
    event = user("EXTERNAL: EXTERNAL_handoff_closed", "EXTERNAL_handoff_closed")
    assert is_external(event)
    assert transcript([event, bot("The agent has ended the chat.")], rounds=5) == []


# -- events_before ------------------------------------------------------------------------------


def test_events_before_cuts_at_the_question() -> None:
    events = [user("hi"), bot("Hello"), user("I want a human", "handoff_request"), bot("What is your email?")]
    assert events_before(events, "I want a human") == events[:2]


def test_events_before_uses_the_last_time_the_question_was_asked() -> None:
    events = [user("human please"), bot("What is your email?"), user("no"), bot("Okay"), user("human please")]
    assert events_before(events, "human please") == events[:4]


def test_events_before_ignores_bot_and_external_events_with_the_same_text() -> None:
    events = [user("hi"), bot("agent please"), external("EXTERNAL_x"), user("something")]
    events[2]["text"] = "agent please"
    assert events_before(events, "agent please") == events


def test_events_before_without_the_question_gives_everything() -> None:
    events = [user("hi"), bot("Hello")]
    assert events_before(events, "never said") == events


def test_transcript_of_the_events_before_the_request() -> None:
    events = [*conversation(), user("I want to talk to a person", "handoff_request"), bot("What is your email?")]
    turns = transcript(events_before(events, "I want to talk to a person"), rounds=1)
    assert turns == [Turn(Speaker.USER, "it has not arrived"), Turn(Speaker.BOT, "Sorry to hear that.")]


# -- known_email ----------------------------------------------------------------------------------


def test_known_email_from_the_slot() -> None:
    t = tracker([*session_start(), user("hi")], slots={"handoff_email": "Ana@Example.COM"})
    assert known_email(t, "handoff_email") == "Ana@example.com"


def test_known_email_from_user_metadata() -> None:
    events = [
        *session_start(),
        user("hi", metadata={"email": "bob@Shop.example"}),
        bot("Hello"),
        user("I need help", metadata={}),
    ]
    assert known_email(tracker(events), "handoff_email") == "bob@shop.example"


def test_slot_wins_over_metadata() -> None:
    events = [user("hi", metadata={"email": "meta@example.com"})]
    t = tracker(events, slots={"handoff_email": "slot@example.com"})
    assert known_email(t, "handoff_email") == "slot@example.com"


def test_latest_metadata_email_wins() -> None:
    events = [user("hi", metadata={"email": "old@example.com"}), user("again", metadata={"email": "new@example.com"})]
    assert known_email(tracker(events), "handoff_email") == "new@example.com"


def test_invalid_slot_value_falls_back_to_metadata() -> None:
    events = [user("hi", metadata={"email": "ok@example.com"})]
    t = tracker(events, slots={"handoff_email": "not an email"})
    assert known_email(t, "handoff_email") == "ok@example.com"


def test_no_email_anywhere() -> None:
    events = [
        user("my email? ana at example dot com", metadata={"email": "ana@localhost"}),
        bot("ok"),
        {"event": "bot", "text": "x", "metadata": {"email": "bot@example.com"}},
    ]
    t = tracker(events, slots={"handoff_email": None})
    assert known_email(t, "handoff_email") is None


def test_non_string_metadata_is_ignored() -> None:
    events = [user("hi", metadata={"email": ["ana@example.com"]}), user("yo", metadata={"email": 42})]
    assert known_email(tracker(events), "handoff_email") is None


# -- sessions and language -------------------------------------------------------------------------


def test_session_events_are_those_after_the_last_session_start() -> None:
    old = [*session_start(), user("hola, quiero hablar con alguien")]
    new = [user("hi there"), bot("Hello")]
    events = [*old, *session_start(), *new]
    session = session_events(tracker(events))
    assert session == events[len(old) + 2 :]
    assert session[-2:] == new
    assert all(e.get("text") != "hola, quiero hablar con alguien" for e in session)


def test_without_a_session_start_all_events_count() -> None:
    events = [user("hi"), bot("Hello")]
    assert session_events(tracker(events)) == events


def test_user_texts_leave_out_external_events() -> None:
    events = [user("hi"), external("EXTERNAL_handoff_agent_message", "Hola"), bot("Hola"), user("thanks")]
    assert user_texts(events) == ["hi", "thanks"]


def test_latest_intent_includes_external_intents() -> None:
    t = tracker([user("hi", "greet"), external("EXTERNAL_handoff_agent_message", "Hi, Anna here")])
    assert latest_intent(t) == "EXTERNAL_handoff_agent_message"
    assert is_external(t.latest_message)


def test_language_from_the_slot() -> None:
    t = tracker([user("I want to talk to a person please")], slots={"language": "fr"})
    assert conversation_language(t, "language", "en") == "fr"


def test_language_from_the_latest_message_metadata() -> None:
    t = tracker([user("I want to talk to a person please", metadata={"locale": "de-DE"})])
    assert conversation_language(t, "language", "en") == "de"


def test_language_from_this_sessions_words() -> None:
    events = [
        *session_start(),
        user("I want to talk to a person, please help me"),
        *session_start(),
        user("hola"),
        user("quiero hablar con una persona por favor"),
    ]
    assert conversation_language(tracker(events), None, "en") == "es"


def test_language_defaults_when_nothing_tells() -> None:
    assert conversation_language(tracker([user("ok")]), "language", "fr") == "fr"
