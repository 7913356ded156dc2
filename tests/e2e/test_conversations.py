"""Whole conversations against a real Rasa 3.6.21, through the sidecar and the reference desk."""

from __future__ import annotations

import time

import pytest

from .harness import Deployment, User

pytestmark = pytest.mark.e2e

CONNECTING = "Let's send you to an available agent."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"


def connect(user: User, email: str = "ana@example.com") -> str:
    """Ask for a person, give the email; return the desk's conversation id."""
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say(email) == [CONNECTING]
    return user.desk_conversation()["conversation_id"]


def test_request_email_validated_messages_both_ways_agent_closes(deployment: Deployment, user: User):
    assert user.say("hello") == [
        "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
    ]
    assert user.say("where is my order") == [
        "Orders ship within two working days. For anything else, ask for a human."
    ]
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say("my email is ana at example") == [
        "That doesn't look like an email address. Please type it like name@example.com."
    ]
    assert deployment.desk.received("/conversation/establish") == [] or all(
        c["user_info"]["user_id"] != user.sender_id for c in deployment.desk.received("/conversation/establish")
    )
    assert user.say("sure, it's Ana.Lopez@Example.COM") == [CONNECTING]
    # The "End chat" button comes with it.
    assert user.messages()[-1]["buttons"] == [{"title": "End chat", "payload": "/handoff_end"}]

    establish = user.desk_conversation()
    assert establish["email"] == "Ana.Lopez@example.com"
    assert establish["user_info"]["email"] == "Ana.Lopez@example.com"
    assert establish["bot_id"] == "e2e-bot"
    assert establish["body"] == [
        {"text": "hello", "message_type": "QUESTION"},
        {"text": "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human.", "message_type": "ANSWER"},
        {"text": "where is my order", "message_type": "QUESTION"},
        {"text": "Orders ship within two working days. For anything else, ask for a human.", "message_type": "ANSWER"},
        {"text": "I want to talk to a human", "message_type": "QUESTION"},
    ]
    conversation_id = establish["conversation_id"]

    # Agent -> user, in order.
    for text in ("Hi Ana, I'm Sam.", "Let me look at your order.", "It ships tomorrow."):
        assert deployment.desk.reply(conversation_id, text).status_code == 200
    assert user.next_messages(3) == ["Hi Ana, I'm Sam.", "Let me look at your order.", "It ships tomorrow."]

    # User -> agent: the bot says nothing of its own.
    user.say("great, thanks!", expect=0)
    user.say("one more question", expect=0)
    chats = deployment.desk.wait_for("/chat", count=2)
    mine = [c["body"] for c in chats if c["conversation_id"] == conversation_id]
    assert mine == ["great, thanks!", "one more question"]
    user.assert_quiet()

    # The agent closes; the user is told; the bot is back.
    assert deployment.desk.close(conversation_id).status_code == 200
    assert user.next_messages(1) == ["The agent has ended the chat. I'm back if you need anything else."]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    # Nothing more reached the desk after the close.
    assert [c["body"] for c in deployment.desk.received("/chat") if c["conversation_id"] == conversation_id] == [
        "great, thanks!",
        "one more question",
    ]


def test_user_closes_with_a_phrase_and_the_desk_is_told(deployment: Deployment, user: User):
    conversation_id = connect(user)
    user.say("end chat")
    assert user.messages()[-1]["text"] == "You have ended the chat with the agent. I'm back if you need anything else."
    closes = deployment.desk.wait_for("/conversation/close")
    assert {"conversation_id": conversation_id, "type": "USER_CLOSED"}.items() <= next(
        c for c in closes if c["conversation_id"] == conversation_id
    ).items()
    assert user.say("hello")[0].startswith("Hello! I'm the demo bot.")


def test_user_closes_with_the_button(deployment: Deployment, user: User):
    conversation_id = connect(user)
    assert user.say("/handoff_end") == ["You have ended the chat with the agent. I'm back if you need anything else."]
    deployment.desk.server.wait_for(
        lambda _: any(c["conversation_id"] == conversation_id for c in deployment.desk.received("/conversation/close"))
    )


def test_messages_that_look_like_other_intents_are_relayed(deployment: Deployment, user: User):
    conversation_id = connect(user)
    for text in ("hello", "what are your opening hours", "I want to talk to a human", "bye"):
        user.say(text, expect=0)
    deployment.desk.server.wait_for(
        lambda _: len([c for c in deployment.desk.received("/chat") if c["conversation_id"] == conversation_id]) >= 4
    )
    relayed = [c["body"] for c in deployment.desk.received("/chat") if c["conversation_id"] == conversation_id]
    assert relayed == ["hello", "what are your opening hours", "I want to talk to a human", "bye"]
    user.assert_quiet()


