"""Intercom to Intercom, end to end: the bot answers inside (fake) Intercom Messenger.

A real Rasa 3.6.21 gets the Messenger user's words through its REST channel
from the real sidecar (`connectors.intercom.mode: messenger`); the bot's
answers are posted into the same Intercom conversation as the bot admin. On
handoff the conversation goes to the team and the bot stays quiet until an
agent closes it.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from handoff_connectors.intercom import WEBHOOK_PATH, sender_for
from handoff_connectors.intercom.tests.fake_intercom import Admin, FakeIntercom

from .harness import Deployment
from .test_intercom import BOT, JONAS, MARTA, SECRET, TEAMS, TOKEN, intercom_settings

pytestmark = pytest.mark.e2e

CONNECTING = "Let's send you to an available agent."


@pytest.fixture(scope="module")
def intercom(deployment: Deployment) -> Iterator[FakeIntercom]:
    fake = FakeIntercom(TOKEN, SECRET, Admin(**vars(BOT)), [Admin(**vars(MARTA)), Admin(**vars(JONAS))], teams=TEAMS)
    with fake:
        settings = intercom_settings(fake, mode="messenger", admin_id=BOT.id)
        with deployment.reconfigured(connector="intercom", connectors={"intercom": settings}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
            fake.drain()  # late notifications reach this sidecar, not the next one
    assert not fake.violations, "requests or answers off Intercom's spec:\n" + "\n".join(fake.violations)
    # Every notification (the people's and the echoes of the bot's own changes) was taken.
    assert fake.webhook_results and all(status == 200 for _, status in fake.webhook_results), [r for r in fake.webhook_results if r[1] != 200]


def bot_says(fake: FakeIntercom, conversation_id: str) -> list[str]:
    """The bot's comments in the conversation, as text."""
    return [p["body"] for p in fake.parts(conversation_id, "comment", author_id=BOT.id)]


def wait_for_bot(fake: FakeIntercom, conversation_id: str, count: int) -> list[str]:
    fake.wait_for(lambda: len(bot_says(fake, conversation_id)) >= count, timeout=30, what=f"{count} bot comment(s)")
    return bot_says(fake, conversation_id)


def loop_ended(deployment: Deployment, sender_id: str) -> bool:
    return not (deployment.tracker(sender_id).get("active_loop") or {}).get("name")


def test_the_bot_answers_hands_over_stays_quiet_and_comes_back(deployment: Deployment, intercom: FakeIntercom):
    marta = intercom.admins[MARTA.id]
    ana = intercom.add_contact("ana.messenger@example.com", name="Ana")

    # The bot answers a new Messenger conversation in Intercom.
    conversation_id, _ = intercom.user_starts(ana, "hello")
    assert wait_for_bot(intercom, conversation_id, 1) == ["<p>Hello! I&#x27;m the demo bot. Ask me about opening hours or your order, or ask for a human.</p>"]
    sender_id = sender_for(conversation_id)
    assert deployment.tracker(sender_id)["latest_input_channel"] == "rest"

    # A person, please: the email is known from Intercom, so the handoff starts at once.
    intercom.user_replies(conversation_id, "I want to talk to a human")
    assert wait_for_bot(intercom, conversation_id, 2)[1] == f"<p>{CONNECTING.replace(chr(39), '&#x27;')}</p>"
    intercom.wait_for(lambda: intercom.parts(conversation_id, "quick_reply"), what="the End chat quick reply")
    [note] = intercom.parts(conversation_id, "note")
    assert "<p><b>User:</b> hello</p>" in note["body"]
    assert "email: ana.messenger@example.com" in note["body"]
    [assignment] = intercom.parts(conversation_id, "assignment")
    assert assignment["author"]["id"] == BOT.id and assignment["assigned_to"] == {"type": "team", "id": TEAMS["support"]}
    # Same conversation: nothing new was opened, no contact created.
    assert intercom.calls_to("POST", "/conversations") == [] and intercom.calls_to("POST", "/contacts") == []

    # The bot is quiet while the agent has it: user words and agent replies go nowhere but Intercom.
    events_before = len(deployment.tracker(sender_id)["events"])
    intercom.user_replies(conversation_id, "what are your opening hours")
    intercom.agent_assigns(conversation_id, by=marta, to=marta)
    intercom.agent_replies(conversation_id, marta, "<p>Hi Ana, <b>Marta</b> here.</p>")
    intercom.agent_snoozes(conversation_id, marta, seconds=600)
    time.sleep(2.0)
    assert len(bot_says(intercom, conversation_id)) == 2
    user_texts = [e.get("text") for e in deployment.tracker(sender_id)["events"][events_before:] if e.get("event") == "user"]
    assert "what are your opening hours" not in user_texts
    assert all(c.body.get("type") != "user" for c in intercom.calls_to("POST", "/conversations/{conversation_id}/reply"))

    # The agent closes in Intercom: the handoff ends in Rasa too.
    intercom.agent_closes(conversation_id, marta)
    deadline = time.monotonic() + 30
    while not loop_ended(deployment, sender_id):
        assert time.monotonic() < deadline, "the handoff loop did not end after the close"
        time.sleep(0.2)
    assert len(bot_says(intercom, conversation_id)) == 2

    # The user writes again in the reopened conversation: it is the bot's again.
    intercom.user_replies(conversation_id, "what are your opening hours")
    assert wait_for_bot(intercom, conversation_id, 3)[2] == "<p>We&#x27;re open Monday to Friday, 9:00 to 18:00.</p>"


def test_the_users_end_chat_button_closes_the_intercom_conversation(deployment: Deployment, intercom: FakeIntercom):
    bo = intercom.add_contact("bo.messenger@example.com", name="Bo")
    conversation_id, _ = intercom.user_starts(bo, "I want to talk to a human")
    wait_for_bot(intercom, conversation_id, 1)
    quick = intercom.wait_for(lambda: intercom.parts(conversation_id, "quick_reply"), what="the End chat quick reply")
    [end] = [o for o in quick[-1]["metadata"]["quick_reply_options"] if o["text"] == "End chat"]

    intercom.user_replies(conversation_id, "End chat", quick_reply_uuid=end["uuid"])

    intercom.wait_for(lambda: intercom.conversations[conversation_id].state == "closed", what="the close")
    assert wait_for_bot(intercom, conversation_id, 2)[1] == (
        "<p>You have ended the chat with the agent. I&#x27;m back if you need anything else.</p>"
    )
    assert loop_ended(deployment, sender_for(conversation_id))
