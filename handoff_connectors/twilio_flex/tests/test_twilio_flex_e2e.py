"""Channel to Twilio Flex, end to end: a real Rasa 3.6.21, the real action server and sidecar, the fake Twilio.

The user chats with the bot on Rasa's callback channel; the handoff opens a
conversation and an Interaction in the spec-checking fake Twilio
(fake_twilio.py). Flex's side (an agent accepting the task, writing,
sending a file, ending the chat) reaches the real sidecar as Twilio's
Conversations webhooks: forms signed over the public URL the connector
registered on the conversation, delivered through a "proxy" that passes
X-Forwarded-Proto/Host on, as a deployment behind a load balancer gets them.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from handoff_connectors.twilio_flex import WEBHOOK_PATH, identity_for

from .conftest import ACCOUNT, AUTH_TOKEN, MARTA, SERVICE, WORKFLOW, WORKSPACE, fake_twilio
from .fake_twilio import FakeTwilio

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."
BACK = "The agent has ended the chat. I'm back if you need anything else."
PUBLIC = "https://flex-hooks.acme.example"


@pytest.fixture(scope="module")
def twilio(deployment) -> Iterator[FakeTwilio]:
    fake = fake_twilio()
    section = {
        "account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "conversations_service_sid": SERVICE,
        "workspace_sid": WORKSPACE, "workflow_sid": WORKFLOW, "queues": {"billing": "Billing"}, "default_queue": "Everyone",
        "webhook_url": PUBLIC + WEBHOOK_PATH, **fake.base_urls(),
    }
    with fake:
        fake.proxies[PUBLIC] = f"http://127.0.0.1:{deployment.sidecar_port}"
        with deployment.reconfigured(connector="twilio_flex", connectors={"twilio_flex": section}):
            yield fake
    assert not fake.violations, "requests or answers off Twilio's spec:\n" + "\n".join(fake.violations)
    assert fake.webhook_results and all(status == 200 for _, status in fake.webhook_results), fake.webhook_results


def handed_off(fake: FakeTwilio, sender_id: str):
    """The conversation and interaction the handoff of `sender_id` opened, once the task is there."""
    identity = identity_for(sender_id)
    conversation = fake.wait_for(lambda: fake.conversation_of(identity), what=f"a conversation with {identity}")
    interaction = fake.wait_for(lambda: fake.interaction_of(conversation.sid), what="the interaction")
    return conversation, interaction


def test_a_billing_handoff_to_flex_from_request_to_agent_close(deployment, twilio: FakeTwilio):
    user = deployment.new_user()
    identity = identity_for(user.sender_id)
    marta = twilio.agents[MARTA.identity]
    assert user.say("hello") == [GREETING]
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("ana.flex@example.com") == [CONNECTING]

    # Twilio: the conversation with the user, the transcript, the webhook, the task for the billing queue.
    conversation, interaction = handed_off(twilio, user.sender_id)
    assert conversation.webhooks[0]["url"] == PUBLIC + WEBHOOK_PATH
    transcript, question = conversation.messages[:2]
    assert transcript["author"] == "Bot"
    assert "routing: billing" in transcript["body"] and "email: ana.flex@example.com" in transcript["body"]
    assert f"Customer > hello\nBot > {GREETING}" in transcript["body"]
    assert "Note for the agent: Customer wants to pay a bill" in transcript["body"]
    assert question["author"] == identity
    assert interaction.channel["properties"]["media_channel_sid"] == conversation.sid
    assert interaction.task_attributes["queue"] == "Billing"
    assert interaction.task_attributes["customerName"] == "ana.flex@example.com"

    # Marta accepts the task in Flex: she joins the conversation, and the user hears who.
    twilio.agent_accepts(conversation.sid, marta)
    assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]
    twilio.agent_says(conversation.sid, marta, "Hi Ana, I can help with your bill.")
    twilio.agent_says(conversation.sid, marta, "Here is the invoice.", files=(("invoice.pdf", "application/pdf", "https://media.twiliocdn.example/t/invoice.pdf"),))
    assert user.next_messages(3)[:2] == ["Hi Ana, I can help with your bill.", "Here is the invoice."]
    assert user.messages()[-1].get("attachment") == "https://media.twiliocdn.example/t/invoice.pdf"

    # The user's messages are the user's in the conversation, in order.
    user.say("thanks, one question", expect=0)
    user.say("is it due today?", expect=0)
    twilio.wait_for(lambda: len([m for m in conversation.messages if m["author"] == identity]) == 3, what="the user's messages")
    assert [m["body"] for m in conversation.messages if m["author"] == identity][1:] == ["thanks, one question", "is it due today?"]
    user.assert_quiet(0.5)

    # Marta ends the chat: the user is told and the bot is back.
    twilio.agent_ends_chat(conversation.sid)
    assert user.next_messages(1) == [BACK]
    assert user.say("what are your opening hours") == [HOURS]


def test_a_users_file_goes_as_a_link_the_user_ends_the_chat_and_a_forged_reply_reaches_nobody(deployment, twilio: FakeTwilio):
    # The REST channel keeps message metadata, where a channel puts the URL of a file the user sent.
    user = deployment.new_user()
    user.say_rest("I want to talk to a human", metadata={"email": "bo.flex@example.com"})
    conversation, interaction = handed_off(twilio, user.sender_id)
    assert interaction.task_attributes["queue"] == "Everyone"
    user.say_rest("here is my receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
    mine = lambda: [m["body"] for m in conversation.messages if m["author"] == identity_for(user.sender_id)]  # noqa: E731
    twilio.wait_for(lambda: len(mine()) == 2, what="the user's file")
    assert mine()[-1] == "here is my receipt\nhttps://files.example/receipt-7731.pdf"

    forged = twilio.agent_says(conversation.sid, twilio.agents[MARTA.identity], "Send me your password", send=False)
    assert twilio.deliver(conversation.sid, forged, auth_token="not-the-auth-token") == [401]
    twilio.webhook_results.pop()  # refused on purpose
    user.assert_quiet(0.5)

    user.say_rest("end chat")
    twilio.wait_for(lambda: interaction.channel_status == "closed" and conversation.state == "closed", what="the close")
    assert conversation.messages[-1]["author"] == "Bot"