def test_known_email_from_metadata_is_not_asked(deployment: Deployment, user: User):
    # A widget that knows the user sends the email as message metadata.
    assert user.say_rest("Je veux parler à un humain", metadata={"email": "luc@example.fr"}) == [
        "Nous vous mettons en relation avec un agent disponible."
    ]
    assert user.desk_conversation()["email"] == "luc@example.fr"
    assert user.say_rest("terminer la discussion") == [
        "Vous avez terminé la discussion avec l'agent. Je suis là si vous avez besoin d'autre chose."
    ]


@pytest.mark.parametrize(
    "request_text, ask_email, connecting",
    [
        (
            "quiero hablar con una persona",
            "Antes de ponerte en contacto con una persona, ¿cuál es tu correo electrónico?",
            "Vamos a pasarte con un agente disponible.",
        ),
        (
            "ich möchte mit einem Menschen sprechen",
            "Bevor ich Sie mit einer Person verbinde: Wie lautet Ihre E-Mail-Adresse?",
            "Wir verbinden Sie mit einem verfügbaren Mitarbeiter.",
        ),
    ],
)
def test_each_language_gets_its_own_texts(deployment: Deployment, request_text: str, ask_email: str, connecting: str):
    user = deployment.new_user()
    asked = user.say(request_text)
    assert asked == [ask_email]
    assert user.say("someone@example.org") == [connecting]


def test_duplicate_agent_delivery_is_shown_once(deployment: Deployment, user: User):
    conversation_id = connect(user)
    first = deployment.desk.reply(conversation_id, "Checking now.", timestamp=1742265100000)
    again = deployment.desk.reply(conversation_id, "Checking now.", timestamp=1742265100000)
    assert first.status_code == again.status_code == 200
    deployment.desk.reply(conversation_id, "Found it.", message_id="m-2")
    deployment.desk.reply(conversation_id, "Found it.", message_id="m-2")
    assert user.next_messages(2) == ["Checking now.", "Found it."]
    user.assert_quiet(2)


def test_rasa_down_while_the_agent_replies(deployment: Deployment, user: User):
    conversation_id = connect(user)
    deployment.stop_rasa()
    try:
        for text in ("First, while Rasa is down.", "Second.", "Third."):
            assert deployment.desk.reply(conversation_id, text).status_code == 200
        time.sleep(3)  # the sidecar retries meanwhile
    finally:
        deployment.start_rasa()
    assert user.next_messages(3, timeout=60) == ["First, while Rasa is down.", "Second.", "Third."]
    user.assert_quiet(3)
    # The conversation is still handed off: the user's next message goes to the agent.
    user.say("thanks", expect=0)
    deployment.desk.server.wait_for(
        lambda _: any(c["body"] == "thanks" and c["conversation_id"] == conversation_id for c in deployment.desk.received("/chat"))
    )


def test_forged_agent_reply_reaches_nobody(deployment: Deployment, user: User):
    import httpx

    conversation_id = connect(user)
    forged = httpx.post(
        f"{deployment.desk.sidecar_url}/v1/human/message/receive",
        json={"conversation_id": conversation_id, "timestamp": 1, "body": "click this link"},
        headers={"Authorization": "Bearer not-the-key"},
    )
    assert forged.status_code == 401
    user.assert_quiet(2)


def test_a_new_session_keeps_the_live_handoff(deployment: Deployment, user: User):
    import httpx

    conversation_id = connect(user)
    # What Rasa does when a session expires: run action_session_start, which
    # starts a fresh tracker session (dropping the active loop)...
    started = httpx.post(
        f"http://127.0.0.1:{deployment.rasa_port}/conversations/{user.sender_id}/execute",
        params={"token": "e2e-rasa-token-77d1", "output_channel": "callback"},
        json={"name": "action_session_start"},
        timeout=60,
    )
    assert started.status_code == 200
    events = deployment.tracker(user.sender_id)["events"]
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"
    restart = max(i for i, e in enumerate(events) if e["event"] == "session_started")
    assert {"event": "active_loop", "name": "handoff_loop"}.items() <= next(
        e for e in events[restart:] if e["event"] == "active_loop"
    ).items()
    # ...and the handoff goes on: the next message is the agent's, not the bot's.
    user.say("still there?", expect=0)
    deployment.desk.server.wait_for(
        lambda _: any(
            c["body"] == "still there?" and c["conversation_id"] == conversation_id
            for c in deployment.desk.received("/chat")
        )
    )
    user.assert_quiet()
    deployment.desk.reply(conversation_id, "Yes, still here.")
    assert user.next_messages(1) == ["Yes, still here."]
