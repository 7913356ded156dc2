"""Channel to Salesforce (Messaging for In-App and Web), end to end: a real Rasa 3.6.21, the real action
server and sidecar, and the fake Messaging API (fake_miaw.py).

The user chats with the bot on Rasa's callback channel; the handoff becomes
a Messaging conversation of a new anonymous end user, with routing
attributes from the escalation and the bot's slots. Salesforce never calls
the sidecar: the agent's side reaches it only over the conversation's SSE
stream, which the fake cuts in the middle of the agent's replies, and which
the sidecar, stopped and started again, resumes with Last-Event-ID. The
end user's token lives six seconds here, so it is renewed several times
along the way.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from .fake_miaw import DEPLOYMENT, ORG_ID, FakeMessaging

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
CLOSED = "The agent has ended the chat. I'm back if you need anything else."


@pytest.fixture(scope="module")
def salesforce(deployment) -> Iterator[FakeMessaging]:
    fake = FakeMessaging(token_lifetime=6.0)
    section = {
        "messaging_url": fake.url,
        "org_id": ORG_ID,
        "deployment": DEPLOYMENT,
        "routing_attribute": "Queue",
        "email_attribute": "Customer_Email",
        "routing_attributes": {"Channel": "rasa"},
        "token_refresh_margin": 3.0,
    }
    escalation = {**deployment._config()["escalation"], "attributes": {"Customer_Language": "handoff_language"}}
    with fake:
        with deployment.reconfigured(connector="salesforce", connectors={"salesforce": section}, escalation=escalation):
            yield fake
    assert not fake.violations, "requests off the Messaging API's documented shapes:\n" + "\n".join(fake.violations)


def conversation_for(fake: FakeMessaging, text: str):
    return fake.wait_for(lambda: fake.conversation_of(lambda c: len(c.messages) >= 2 and text in c.messages[0]["staticContent"]["text"]),
                         what=f"a Salesforce conversation whose transcript has {text!r}")


def test_a_handoff_to_salesforce_through_stream_drops_and_a_sidecar_restart(deployment, salesforce: FakeMessaging):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("ana.salesforce@example.com") == [CONNECTING]

    # The conversation: routing attributes for Omni-Channel, then the transcript and the question as the end user.
    conversation = conversation_for(salesforce, "ana.salesforce@example.com")
    assert conversation.routing_attributes == {
        "Channel": "rasa", "Customer_Language": "en", "Queue": "billing", "Customer_Email": "ana.salesforce@example.com",
    }
    summary, question = salesforce.texts(conversation.id)
    assert "routing: billing" in summary and "Message to the agent: Customer wants to pay a bill" in summary
    assert f"User: hello\nBot: {GREETING}" in summary
    assert question == "I want to pay my bill"

    # Omni-Channel routes it and an agent joins: only the joining is news to the user.
    salesforce.routing_result(conversation.id)
    salesforce.agent_joins(conversation.id, "Marta Ruiz")
    assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]
    salesforce.agent_says(conversation.id, "Marta Ruiz", "Hi Ana, I can help with your bill.")
    assert user.next_messages(1) == ["Hi Ana, I can help with your bill."]

    user.say("my account is A-7731", expect=0)
    user.say("and the amount is 42 EUR", expect=0)
    salesforce.wait_for(lambda: len(salesforce.texts(conversation.id)) == 4, what="the user's two messages")
    assert salesforce.texts(conversation.id)[2:] == ["my account is A-7731", "and the amount is 42 EUR"]

    # The stream drops after every event: three replies still arrive once, in order.
    salesforce.drop_after = 1
    salesforce.drop_streams()
    for text in ("Thanks.", "I found the invoice.", "Here it is:"):
        salesforce.agent_says(conversation.id, "Marta Ruiz", text)
    salesforce.agent_says(conversation.id, "Marta Ruiz", "", attachments=[
        {"name": "invoice-7731.pdf", "mimeType": "application/pdf", "url": "https://files.acme.example/invoice-7731.pdf"},
    ])
    assert user.next_messages(4)[:3] == ["Thanks.", "I found the invoice.", "Here it is:"]
    assert user.messages()[-1].get("attachment") == "https://files.acme.example/invoice-7731.pdf"
    salesforce.drop_after = None

    # The sidecar restarts in the middle: what the agent wrote meanwhile arrives once it is back.
    deployment.stop_sidecar()
    salesforce.agent_says(conversation.id, "Marta Ruiz", "Written while the sidecar was away.")
    deployment.start_sidecar()
    assert user.next_messages(1) == ["Written while the sidecar was away."]
    user.assert_quiet(1.0)

    # Each stream (after a drop, a token renewal, the restart) reopened from the last event read, never
    # from an earlier one; the end user's token was renewed along the way.
    resumed = [s.last_event_id for s in salesforce.streams if s.subject == conversation.subject]
    assert len(resumed) >= 5 and resumed == sorted(resumed) and "0" not in resumed[1:], resumed
    # Tokens live 6 s here, so one is renewed within seconds however fast the steps above went.
    salesforce.wait_for(lambda: any(r.path.endswith("/continuation-access-token") for r in salesforce.requests),
                        timeout=15, what="the end user's token renewed")

    # The agent closes: the user is told and the bot is back.
    salesforce.agent_closes(conversation.id)
    assert user.next_messages(1) == [CLOSED]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    assert len(salesforce.texts(conversation.id)) == 4


def test_a_users_file_reaches_the_agent_and_ending_the_chat_closes_the_conversation(deployment, salesforce: FakeMessaging):
    user = deployment.new_user()
    # The REST channel keeps message metadata, where a channel puts the URL of a file the user sent.
    user.say_rest("I want to talk to a human", metadata={"email": "bo.salesforce@example.com"})
    conversation = conversation_for(salesforce, "bo.salesforce@example.com")
    assert conversation.routing_attributes["Customer_Email"] == "bo.salesforce@example.com"

    user.say_rest("here is my receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
    salesforce.wait_for(lambda: len(salesforce.texts(conversation.id)) == 3, what="the user's file")
    assert salesforce.texts(conversation.id)[-1] == "here is my receipt\nhttps://files.example/receipt-7731.pdf"

    user.say_rest("end chat")
    salesforce.wait_for(lambda: salesforce.conversations[conversation.id].closed_by, what="the close")
    assert salesforce.conversations[conversation.id].closed_by == "end user"
    time.sleep(0.2)
