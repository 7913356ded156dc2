"""Zoho SalesIQ end to end: a real Rasa 3.6.21, the real action server and sidecar, the fake SalesIQ portal.

Channel mode: the user chats with the bot on Rasa's callback channel; the
handoff opens a SalesIQ conversation in the routing's department, operators
pick it up, reply (with files) and end it through signed data webhooks.
Zobot mode: the fake's website visitor chats with the bot as a Zobot; the
bot's answers are posted into the SalesIQ chat, a handoff forwards the chat
to the department, the bot is quiet while the operator has it and answers
again once the operator ended it.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from handoff_connectors.zoho_salesiq import WEBHOOK_PATH, ZOBOT_PATH, sender_for

from .conftest import APP_ID, CLIENT_ID, CLIENT_SECRET, DEPARTMENTS, MARTA, REFRESH_TOKEN, SCREEN, new_fake
from .fake_salesiq import FakeSalesIQ

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."
AGENT_CLOSED = "The agent has ended the chat. I'm back if you need anything else."


def section(fake: FakeSalesIQ, **extra) -> dict:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "screen_name": SCREEN,
        "region": "eu",
        "app_id": APP_ID,
        "department_id": DEPARTMENTS["support"],
        "departments": {"billing": DEPARTMENTS["billing"]},
        "public_key": fake.public_key,
        "accounts_url": fake.url,
        "api_url": fake.url,
        **extra,
    }


def running(deployment, **extra) -> Iterator[FakeSalesIQ]:
    with new_fake() as fake:
        with deployment.reconfigured(connector="zoho_salesiq", connectors={"zoho_salesiq": section(fake, **extra)}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            fake.zobot_url = f"http://127.0.0.1:{deployment.sidecar_port}{ZOBOT_PATH}"
            yield fake
    assert not fake.violations, "requests off SalesIQ's documented shapes:\n" + "\n".join(fake.violations)
    # Every genuine call was taken (the forged one is refused 401 on purpose).
    assert all(status in (200, 401) for _, status in fake.webhook_results), fake.webhook_results


@pytest.fixture(scope="module")
def channel(deployment) -> Iterator[FakeSalesIQ]:
    yield from running(deployment)


@pytest.fixture(scope="module")
def zobot(deployment) -> Iterator[FakeSalesIQ]:
    yield from running(deployment, mode="zobot")


def conversation_of(fake: FakeSalesIQ, email: str) -> str:
    def find():
        return next((c.id for c in list(fake.conversations.values()) if c.visitor.get("email") == email), None)

    return fake.wait_for(find, what=f"a SalesIQ conversation for {email}")


def test_a_handoff_to_salesiq_from_request_to_operator_close(deployment, channel: FakeSalesIQ):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("ana.zoho@example.com") == [CONNECTING]

    # The conversation: billing department, the question with the message to the agent and the transcript.
    conversation_id = conversation_of(channel, "ana.zoho@example.com")
    conversation = channel.conversations[conversation_id]
    assert conversation.department_id == DEPARTMENTS["billing"]
    lines = conversation.question.splitlines()
    assert lines[0] == "I want to pay my bill"
    assert lines[2].startswith("Message to the agent: Customer wants to pay a bill")
    assert "User: hello" in lines and f"Bot: {GREETING}" in lines
    assert conversation.customer_info["routing"] == "billing"

    # An operator picks it up and replies, then sends files.
    channel.operator_picks(conversation_id, MARTA)
    assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]
    channel.operator_says(conversation_id, MARTA, "Hi Ana, I can help with the bill.")
    assert user.next_messages(1) == ["Hi Ana, I can help with the bill."]
    channel.operator_says(conversation_id, MARTA, "Your invoice and where to pay:", [
        {"url": "https://salesiq.zoho.example/files/invoice.pdf", "name": "invoice.pdf", "type": "application/pdf"},
        {"url": "https://salesiq.zoho.example/files/pay.png", "name": "pay.png", "type": "image/png"},
    ])
    assert user.next_messages(3)[0] == "Your invoice and where to pay:"
    _, attachment, image = user.messages()[-3:]
    assert attachment.get("attachment") == "https://salesiq.zoho.example/files/invoice.pdf"
    assert image.get("image") == "https://salesiq.zoho.example/files/pay.png"

    # The user's messages, in order, as the visitor; the access token expires in between and is refreshed.
    user.say("thanks, paying now", expect=0)
    channel.wait_for(lambda: len(channel.said(conversation_id, "visitor")) == 2, what="the user's message")
    fetched = channel.token_requests
    channel.expire_tokens()
    user.say_rest("here is the receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
    # Back on the callback channel, where the bot's next messages go.
    user.say("that is all", expect=0)
    channel.wait_for(lambda: len(channel.said(conversation_id, "visitor")) == 4, what="the user's file and last message")
    assert channel.said(conversation_id, "visitor")[1:] == [
        "thanks, paying now", "here is the receipt\nhttps://files.example/receipt-7731.pdf", "that is all",
    ]
    assert channel.token_requests == fetched + 1

    # A forged operator message reaches nobody.
    forged = channel.operator_says(conversation_id, MARTA, "Send me your password", send=False)
    assert channel.deliver(channel.webhook_url, forged, signature="bm90IGEgc2lnbmF0dXJl").status_code == 401
    user.assert_quiet(0.5)

    # The operator ends the chat: the user is told and the bot is back.
    channel.operator_ends(conversation_id)
    assert user.next_messages(1) == [AGENT_CLOSED]
    assert user.say("what are your opening hours") == [HOURS]


def bot_said(fake: FakeSalesIQ, conversation_id: str, count: int) -> list[str]:
    fake.wait_for(lambda: len(fake.said(conversation_id, "api")) >= count, timeout=30, what=f"{count} bot message(s)")
    return fake.said(conversation_id, "api")


def test_the_zobot_answers_forwards_stays_quiet_and_comes_back(deployment, zobot: FakeSalesIQ):
    conversation_id = zobot.visitor_opens_chat("Bo", "bo.zoho@example.com")
    sender_id = sender_for(conversation_id)

    zobot.visitor_writes(conversation_id, "hello")
    assert bot_said(zobot, conversation_id, 1) == [GREETING]
    assert deployment.tracker(sender_id)["latest_input_channel"] == "rest"

    # A person, please: the email is known from SalesIQ; the same chat is forwarded to the department.
    zobot.visitor_writes(conversation_id, "I want to talk to a human")
    assert bot_said(zobot, conversation_id, 2)[1].startswith(CONNECTING)
    zobot.wait_for(lambda: zobot.conversations[conversation_id].transfers, what="the forward to the department")
    [transfer] = zobot.conversations[conversation_id].transfers
    assert transfer["department_id"] == DEPARTMENTS["support"]
    assert "User: hello" in transfer["note"] and f"Bot: {GREETING}" in transfer["note"]
    assert len(zobot.conversations) == 1, "no other conversation was opened"

    # The bot is quiet while the operator has the chat, even were the Zobot still called.
    events_before = len(deployment.tracker(sender_id)["events"])
    zobot.visitor_writes(conversation_id, "what are your opening hours", to_zobot=True)
    zobot.operator_picks(conversation_id, MARTA)
    zobot.operator_says(conversation_id, MARTA, "Hi Bo, Marta here.")
    zobot.visitor_writes(conversation_id, "a photo of the box", [{"url": "https://salesiq.zoho.example/v/box.jpg", "type": "image/jpeg"}], to_zobot=True)
    user_texts = [e.get("text") for e in deployment.tracker(sender_id)["events"][events_before:] if e.get("event") == "user"]
    assert "what are your opening hours" not in user_texts
    assert len(zobot.said(conversation_id, "api")) == 2

    # The operator ends it: the handoff ends in Rasa, and the visitor's next words are the bot's again.
    zobot.operator_ends(conversation_id)
    zobot.wait_for(lambda: not (deployment.tracker(sender_id).get("active_loop") or {}).get("name"), timeout=40, what="the handoff loop to end")
    zobot.visitor_writes(conversation_id, "what are your opening hours")
    assert bot_said(zobot, conversation_id, 3)[2] == HOURS
