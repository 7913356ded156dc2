"""LiveChat end to end: a real Rasa 3.6.21, the real action server and sidecar, the fake LiveChat.

Channel mode: the user chats with the bot on Rasa's callback channel; the
handoff starts a LiveChat chat as the customer (fake_livechat.py, held to
the v3.5 pages), whose webhooks (with the app's secret_key) reach the real
sidecar as LiveChat's would. Bot agent mode: the fake plays a widget
customer whose chat LiveChat routes to the bot agent; the bot answers in
the chat, hands it to the group, stays quiet while the agent has it and
answers again once the agent gives it back.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from handoff_connectors.livechat import WEBHOOK_PATH

from .conftest import ACCOUNT, CLIENT_ID, ORGANIZATION, PAT, SECRET
from .fake_livechat import Agent, FakeLiveChat

pytestmark = pytest.mark.e2e

BOT = Agent("8f1e2d3c4b5a69788796a5b4c3d2e1f0", "Acme Bot", groups=[0, 2])
MARTA = Agent("marta@acme.example", "Marta Ruiz", groups=[0])
JONAS = Agent("jonas@acme.example", "Jonas Weber", groups=[2])

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
AGENT_ENDED = "The agent has ended the chat. I'm back if you need anything else."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."


def livechat(deployment, **extra: Any) -> Iterator[FakeLiveChat]:
    fake = FakeLiveChat(ORGANIZATION, CLIENT_ID, ACCOUNT, PAT, SECRET,
                        [Agent(**vars(MARTA)), Agent(**vars(JONAS))], bot=Agent(**vars(BOT)))
    section = {
        "organization_id": ORGANIZATION, "client_id": CLIENT_ID, "account_id": ACCOUNT,
        "personal_access_token": PAT, "webhook_secret": SECRET, "bot_agent_id": BOT.id,
        "default_group": 0, "groups": {"billing": 2},
        "api_url": f"{fake.url}/v3.5", "accounts_url": fake.url, **extra,
    }
    with fake:
        with deployment.reconfigured(connector="livechat", connectors={"livechat": section}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
            fake.drain()  # late webhooks reach this sidecar, not the next one
    assert not fake.violations, "requests off LiveChat's documented shapes:\n" + "\n".join(fake.violations)
    assert fake.webhook_results and all(status == 200 for _, status in fake.webhook_results), fake.webhook_results


def texts(fake: FakeLiveChat, chat_id: str, author: str) -> list[str]:
    return [e.get("text") for e in fake.events(chat_id, author=author) if e["type"] == "message"]


# One LiveChat per mode, each for its class's tests (pytest-randomly keeps a class's tests together).
@pytest.fixture(scope="class")
def channel(deployment) -> Iterator[FakeLiveChat]:
    yield from livechat(deployment)


@pytest.fixture(scope="class")
def bot_agent(deployment) -> Iterator[FakeLiveChat]:
    yield from livechat(deployment, mode="bot_agent")


class TestChannelToLiveChat:
    @pytest.fixture
    def fake(self, channel: FakeLiveChat) -> FakeLiveChat:
        return channel

    def test_a_handoff_from_request_to_agent_close(self, deployment, fake: FakeLiveChat) -> None:
        user = deployment.new_user()
        assert user.say("hello") == [GREETING]
        assert user.say("I want to talk to a human") == [ASK_EMAIL]
        assert user.say("ana.livechat@example.com") == [CONNECTING]

        # LiveChat: a chat started as the customer, in the default group, the transcript first.
        chat = fake.wait_for(lambda: fake.chat_of_customer_email("ana.livechat@example.com"), what="the chat")
        customer = chat.customer_id
        transcript, question = texts(fake, chat.id, customer)
        assert "User: hello" in transcript and f"Bot: {GREETING}" in transcript
        assert question == "I want to talk to a human" and chat.group == 0

        # An agent joins and writes; a file follows: the user sees it all, in order.
        fake.agent_joins(chat.id, MARTA)
        assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]
        fake.agent_says(chat.id, MARTA, "Hi Ana, I can see your order.")
        fake.agent_says(chat.id, MARTA, file=("refund-form.pdf", "application/pdf"))
        assert user.next_messages(2)[0] == "Hi Ana, I can see your order."
        assert user.messages()[-1]["attachment"].endswith("/refund-form.pdf")

        # The user's words reach the chat as the customer's events, in order.
        user.say("thanks, that helps", expect=0)
        user.say("and the box was damaged", expect=0)
        fake.wait_for(lambda: len(texts(fake, chat.id, customer)) == 4, what="the user's messages")
        assert texts(fake, chat.id, customer)[2:] == ["thanks, that helps", "and the box was damaged"]
        user.assert_quiet(0.5)

        # The agent closes: the user is told and the bot is back.
        fake.agent_closes(chat.id, MARTA)
        assert user.next_messages(1) == [AGENT_ENDED]
        assert user.say("what are your opening hours") == [HOURS]

    def test_a_planned_escalation_goes_to_its_group_the_users_file_follows_and_the_user_ends_it(self, deployment, fake: FakeLiveChat) -> None:
        user = deployment.new_user()
        assert user.say("I want to pay my bill") == [ASK_EMAIL]
        assert user.say("bo.livechat@example.com") == [CONNECTING]
        chat = fake.wait_for(lambda: fake.chat_of_customer_email("bo.livechat@example.com"), what="the chat")
        assert chat.group == 2
        fake.wait_for(lambda: len(texts(fake, chat.id, chat.customer_id)) == 3, what="the first events")
        assert texts(fake, chat.id, chat.customer_id)[1].startswith("Message to the agent: Customer wants to pay a bill")
        # A file the user sends (the REST channel keeps its URL) is uploaded and sent as a file event.
        fake.files["receipt-7731.pdf"] = (b"%PDF-1.4 receipt", "application/pdf")
        user.say_rest("here is my receipt", metadata={"attachments": [{"url": f"{fake.url}/files/receipt-7731.pdf"}]})
        fake.wait_for(lambda: fake.events(chat.id, author=chat.customer_id, kind="file"), what="the user's file")
        assert texts(fake, chat.id, chat.customer_id)[-1] == "here is my receipt"
        [file] = fake.events(chat.id, author=chat.customer_id, kind="file")
        name, content = fake.uploads[file["url"]]
        assert name == "receipt-7731.pdf" and b"%PDF-1.4 receipt" in content
        # The user ends it: the agent reads why, and the chat is deactivated.
        assert user.say_rest("end chat") == ["You have ended the chat with the agent. I'm back if you need anything else."]
        fake.wait_for(lambda: not fake.chats[chat.id].active, what="the chat deactivated")
        assert "End chat" in texts(fake, chat.id, chat.customer_id)[-1]


class TestBotAgentInLiveChat:
    @pytest.fixture
    def fake(self, bot_agent: FakeLiveChat) -> FakeLiveChat:
        return bot_agent

    def test_the_bot_answers_hands_over_stays_quiet_and_answers_again(self, deployment, fake: FakeLiveChat) -> None:
        chat_id = fake.customer_starts("Ana", "ana.widget@example.com", "hello")
        fake.wait_for(lambda: texts(fake, chat_id, BOT.id), timeout=30, what="the bot's greeting")
        assert texts(fake, chat_id, BOT.id) == [GREETING]

        # A person, please: the email is known from LiveChat, so the handoff starts at once.
        fake.customer_says(chat_id, "I want to talk to a human")
        fake.wait_for(lambda: fake.calls("transfer_chat"), timeout=30, what="the transfer to the group")
        fake.wait_for(lambda: len(texts(fake, chat_id, BOT.id)) == 3, timeout=30, what="the bot's hand-over")
        note = [e for e in fake.events(chat_id, author=BOT.id) if e.get("visibility") == "agents"]
        assert len(note) == 1 and "User: hello" in note[0]["text"]
        assert CONNECTING in texts(fake, chat_id, BOT.id)
        said = len(fake.events(chat_id, author=BOT.id))

        # The humans talk: the bot says nothing.
        fake.agent_joins(chat_id, MARTA)
        fake.customer_says(chat_id, "what are your opening hours")
        fake.agent_says(chat_id, MARTA, "Hi Ana, Marta here. We open at 9.")
        time.sleep(1.0)
        assert len(fake.events(chat_id, author=BOT.id)) == said

        # Marta gives the chat back to the bot: the handoff ends, the bot answers again.
        fake.agent_gives_back(chat_id, MARTA)
        sender = f"livechat-{chat_id}"
        deadline = time.monotonic() + 30
        while (deployment.tracker(sender).get("active_loop") or {}).get("name"):
            assert time.monotonic() < deadline, "the handoff did not end after the give-back"
            time.sleep(0.2)
        fake.customer_says(chat_id, "what are your opening hours")
        fake.wait_for(lambda: texts(fake, chat_id, BOT.id)[-1] == HOURS, timeout=30, what="the bot's answer")
