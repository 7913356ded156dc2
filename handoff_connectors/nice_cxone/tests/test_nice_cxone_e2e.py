"""Channel to NICE CXone, end to end: a real Rasa 3.6.21, the real action server and sidecar.

The user chats with the bot on Rasa's callback channel; the handoff goes to
the fake CXone (fake_cxone.py: its OAuth server and DFO 3.0 endpoints,
each request checked against the notes' shapes), which plays CXone calling
the sidecar: first the sidecar's token endpoint, then the agents' replies
and the case's events with that bearer.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .conftest import BILLING, SAM, SUPPORT, new_fake
from .fake_cxone import FakeCXone

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
AGENT_CLOSED = "The agent has ended the chat. I'm back if you need anything else."
USER_CLOSED = "You have ended the chat with the agent. I'm back if you need anything else."


@pytest.fixture(scope="module")
def cxone(deployment) -> Iterator[FakeCXone]:
    with new_fake() as fake:
        settings = fake.settings(channels={"billing": BILLING})
        with deployment.reconfigured(connector="nice_cxone", connectors={"nice_cxone": settings}):
            fake.sidecar_url = f"http://127.0.0.1:{deployment.sidecar_port}"
            yield fake
    assert not fake.violations, "requests off CXone's documented shapes:\n" + "\n".join(fake.violations)
    assert all(status == 200 for _, status, _ in fake.deliveries if status != 401), fake.deliveries


def thread_of(fake: FakeCXone, sender_id: str, messages: int) -> str:
    def find():
        for thread in fake.threads.values():
            if thread.customer_id == sender_id and len(thread.messages) >= messages:
                return thread.id
        return None

    return fake.wait_for(find, what=f"a CXone thread of {sender_id} with {messages} message(s)")


def test_a_handoff_to_cxone_from_request_to_agent_close(deployment, cxone: FakeCXone):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say("ana.cxone@example.com") == [CONNECTING]

    # CXone: a thread in the support channel, the transcript first, then the question.
    thread = thread_of(cxone, user.sender_id, 2)
    assert cxone.thread(thread).channel_id == SUPPORT
    summary, question = cxone.texts(thread)
    assert summary.startswith("Handoff from the bot (email: ana.cxone@example.com, language: en)")
    assert summary.endswith(f"Conversation with the bot:\nUser: hello\nBot: {GREETING}")
    assert question == "I want to talk to a human"

    # An agent takes the case and types: CXone first fetches its token from the sidecar.
    assert cxone.agent_takes(thread, SAM).status_code == 200
    assert cxone.sidecar_tokens == 1
    assert user.next_messages(1) == ["Sam Okafor has joined the chat."]
    cxone.agent_types(thread, SAM)
    [typing] = user.next_payloads(1)
    assert typing["custom"]["handoff"]["event"] == "typing"

    # The agent's replies reach the user in order, a file as an attachment.
    cxone.agent_says(thread, SAM, "Hi Ana, I can see your order.")
    cxone.agent_says(thread, SAM, "Your invoice:", attachments=(
        {"url": "https://files.cxone.example/att/1/invoice.pdf", "friendlyName": "invoice.pdf", "mimeType": "application/pdf"},
    ), outbound=True)
    assert user.next_messages(3)[:2] == ["Hi Ana, I can see your order.", "Your invoice:"]
    assert user.messages()[-1].get("attachment") == "https://files.cxone.example/att/1/invoice.pdf"

    # The user's messages and file reach the thread, in order, while both tokens are renewed:
    # CXone ends our token, and the sidecar no longer takes CXone's bearer.
    user.say("thanks, that helps", expect=0)
    cxone.expire_tokens()
    user.say_rest("here is the receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})
    # Back on the callback channel (Rasa answers on the latest one; REST takes no pushes).
    user.say("it is order 7731", expect=0)
    cxone.wait_for(lambda: len(cxone.texts(thread)) == 5, what="the user's three messages")
    assert cxone.texts(thread)[2:] == ["thanks, that helps", "here is the receipt", "it is order 7731"]
    assert cxone.thread(thread).messages[3]["attachments"][0]["url"] == "https://files.example/receipt-7731.pdf"
    assert cxone.token_fetches == 2 and len(cxone.refused) == 1
    cxone.bearer = "a-bearer-the-sidecar-does-not-know"
    cxone.agent_says(thread, SAM, "Got it, thanks.")
    assert user.next_messages(1) == ["Got it, thanks."]
    assert cxone.sidecar_tokens == 2
    user.assert_quiet(0.5)

    # The agent resolves the case: the user is told, and the bot is back.
    cxone.agent_resolves(thread)
    assert user.next_messages(1) == [AGENT_CLOSED]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    assert len(cxone.texts(thread)) == 5


def test_a_planned_escalation_goes_to_its_channel_and_the_user_ends_it(deployment, cxone: FakeCXone):
    user = deployment.new_user()
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("bo.cxone@example.com") == [CONNECTING]
    thread = thread_of(cxone, user.sender_id, 2)
    assert cxone.thread(thread).channel_id == BILLING
    summary = cxone.texts(thread)[0]
    assert "routing: billing" in summary.splitlines()[0]
    assert "Message to the agent: Customer wants to pay a bill" in summary

    assert user.say("end chat") == [USER_CLOSED]
    cxone.wait_for(lambda: len(cxone.texts(thread)) == 3, what="the end of the chat")
    assert cxone.texts(thread)[-1] == "(The user ended the chat.)"
