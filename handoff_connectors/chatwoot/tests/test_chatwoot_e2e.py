"""Chatwoot end to end, both modes: a real Rasa 3.6.21, the real action server and sidecar, the fake account.

channel: the user talks to the bot on Rasa's callback channel; the handoff
goes to the API inbox of the spec-checking fake Chatwoot, whose signed
webhooks reach the real sidecar as Chatwoot's would.
agent_bot: the bot is the Agent Bot of the fake's website inbox; a visitor
talks to it there, is handed to the team, and gets the bot back once an
agent resolves the conversation.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from handoff_connectors.chatwoot import WEBHOOK_PATH

from .conftest import API_INBOX, BOT_TOKEN, LEA, SAM, SECRET, TEAMS, USER_TOKEN, fake_account
from .fake_chatwoot import FakeChatwoot, wait_until_handed_back

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."
BACK = "The agent has ended the chat. I'm back if you need anything else."


def section(fake: FakeChatwoot, **extra) -> dict:
    return {
        "url": fake.url, "account_id": fake.account_id, "api_access_token": USER_TOKEN, "inbox_id": API_INBOX,
        "webhook_secret": SECRET, "default_team": TEAMS["support"], "teams": {"billing": TEAMS["billing"]}, **extra,
    }


def running(deployment, first_id: int, **extra) -> Iterator[FakeChatwoot]:
    # Ids apart from the other mode's: one account never gives two conversations one id.
    fake = fake_account(first_id=first_id)
    with fake:
        with deployment.reconfigured(connector="chatwoot", connectors={"chatwoot": section(fake, **extra)}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
            fake.drain()
    assert not fake.violations, "requests or answers off Chatwoot's spec:\n" + "\n".join(fake.violations)
    assert fake.webhook_results and all(status == 200 for _, status in fake.webhook_results), fake.webhook_results


@pytest.fixture(scope="module")
def channel(deployment) -> Iterator[FakeChatwoot]:
    yield from running(deployment, 1000)


@pytest.fixture(scope="module")
def agent_bot(deployment) -> Iterator[FakeChatwoot]:
    yield from running(deployment, 5000, mode="agent_bot", bot_access_token=BOT_TOKEN)


def test_channel_a_handoff_to_chatwoot_from_request_to_agent_close(deployment, channel: FakeChatwoot):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("ana.chatwoot@example.com") == [CONNECTING]

    # The contact, the conversation in the API inbox with the billing team, the transcript, the question.
    conversation_id = channel.wait_for(lambda: next(iter(channel.conversations), None), what="the conversation")
    channel.wait_for(lambda: len(channel.messages(conversation_id)) >= 3, what="the transcript, question and message to the agent")
    conversation = channel.conversations[conversation_id]
    assert channel.contacts[conversation.contact_id].email == "ana.chatwoot@example.com"
    assert conversation.team_id == TEAMS["billing"] and conversation.status == "open"
    note, question, to_agent = channel.messages(conversation_id)
    assert note["private"] and "**User:** hello" in note["content"] and f"**Bot:** {GREETING}" in note["content"]
    assert "routing: billing" in note["content"]
    assert (question["message_type"], question["content"]) == ("incoming", "I want to pay my bill")
    assert to_agent["private"] and to_agent["content"].startswith("Message to the agent: Customer wants to pay a bill")

    # An agent takes it, types and replies (a file too): the user hears each, in order.
    channel.agent_assigns(conversation_id, SAM)
    assert user.next_messages(1) == ["Sam Okafor has joined the chat."]
    channel.agent_types(conversation_id, SAM)
    [typing] = user.next_payloads(1)
    assert typing.get("custom", {}).get("handoff", {}).get("event") == "typing"
    channel.agent_replies(conversation_id, SAM, "Hi Ana, Sam here. Your invoice:",
                          attachments=({"file_type": "file", "data_url": "https://cw.acme.example/blobs/invoice-7731.pdf"},))
    channel.agent_replies(conversation_id, SAM, "Anything else?")
    assert user.next_messages(3) == ["Hi Ana, Sam here. Your invoice:", "", "Anything else?"]
    assert user.messages()[-2].get("attachment") == "https://cw.acme.example/blobs/invoice-7731.pdf"

    # The user's words and file become the contact's incoming messages, in order.
    user.say("thanks", expect=0)
    user.say_rest("here is my receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
    user.say("and that is all", expect=0)
    channel.wait_for(lambda: len(channel.messages(conversation_id, kind="incoming")) == 4, what="the user's three messages")
    assert [m["content"] for m in channel.messages(conversation_id, kind="incoming")[1:]] == [
        "thanks", "here is my receipt\nhttps://files.example/receipt-7731.pdf", "and that is all",
    ]
    # The notes agents write stay among agents.
    channel.agent_notes(conversation_id, LEA, "refund approved")
    user.assert_quiet(1.0)

    # The agent resolves: the user is told and the bot is back.
    channel.agent_resolves(conversation_id)
    assert user.next_messages(1) == [BACK]
    assert user.say("what are your opening hours") == [HOURS]


def test_agent_bot_answers_hands_over_stays_quiet_and_comes_back(deployment, agent_bot: FakeChatwoot):
    visitor = agent_bot.add_contact("Bo", "bo.chatwoot@example.com")
    conversation_id = agent_bot.visitor_writes(visitor, "hello", attachments=(
        {"file_type": "image", "data_url": "https://cw.acme.example/blobs/photo.jpg"},))
    assert agent_bot.wait_for_bot(conversation_id, 1) == [GREETING]
    sender = f"chatwoot-{conversation_id}"
    first = [e for e in deployment.tracker(sender)["events"] if e.get("event") == "user"][0]
    assert first["metadata"]["attachments"] == ["https://cw.acme.example/blobs/photo.jpg"]

    # A person, please: the email is known from Chatwoot; the conversation goes to the team.
    agent_bot.visitor_writes(visitor, "I want to talk to a human", conversation_id)
    assert agent_bot.wait_for_bot(conversation_id, 2)[1] == CONNECTING
    agent_bot.wait_for(lambda: agent_bot.conversations[conversation_id].status == "open", what="the conversation opened")
    agent_bot.wait_for(lambda: agent_bot.conversations[conversation_id].team_id == TEAMS["support"], what="the team")
    [note] = agent_bot.messages(conversation_id, private=True)
    assert "**User:** hello" in note["content"] and "email: bo.chatwoot@example.com" in note["content"]

    # The humans talk; the bot says nothing.
    said = len(agent_bot.bot_says(conversation_id))
    agent_bot.visitor_writes(visitor, "what are your opening hours", conversation_id)
    agent_bot.agent_assigns(conversation_id, SAM)
    agent_bot.agent_replies(conversation_id, SAM, "Hi Bo, Sam here.")
    time.sleep(1.0)
    assert len(agent_bot.bot_says(conversation_id)) == said

    # Resolved: the conversation is the bot's again.
    agent_bot.agent_resolves(conversation_id)
    wait_until_handed_back(deployment, sender)
    agent_bot.visitor_writes(visitor, "what are your opening hours", conversation_id)
    assert agent_bot.wait_for_bot(conversation_id, said + 1)[-1] == HOURS
