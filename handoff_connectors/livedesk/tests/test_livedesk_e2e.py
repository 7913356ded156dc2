"""LiveDesk end to end, one conversation per mode: a real Rasa 3.6.21, the real action server and sidecar, the fake project.

channel: the user talks to the bot on Rasa's callback channel and is handed
to the fake LiveDesk's API channel, whose webhooks (unsigned, with the
URL's token) reach the real sidecar.
desk: the bot answers the API channel's own conversation, hands it to the
team and is back once an agent resolves it.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from handoff_connectors.livedesk import WEBHOOK_PATH

from handoff_connectors.chatwoot.tests.fake_chatwoot import wait_until_handed_back

from .conftest import API_KEY, API_SECRET, INBOX, MEI, TEAMS, TOKEN, fake_project
from .fake_livedesk import FakeLiveDesk

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."


def running(deployment, first_id: int, **extra) -> Iterator[FakeLiveDesk]:
    fake = fake_project(first_id=first_id)
    section = {"url": fake.url, "api_key": API_KEY, "api_secret": API_SECRET, "inbox_id": INBOX, "webhook_token": TOKEN,
               "default_team": TEAMS["support"], "teams": {"billing": TEAMS["billing"]}, **extra}
    with fake:
        with deployment.reconfigured(connector="livedesk", connectors={"livedesk": section}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}?token={TOKEN}"
            yield fake
            fake.drain()
    assert not fake.violations, "requests off LiveDesk's documented shapes:\n" + "\n".join(fake.violations)
    assert fake.webhook_results and all(status == 200 for _, status in fake.webhook_results), fake.webhook_results


@pytest.fixture(scope="module")
def channel(deployment) -> Iterator[FakeLiveDesk]:
    yield from running(deployment, 2000)


@pytest.fixture(scope="module")
def desk(deployment) -> Iterator[FakeLiveDesk]:
    yield from running(deployment, 7000, mode="desk")


def test_channel_a_handoff_to_livedesk_from_request_to_agent_close(deployment, channel: FakeLiveDesk):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("mia.livedesk@example.com") == [CONNECTING]

    conversation_id = channel.wait_for(lambda: next(iter(channel.conversations), None), what="the conversation")
    channel.wait_for(lambda: len(channel.messages(conversation_id)) >= 3, what="transcript, question, message to the agent")
    assert channel.conversations[conversation_id].team_id == TEAMS["billing"]
    note, question, to_agent = channel.messages(conversation_id)
    assert note["private"] and "**User:** hello" in note["content"] and "routing: billing" in note["content"]
    assert question["content"] == "I want to pay my bill" and to_agent["private"]

    channel.agent_assigns(conversation_id, MEI)
    assert user.next_messages(1) == ["Mei Tan has joined the chat."]
    channel.agent_replies(conversation_id, MEI, "Hi Mia, the form:", attachments=({"file_type": "file", "data_url": "https://ld.example/form.pdf"},))
    assert user.next_messages(2)[0] == "Hi Mia, the form:"
    assert user.messages()[-1].get("attachment") == "https://ld.example/form.pdf"
    user.say("thanks", expect=0)
    user.say_rest("signed it", metadata={"attachments": [{"url": "https://files.example/signed.pdf"}]})
    user.say("bye", expect=0)
    channel.wait_for(lambda: len(channel.messages(conversation_id, kind="incoming")) == 4, what="the user's messages")
    assert [m["content"] for m in channel.messages(conversation_id, kind="incoming")[1:]] == [
        "thanks", "signed it\nhttps://files.example/signed.pdf", "bye"]

    channel.agent_resolves(conversation_id)
    assert user.next_messages(1) == ["The agent has ended the chat. I'm back if you need anything else."]
    assert user.say("what are your opening hours") == [HOURS]


def test_desk_the_bot_answers_hands_over_stays_quiet_and_comes_back(deployment, desk: FakeLiveDesk):
    visitor = desk.add_contact("Kai", "kai.livedesk@example.com")
    conversation_id = desk.visitor_writes(visitor, "hello")
    assert desk.wait_for_bot(conversation_id, 1) == [GREETING]
    sender = f"livedesk-{conversation_id}"

    desk.visitor_writes(visitor, "I want to talk to a human", conversation_id)
    assert desk.wait_for_bot(conversation_id, 2)[1] == CONNECTING
    desk.wait_for(lambda: desk.conversations[conversation_id].team_id == TEAMS["support"], what="the team")
    assert "**User:** hello" in desk.messages(conversation_id, private=True)[0]["content"]

    said = len(desk.bot_says(conversation_id))
    desk.visitor_writes(visitor, "what are your opening hours", conversation_id)
    desk.agent_assigns(conversation_id, MEI)
    desk.agent_replies(conversation_id, MEI, "Hi Kai, Mei here.")
    time.sleep(1.0)
    assert len(desk.bot_says(conversation_id)) == said

    desk.agent_resolves(conversation_id)
    wait_until_handed_back(deployment, sender)
    desk.visitor_writes(visitor, "what are your opening hours", conversation_id)
    assert desk.wait_for_bot(conversation_id, said + 1)[-1] == HOURS
