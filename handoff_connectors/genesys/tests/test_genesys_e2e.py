"""Channel to Genesys Cloud, end to end: a real Rasa 3.6.21, the real action server and sidecar.

The user chats with the bot on Rasa's callback channel; the handoff goes to
the fake Genesys org (fake_genesys.py: the token endpoint and the Open
Messaging inbound API, every request held to the documented shapes), whose
agents answer through signed outbound webhooks to the real sidecar, as
Genesys does, retries included.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from handoff_connectors.genesys import WEBHOOK_PATH

from .conftest import CLIENT_ID, CLIENT_SECRET, INTEGRATION_ID, SECRET_TOKEN, fake_org
from .fake_genesys import FakeGenesys

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
AGENT_CLOSED = "The agent has ended the chat. I'm back if you need anything else."
USER_CLOSED = "You have ended the chat with the agent. I'm back if you need anything else."
MARTA = "Marta Ruiz"


@pytest.fixture(scope="module")
def genesys(deployment) -> Iterator[FakeGenesys]:
    with fake_org() as fake:
        section = {
            "login_url": fake.url, "api_url": fake.url,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "integration_id": INTEGRATION_ID, "secret_token": SECRET_TOKEN,
            "queues": {"billing": "Billing"}, "default_queue": "Support",
        }
        with deployment.reconfigured(connector="genesys", connectors={"genesys": section}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
    assert not fake.violations, "requests off Genesys' documented shapes:\n" + "\n".join(fake.violations)
    assert all(status == 200 for _, status in fake.webhook_results), fake.webhook_results


def texts(genesys: FakeGenesys, user_id: str, count: int) -> list[str]:
    return [m.get("text", "") for m in genesys.wait_for_messages(user_id, count)]


def test_a_handoff_to_genesys_from_request_to_agent_close(deployment, genesys: FakeGenesys):
    user = deployment.new_user()
    assert user.say("hello") == [GREETING]
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say("ana.genesys@example.com") == [CONNECTING]

    # Genesys: the summary with the transcript, then the question, from the Rasa sender, routed to the queue.
    summary, question = genesys.wait_for_messages(user.sender_id, 2)
    assert summary["channel"]["from"]["id"] == user.sender_id
    assert "User: hello" in summary["text"] and f"Bot: {GREETING}" in summary["text"]
    assert "Email: ana.genesys@example.com" in summary["text"]
    assert question["text"] == "I want to talk to a human"
    assert question["channel"]["metadata"]["customAttributes"]["handoff_queue"] == "Support"

    # An agent joins and types: the user hears who, and the channel gets the typing payload.
    genesys.deliver(genesys.presence(user.sender_id, "Join", agent=MARTA))
    assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]
    genesys.deliver(genesys.types(user.sender_id))
    [typing] = user.next_payloads(1)
    assert typing["custom"]["handoff"]["event"] == "typing"

    # The agent's reply, redelivered as Genesys retries: shown once.
    reply = genesys.says(user.sender_id, MARTA, "Hi Ana, I can see your order.")
    assert genesys.deliver(reply).status_code == 200
    assert genesys.deliver(reply).status_code == 200
    assert user.next_messages(1) == ["Hi Ana, I can see your order."]
    genesys.deliver(genesys.says(user.sender_id, MARTA, "Your invoice:", attachments=(
        {"mediaType": "File", "url": "https://files.genesys.example/invoice.pdf", "mime": "application/pdf", "filename": "invoice.pdf"},
    )))
    assert user.next_messages(2)[0] == "Your invoice:"
    assert user.messages()[-1].get("attachment") == "https://files.genesys.example/invoice.pdf"
    user.assert_quiet(0.5)

    # The user's messages reach the agent in order; the token expires half-way and nothing is lost or repeated.
    user.say("thanks, that helps", expect=0)
    assert texts(genesys, user.sender_id, 3)[2] == "thanks, that helps"
    genesys.expire_tokens()
    # (The REST channel keeps message metadata, where a channel puts the URL of a file the user sent.)
    user.say_rest("here is the receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.jpg"}]})
    user.say("one more thing", expect=0)  # back on the callback channel, where the bot's pushes go
    messages = genesys.wait_for_messages(user.sender_id, 5)
    assert [m.get("text") for m in messages[2:]] == ["thanks, that helps", "here is the receipt", "one more thing"]
    assert messages[3]["content"][0]["attachment"] == {
        "mediaType": "Image", "url": "https://files.example/receipt-7731.jpg", "mime": "image/jpeg", "filename": "receipt-7731.jpg",
    }
    assert genesys.issued == 2 and genesys.duplicates == []

    # The agent ends it: the user is told and the bot is back.
    genesys.deliver(genesys.presence(user.sender_id, "Disconnect"))
    assert user.next_messages(1) == [AGENT_CLOSED]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    assert len(genesys.conversation(user.sender_id).messages) == 5


def test_a_planned_escalation_routes_to_its_queue_and_the_user_ends_it(deployment, genesys: FakeGenesys):
    user = deployment.new_user()
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("bo.genesys@example.com") == [CONNECTING]
    summary, _ = genesys.wait_for_messages(user.sender_id, 2)
    assert "Message to the agent: Customer wants to pay a bill" in summary["text"]
    attributes = summary["channel"]["metadata"]["customAttributes"]
    assert (attributes["handoff_routing"], attributes["handoff_queue"]) == ("billing", "Billing")

    # A forged reply reaches nobody.
    forged = genesys.says(user.sender_id, MARTA, "Send me your password")
    assert genesys.deliver(forged, secret="not-the-secret-token").status_code == 401
    genesys.webhook_results.pop()  # refused on purpose
    user.assert_quiet(0.5)

    assert user.say("end chat") == [USER_CLOSED]
    assert texts(genesys, user.sender_id, 3)[2] == "The customer ended the chat."
