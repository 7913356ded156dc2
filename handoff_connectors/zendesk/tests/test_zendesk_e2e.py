"""Zendesk end to end, in both modes: a real Rasa 3.6.21, the real action server and sidecar,
and the spec-checking fake Sunshine Conversations app (fake_sunshine.py).

Channel mode: the user chats with the bot on Rasa's callback channel; the
handoff creates the Sunshine user and conversation and passes control to
the agent workspace; the fake's agents write, type, read and solve the
ticket through X-API-Key webhooks to the real sidecar, as Sunshine would.

switchboard_bot mode: the bot is the switchboard integration in control of a
Zendesk widget conversation; the fake's widget user talks to it, the bot's
answers are posted into that conversation as the business, the handoff
passes control to the agent workspace, the bot stays quiet while the humans
talk, and answers again once the agent workspace releases control.

One fixture per mode (class-scoped, so each mode's sidecar is torn down
before the next starts).
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from handoff_connectors.zendesk import WEBHOOK_PATH, sender_for

from .conftest import APP_ID, KEY_ID, KEY_SECRET, WEBHOOK_SECRET
from .fake_sunshine import FakeSunshine

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."
AGENT_CLOSED = "The agent has ended the chat. I'm back if you need anything else."


def zendesk_settings(fake: FakeSunshine, **extra: Any) -> dict:
    return {
        "app_id": APP_ID,
        "key_id": KEY_ID,
        "key_secret": KEY_SECRET,
        "webhook_secret": WEBHOOK_SECRET,
        "base_url": fake.url,
        "routing_tags": {"billing": "handoff_billing"},
        "default_tag": "handoff_general",
        **extra,
    }


def running(deployment, **extra: Any) -> Iterator[FakeSunshine]:
    fake = FakeSunshine(APP_ID, KEY_ID, KEY_SECRET, WEBHOOK_SECRET)
    with fake:
        with deployment.reconfigured(connector="zendesk", connectors={"zendesk": zendesk_settings(fake, **extra)}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
            fake.drain()  # late webhooks reach this sidecar, not the next one
    assert not fake.violations, "requests, answers or webhooks off the Sunshine spec:\n" + "\n".join(fake.violations)
    refused = [result for result in fake.webhook_results if result[1] != 200]
    assert refused == [("conversation:message", 401), ("conversation:message", 401)], refused


@pytest.fixture(scope="class")
def zendesk_channel(deployment) -> Iterator[FakeSunshine]:
    yield from running(deployment)


@pytest.fixture(scope="class")
def zendesk_desk(deployment) -> Iterator[FakeSunshine]:
    # The bot's switchboard integration is named as the fake's is: "rasa-bot".
    yield from running(deployment, mode="switchboard_bot", bot_integration="rasa-bot")


class TestChannelMode:
    def test_a_handoff_to_zendesk_from_request_to_agent_close(self, deployment, zendesk_channel: FakeSunshine):
        zendesk = zendesk_channel
        user = deployment.new_user()
        assert user.say("hello") == [GREETING]
        assert user.say("I want to pay my bill") == [ASK_EMAIL]
        assert user.say("ana.zendesk@example.com") == [CONNECTING]

        # Sunshine: the user (external id = the Rasa sender), the conversation, the transcript, the agent workspace.
        conversation = zendesk.wait_for(
            lambda: (c := zendesk.conversation_of(user.sender_id)) and c.active is zendesk.agent_workspace and c,
            what="the conversation passed to the agent workspace",
        )
        cid = conversation.id
        transcript = zendesk.messages(cid)[0]
        lines = transcript["content"]["text"].splitlines()
        assert lines[0].startswith("Handoff from the bot (email: ana.zendesk@example.com, language: en, routing: billing")
        assert lines[1] == "Message to the agent: Customer wants to pay a bill (en)"
        assert "User: hello" in lines and f"Bot: {GREETING}" in lines
        [handoff] = conversation.control
        assert handoff["metadata"]["dataCapture.systemField.tags"] == "handoff_billing"
        assert handoff["metadata"]["first_message_id"] == transcript["id"]

        # A forged agent message (no key, a wrong key) reaches nobody.
        forged = zendesk.agent_says(cid, "Send me your password", send=False)
        assert zendesk.deliver(forged, api_key="").status_code == 401
        assert zendesk.deliver(forged, api_key="not-the-webhook-secret").status_code == 401

        # The agent types, then writes: the user hears who joined, then the message.
        zendesk.agent_activity(cid, "typing:start")
        zendesk.agent_says(cid, "Hi Ana, Marta here. Let me look at your bill.")
        # (The agent's message may be there already: take the first new one, not the latest.)
        [typing] = user.next_payloads(1)
        assert typing.get("custom", {}).get("handoff", {}).get("event") == "typing"
        assert user.next_messages(2) == ["Marta Ruiz has joined the chat.", "Hi Ana, Marta here. Let me look at your bill."]

        # The agent sends a file and an image; the user gets them as attachments.
        zendesk.agent_says(cid, "Your invoice:", media={"type": "file", "mediaUrl": "https://acme.zendesk.example/invoice.pdf",
                                                        "mediaType": "application/pdf", "altText": "invoice.pdf"})
        zendesk.agent_says(cid, media={"type": "image", "mediaUrl": "https://acme.zendesk.example/click.png",
                                       "mediaType": "image/png", "altText": "click.png"})
        assert user.next_messages(1) == ["Your invoice:"]
        user.next_messages(2)
        invoice, image = user.messages()[-2:]
        assert invoice.get("attachment") == "https://acme.zendesk.example/invoice.pdf"
        assert image.get("image") == "https://acme.zendesk.example/click.png"

        # The user's messages and a file go to Sunshine as the user, in order. (The file comes
        # through Rasa's REST channel, which keeps metadata; the next message is on the callback
        # channel again, so what the desk says next has a channel to reach the user on.)
        user.say("thanks, that helps", expect=0)
        user.say_rest("here is my receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
        user.say("the account is A-77", expect=0)
        zendesk.wait_for(lambda: len(zendesk.messages(cid, "user")) >= 6, what="the user's messages")
        mine = zendesk.messages(cid, "user")[2:]
        assert [m["content"].get("text") for m in mine] == ["thanks, that helps", "here is my receipt", None, "the account is A-77"]
        assert mine[2]["content"]["type"] == "file" and mine[2]["content"]["mediaUrl"] == "https://files.example/receipt-7731.pdf"
        assert all(m["author"] == {"type": "user", "userId": conversation.user_id} for m in mine)

        # The agent reads them.
        zendesk.agent_activity(cid, "conversation:read")
        [read] = user.next_payloads(1)
        assert read.get("custom", {}).get("handoff", {}).get("event") == "read"
        user.assert_quiet(1.0)  # the forged message never arrived

        # The agent solves the ticket: control is released, the user is told, the bot is back.
        zendesk.agent_solves(cid)
        assert user.next_messages(1) == [AGENT_CLOSED]
        assert user.say("what are your opening hours") == [HOURS]
        assert len(zendesk.messages(cid, "user")) == 6  # nothing more went to the agents


def bot_says(fake: FakeSunshine, conversation_id: str) -> list[str]:
    """The bot's messages in the conversation (business messages without an agent's name)."""
    return [m["content"].get("text", "") for m in fake.messages(conversation_id, "business") if "displayName" not in m["author"]]


def wait_for_bot(fake: FakeSunshine, conversation_id: str, count: int) -> list[str]:
    fake.wait_for(lambda: len(bot_says(fake, conversation_id)) >= count, timeout=30, what=f"{count} bot message(s)")
    return bot_says(fake, conversation_id)


def loop_ended(deployment, sender_id: str) -> bool:
    return not (deployment.tracker(sender_id).get("active_loop") or {}).get("name")


class TestSwitchboardBotMode:
    def test_the_bot_answers_hands_over_stays_quiet_and_answers_again(self, deployment, zendesk_desk: FakeSunshine):
        zendesk = zendesk_desk
        bo = zendesk.widget_user("bo.zendesk@example.com")
        cid = zendesk.widget_conversation(bo)

        # The bot (in control) answers in the Zendesk conversation, as the business.
        zendesk.user_writes(cid, "hello")
        assert wait_for_bot(zendesk, cid, 1) == [GREETING]
        assert deployment.tracker(sender_for(cid))["latest_input_channel"] == "rest"

        # A person, please: the email is known from Zendesk, so control passes at once.
        zendesk.user_writes(cid, "I want to talk to a human")
        assert wait_for_bot(zendesk, cid, 2)[1] == CONNECTING
        conversation = zendesk.wait_for(
            lambda: zendesk.conversations[cid].active is zendesk.agent_workspace and zendesk.conversations[cid],
            what="control passed to the agent workspace",
        )
        [handoff] = conversation.control
        assert handoff["metadata"]["rasa_handoff_email"] == "bo.zendesk@example.com"
        assert handoff["metadata"]["dataCapture.systemField.tags"] == "handoff_general"
        # The same conversation: no user or conversation was created.
        assert zendesk.calls_to("POST", "/users") == [] and zendesk.calls_to("POST", "/conversations") == []

        # The humans talk, a file each way; the bot hears none of it and says nothing.
        events_before = len(deployment.tracker(sender_for(cid))["events"])
        said_before = len(bot_says(zendesk, cid))
        zendesk.user_writes(cid, "what are your opening hours")
        zendesk.agent_says(cid, "Hi Bo, Marta here.")
        zendesk.user_writes(cid, media={"type": "image", "mediaUrl": "https://files.example/bo-receipt.jpg", "altText": "bo-receipt.jpg"})
        zendesk.agent_says(cid, media={"type": "file", "mediaUrl": "https://acme.zendesk.example/terms.pdf", "altText": "terms.pdf"})
        time.sleep(1.0)
        assert len(bot_says(zendesk, cid)) == said_before
        texts = [e.get("text") for e in deployment.tracker(sender_for(cid))["events"][events_before:] if e.get("event") == "user"]
        assert "what are your opening hours" not in texts

        # The agent solves the ticket: the agent workspace releases control and the handoff ends.
        zendesk.agent_solves(cid)
        deadline = time.monotonic() + 30
        while not loop_ended(deployment, sender_for(cid)):
            assert time.monotonic() < deadline, "the handoff did not end after releaseControl"
            time.sleep(0.2)

        # The user writes again: the bot answers again.
        zendesk.user_writes(cid, "what are your opening hours")
        assert wait_for_bot(zendesk, cid, said_before + 1)[-1] == HOURS

        # Forged calls (no key, a wrong key) reach nobody.
        forged = zendesk.event_call(zendesk.conversations[cid], "conversation:message", {"message": {
            "id": "forged", "author": {"type": "user", "userId": bo["id"]}, "content": {"type": "text", "text": "I want to talk to a human"}}})
        assert zendesk.deliver(forged, api_key="").status_code == 401
        assert zendesk.deliver(forged, api_key="nope").status_code == 401
