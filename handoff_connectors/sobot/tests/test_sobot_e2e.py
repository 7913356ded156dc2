"""Sobot to Sobot, end to end: the bot answers inside (fake) Sobot's widget, a real Rasa 3.6.21 behind it.

The fake Sobot plays the widget's visitor and the agents: what they do
reaches the real sidecar as Sobot's message forwarding sends it (signed
batches). The sidecar hands the visitor's words to Rasa's REST channel as
`sobot-<uid>` and posts the bot's answers into the visitor's session with
the shared token. A handoff gives that same session to the routing's human
group; the bot stays quiet while the visitor and the agent talk, and answers
again once the agent ends the session.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from handoff_connectors.core.rasa_protocol import INTENT_AGENT_JOINED, INTENT_AGENT_MESSAGE
from handoff_connectors.sobot import WEBHOOK_PATH, sender_for, wire

from .conftest import fake_sobot, section
from .fake_sobot import FakeSobot

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
HOURS = "We're open Monday to Friday, 9:00 to 18:00."
USER_CLOSED = "You have ended the chat with the agent. I'm back if you need anything else."


@pytest.fixture(scope="module")
def sobot(deployment) -> Iterator[FakeSobot]:
    with fake_sobot() as fake:
        with deployment.reconfigured(connector="sobot", connectors={"sobot": section(fake.url)}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
    assert not fake.violations, "requests off Sobot's documented shapes:\n" + "\n".join(fake.violations)
    assert fake.push_results and all(status == 200 for _, status in fake.push_results), fake.push_results


def says(sobot: FakeSobot, visitor, text: str, count: int) -> list[str]:
    """The visitor writes in the widget; the bot's messages once there are `count` of them."""
    assert sobot.push(sobot.visitor_item(visitor, text)).status_code == 200
    return sobot.wait_for_bot(visitor.uid, count)


def handoff_live(deployment, uid: str) -> bool:
    return ((deployment.tracker(sender_for(uid)).get("active_loop") or {}).get("name")) == "handoff_loop"


def wait_until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_bot_answers_hands_the_visitor_to_billing_stays_quiet_and_comes_back(deployment, sobot: FakeSobot):
    ana = sobot.new_visitor()

    # The bot answers in Sobot's widget.
    assert says(sobot, ana, "hello", 1) == [GREETING]
    assert deployment.tracker(sender_for(ana.uid))["latest_input_channel"] == "rest"

    # A bill to pay: the planned escalation to billing, after the email.
    assert says(sobot, ana, "I want to pay my bill", 2)[1] == ASK_EMAIL
    assert says(sobot, ana, "ana.sobot@example.com", 3)[2] == f"{CONNECTING}\n- End chat"

    # Sobot: the same visitor's session, to the billing group, with the transcript and the message to the agent.
    sobot.wait_for(lambda: ana.state == "queued", what="the transfer to a human group")
    assert ana.group == "g-billing-02"
    [summary] = ana.summaries
    assert "email: ana.sobot@example.com" in summary and "routing: billing" in summary
    assert "User: hello" in summary and f"Bot: {GREETING}" in summary
    assert "Message to the agent:" in summary

    # An agent joins; the agent and the visitor talk in Sobot, files both ways, in one batch too;
    # Sobot's token dies meanwhile. The bot says nothing and Rasa hears none of the visitor's words.
    bot_count = len(sobot.bot_says(ana.uid))
    sobot.push(sobot.session_item(ana, wire.AGENT_JOIN, agent_name="Marta Ruiz", group_name="Billing"))
    sobot.expire_token()
    sobot.push(
        sobot.agent_item(ana, "Marta Ruiz", "Hi Ana, Marta here. Which bill?"),
        sobot.visitor_item(ana, "what are your opening hours"),
        sobot.visitor_item(ana, "https://img.sobot.example/u/bill.png", msg_type="image"),
    )
    sobot.push(sobot.agent_item(ana, "Marta Ruiz", "https://files.sobot.example/a/receipt.pdf", msg_type="file"))
    time.sleep(1.0)
    assert len(sobot.bot_says(ana.uid)) == bot_count
    assert handoff_live(deployment, ana.uid)
    user_texts = [e.get("text") for e in deployment.tracker(sender_for(ana.uid))["events"] if e.get("event") == "user"]
    assert "what are your opening hours" not in user_texts
    assert [who for who, _ in ana.chat][-5:] == ["system", "agent:Marta Ruiz", "visitor", "visitor", "agent:Marta Ruiz"]

    # Rasa heard the agent (joined, two messages) in order, each once: the handoff's clocks run on them.
    def agent_intents() -> list[str]:
        events = deployment.tracker(sender_for(ana.uid))["events"]
        names = [e["parse_data"]["intent"]["name"] for e in events if e.get("event") == "user"]
        return [name for name in names if name.startswith("EXTERNAL_handoff_agent")]

    wait_until(lambda: len(agent_intents()) >= 3, "the agent's events in Rasa")
    assert agent_intents() == [INTENT_AGENT_JOINED, INTENT_AGENT_MESSAGE, INTENT_AGENT_MESSAGE]

    # The agent ends the session in Sobot: the handoff ends, and the bot answers again, once, with a new token.
    sobot.push(sobot.session_item(ana, wire.SESSION_END, agent_name="Marta Ruiz"))
    wait_until(lambda: not handoff_live(deployment, ana.uid), "the handoff to end")
    assert says(sobot, ana, "what are your opening hours", bot_count + 1)[-1] == HOURS
    time.sleep(0.3)
    assert sobot.bot_says(ana.uid).count(HOURS) == 1
    assert len(sobot.tokens_issued) == 2


def test_a_visitor_known_to_sobot_ends_the_chat_with_the_button_and_sobot_is_told(deployment, sobot: FakeSobot):
    bo = sobot.new_visitor(email="bo.sobot@example.com")

    # The email comes from Sobot: straight to the default group.
    assert says(sobot, bo, "I want to talk to a human", 1) == [f"{CONNECTING}\n- End chat"]
    sobot.wait_for(lambda: bo.state == "queued", what="the transfer")
    assert bo.group == "g-support-01"

    # The visitor taps End chat while waiting: the bot hears it, ends the human session in Sobot.
    assert says(sobot, bo, "End chat", 2)[1] == USER_CLOSED
    sobot.wait_for(lambda: sobot.calls_to(wire.END_SESSION_PATH), what="the end of the session in Sobot")
    assert bo.state == "bot"
    wait_until(lambda: not handoff_live(deployment, bo.uid), "the handoff to end")
