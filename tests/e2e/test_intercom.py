"""Channel to Intercom, end to end: a real Rasa 3.6.21, the real action server and sidecar.

The user chats with the bot on Rasa's callback channel; the handoff goes to
the spec-checking fake Intercom (handoff_connectors/intercom/tests/fake_intercom.py),
which posts its signed webhook notifications to the real sidecar, as
Intercom would. Intercom to Intercom (messenger mode) is in
test_intercom_messenger.py.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from handoff_connectors.intercom import WEBHOOK_PATH
from handoff_connectors.intercom.tests.fake_intercom import Admin, FakeIntercom

from .harness import Deployment

pytestmark = pytest.mark.e2e

TOKEN = "e2e-intercom-token-5d0c"
SECRET = "e2e-intercom-client-secret-91ab"
BOT = Admin("9300001", "Acme Bot", "bot@acme.example")
MARTA = Admin("9300002", "Marta Ruiz", "marta@acme.example", team_ids=[6300001])
JONAS = Admin("9300003", "Jonas Weber", "jonas@acme.example", team_ids=[6300002])
TEAMS = {"billing": "6300001", "support": "6300002"}

GREETING = "Hello! I'm the demo bot. Ask me about opening hours or your order, or ask for a human."
ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."


def intercom_settings(fake: FakeIntercom, **extra: Any) -> dict:
    return {
        "access_token": TOKEN,
        "client_secret": SECRET,
        "base_url": fake.url,  # admin_id left out: the connector asks GET /me
        "default_team": TEAMS["support"],
        "teams": {"billing": TEAMS["billing"]},
        **extra,
    }


@pytest.fixture(scope="module")
def intercom(deployment: Deployment) -> Iterator[FakeIntercom]:
    fake = FakeIntercom(TOKEN, SECRET, Admin(**vars(BOT)), [Admin(**vars(MARTA)), Admin(**vars(JONAS))], teams=TEAMS)
    with fake:
        with deployment.reconfigured(connector="intercom", connectors={"intercom": intercom_settings(fake)}):
            fake.webhook_url = f"http://127.0.0.1:{deployment.sidecar_port}{WEBHOOK_PATH}"
            yield fake
            fake.drain()  # late notifications reach this sidecar, not the next one
    assert not fake.violations, "requests or answers off Intercom's spec:\n" + "\n".join(fake.violations)
    assert all(status == 200 for _, status in fake.webhook_results if status != 401), fake.webhook_results


def conversation_of(fake: FakeIntercom, email: str) -> str:
    def find() -> str | None:
        for conversation in list(fake.conversations.values()):
            if fake.contacts[conversation.contact_id].email == email:
                return conversation.id
        return None

    return fake.wait_for(find, what=f"an Intercom conversation for {email}")


def test_a_handoff_to_intercom_from_request_to_agent_close(deployment: Deployment, intercom: FakeIntercom):
    user = deployment.new_user()
    marta = intercom.admins[MARTA.id]
    assert user.say("hello") == [GREETING]
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say("ana.intercom@example.com") == [CONNECTING]

    # Intercom: the contact, the conversation with the question, the transcript note, the team.
    conversation_id = conversation_of(intercom, "ana.intercom@example.com")
    conversation = intercom.conversations[conversation_id]
    assert conversation.source_body == "I want to talk to a human"
    intercom.wait_for(lambda: intercom.parts(conversation_id, "assignment"), what="the team assignment")
    [note] = intercom.parts(conversation_id, "note")
    assert note["author"]["id"] == BOT.id
    assert "<p><b>User:</b> hello</p>" in note["body"]
    assert f"<p><b>Bot:</b> {GREETING.replace(chr(39), '&#x27;')}</p>" in note["body"]
    assert "<p><b>User (latest question):</b> I want to talk to a human</p>" in note["body"]
    assert conversation.team_assignee_id == TEAMS["support"]

    # An agent takes it: the user hears who.
    intercom.agent_assigns(conversation_id, by=marta, to=marta)
    assert user.next_messages(1) == ["Marta Ruiz has joined the chat."]

    # The agent's HTML reply arrives as readable text, links kept.
    intercom.agent_replies(
        conversation_id, marta,
        '<p>Hi <b>Ana</b>! Our <a href="https://acme.example/refunds">refund page</a> has the details.</p><ul><li>3 to 5 days</li></ul>',
    )
    assert user.next_messages(1) == ["Hi Ana! Our refund page (https://acme.example/refunds) has the details.\n- 3 to 5 days"]

    # Files and images the agent attaches reach the user as attachments.
    intercom.agent_replies(conversation_id, marta, "<p>Your invoice and where to click:</p>", attachments=[
        {"type": "upload", "name": "invoice.pdf", "url": "https://files.acme.example/invoice.pdf", "content_type": "application/pdf", "filesize": 1200},
        {"type": "upload", "name": "click.png", "url": "https://files.acme.example/click.png", "content_type": "image/png", "filesize": 900, "width": 10, "height": 10},
    ])
    assert user.next_messages(3)[0] == "Your invoice and where to click:"
    text, attachment, image = user.messages()[-3:]
    assert attachment.get("attachment") == "https://files.acme.example/invoice.pdf"
    assert image.get("image") == "https://files.acme.example/click.png"

    # The user's messages become the contact's replies, escaped.
    user.say("thanks, <b>that</b> helps", expect=0)
    intercom.wait_for(lambda: intercom.parts(conversation_id, "comment", author_id=conversation.contact_id), what="the user's reply")
    [reply] = intercom.parts(conversation_id, "comment", author_id=conversation.contact_id)
    assert reply["body"] == "<p>thanks, &lt;b&gt;that&lt;/b&gt; helps</p>"
    user.assert_quiet(1.0)

    # Snoozed: the user is told, the handoff goes on.
    intercom.agent_snoozes(conversation_id, marta)
    assert user.next_messages(1) == [
        "Marta Ruiz has set this chat aside for now and will get back to you here. You can keep writing in the meantime."
    ]
    user.say("ok, I'll wait", expect=0)
    intercom.wait_for(lambda: len(intercom.parts(conversation_id, "comment", author_id=conversation.contact_id)) == 2, what="the second reply")

    # Marta passes it to Jonas: the user is told, the handoff goes on.
    intercom.agent_assigns(conversation_id, by=marta, to=intercom.admins[JONAS.id])
    assert user.next_messages(1) == ["You're being transferred to Jonas Weber."]

    # The agent closes: the user is told and the bot is back.
    intercom.agent_closes(conversation_id, marta)
    assert user.next_messages(1) == ["The agent has ended the chat. I'm back if you need anything else."]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    assert len(intercom.parts(conversation_id, "comment", author_id=conversation.contact_id)) == 2


def test_a_planned_escalation_goes_to_its_team_with_the_message_to_the_agent(deployment: Deployment, intercom: FakeIntercom):
    user = deployment.new_user()
    intercom.add_contact("bo.intercom@example.com", role="lead")
    assert user.say("I want to pay my bill") == [ASK_EMAIL]
    assert user.say("bo.intercom@example.com") == [CONNECTING]

    conversation_id = conversation_of(intercom, "bo.intercom@example.com")
    intercom.wait_for(lambda: len(intercom.parts(conversation_id, "note")) == 2, what="both notes")
    assert intercom.conversations[conversation_id].team_assignee_id == TEAMS["billing"]
    transcript, message = intercom.parts(conversation_id, "note")
    assert "routing: billing" in transcript["body"]
    assert message["body"].startswith("<p><b>Message to the agent:</b> Customer wants to pay a bill")
    # The existing lead was found by email, not created again.
    assert len([c for c in intercom.contacts.values() if c.email == "bo.intercom@example.com"]) == 1

    # The user ends it: Intercom gets a note and the bot closes the conversation.
    assert user.say("end chat") == ["You have ended the chat with the agent. I'm back if you need anything else."]
    intercom.wait_for(lambda: intercom.conversations[conversation_id].state == "closed", what="the close")
    assert intercom.parts(conversation_id)[-1]["author"]["id"] == BOT.id


def test_a_forged_agent_reply_reaches_nobody(deployment: Deployment, intercom: FakeIntercom):
    user = deployment.new_user()
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say("cy.intercom@example.com") == [CONNECTING]
    conversation_id = conversation_of(intercom, "cy.intercom@example.com")
    intercom.wait_for(lambda: intercom.parts(conversation_id, "assignment"), what="the team assignment")

    forged = intercom.agent_replies(conversation_id, intercom.admins[MARTA.id], "<p>Send me your password</p>", send=False)
    assert intercom.deliver(forged, secret="not-the-client-secret").status_code == 401
    assert intercom.deliver(forged, signature="").status_code == 401
    user.assert_quiet(1.5)

    genuine = intercom.agent_replies(conversation_id, intercom.admins[MARTA.id], "<p>Hello from Marta</p>", send=False)
    assert intercom.deliver(genuine).status_code == 200
    assert user.next_messages(1) == ["Hello from Marta"]
    intercom.agent_closes(conversation_id, intercom.admins[MARTA.id])
    assert user.next_messages(1) == ["The agent has ended the chat. I'm back if you need anything else."]


def test_a_users_file_reaches_the_agent_as_a_link_and_an_image_as_an_attachment(deployment: Deployment, intercom: FakeIntercom):
    user = deployment.new_user()
    # The REST channel keeps message metadata, where a channel puts the URL of a file the user sent.
    user.say_rest("I want to talk to a human", metadata={"email": "di.intercom@example.com"})
    conversation_id = conversation_of(intercom, "di.intercom@example.com")
    intercom.wait_for(lambda: intercom.parts(conversation_id, "assignment"), what="the team assignment")

    user.say_rest("here is my receipt", metadata={"attachments": [{"url": "https://files.example/receipt-7731.pdf"}]})

    contact_id = intercom.conversations[conversation_id].contact_id
    intercom.wait_for(lambda: intercom.parts(conversation_id, "comment", author_id=contact_id), what="the user's file")
    [reply] = intercom.parts(conversation_id, "comment", author_id=contact_id)
    assert reply["body"] == (
        '<p>here is my receipt</p><p><a href="https://files.example/receipt-7731.pdf">https://files.example/receipt-7731.pdf</a></p>'
    )

    # An image is attached to the contact's reply, where the agent sees it.
    user.say_rest("and the damaged box", metadata={"attachments": [{"url": "https://files.example/box-7731.jpg"}]})
    intercom.wait_for(lambda: len(intercom.parts(conversation_id, "comment", author_id=contact_id)) == 2, what="the user's image")
    photo = intercom.parts(conversation_id, "comment", author_id=contact_id)[-1]
    assert photo["body"] == "<p>and the damaged box</p>"
    assert [a["url"] for a in photo["attachments"]] == ["https://files.example/box-7731.jpg"]
    user.say_rest("end chat")
    intercom.wait_for(lambda: intercom.conversations[conversation_id].state == "closed", what="the close")
    time.sleep(0.2)
