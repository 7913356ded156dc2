"""Messenger mode on the core's bot-inside-the-desk: Intercom user messages to Rasa's REST channel and the bot's answers back.

Rasa's REST channel is a local recording server here (the real one is in
tests/e2e/test_intercom_messenger.py); Intercom is the spec-checking fake.
Notifications go through `parse_webhook` and `HandoffService.accept`, as the
sidecar takes them; the core's pump drains the bot's queues.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from handoff_connectors.core.config import parse_config
from handoff_connectors.core.handoffs import BOT_IN, BOT_OUT, TO_DESK, HandoffService
from handoff_connectors.core.pump import Pump
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.intercom import IntercomConnector, sender_for
from tests.support.http_recorder import Recorded, RecordingServer

from .conftest import BOT, CLIENT_SECRET, TOKEN, signed
from .fake_intercom import FakeIntercom


class Bot:
    """Rasa's REST channel: answers each message with the replies `answer` gives."""

    def __init__(self) -> None:
        self.failing: list[int] = []
        self.answered: list[dict] = []
        self.server = RecordingServer(self._handle)

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if self.failing:
            return self.failing.pop(0), {"error": "down"}
        message = request.json()["message"]
        self.answered.append(request.json())
        if message == "/handoff_end":
            return 200, [{"recipient_id": request.json()["sender"], "text": "You have ended the chat with the agent."}]
        return 200, [
            {"recipient_id": request.json()["sender"], "text": f"You said: {message}"},
            {"recipient_id": request.json()["sender"], "text": "Anything else?", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]},
        ]

    def messages(self) -> list[dict]:
        """The messages the bot took (not the ones refused while it was down)."""
        return list(self.answered)


@pytest.fixture
def bot() -> AsyncIterator[Bot]:
    made = Bot()
    with made.server:
        yield made


@pytest.fixture
async def wired(fake: FakeIntercom, store: SqliteStore, bot: Bot, tmp_path) -> AsyncIterator[tuple[IntercomConnector, HandoffService]]:
    config = parse_config({
        "connector": "intercom",
        "rasa": {"url": bot.server.url},
        "store": {"path": str(tmp_path / "handoff.sqlite")},
        "sidecar": {"poll_interval": 0.05, "max_retry_delay": 0.2},
        "connectors": {"intercom": {
            "mode": "messenger", "access_token": TOKEN, "client_secret": CLIENT_SECRET, "admin_id": BOT.id,
            "base_url": fake.url, "teams": {"billing": "6100007"},
        }},
    })
    connector = IntercomConnector(config.connectors.intercom, store)
    service = HandoffService(store, connector, rasa_url=config.rasa.url, rasa_timeout=config.rasa.timeout)
    # The sidecar's pump over the bot's two queues; the tests move the desk outbox themselves.
    pump = Pump(
        store,
        [(prefix, drain) for prefix, drain in service.queues() if prefix in (BOT_IN, BOT_OUT)],
        config.sidecar.poll_interval,
        config.sidecar.max_retry_delay,
    )
    pump.start()
    yield connector, service
    await pump.stop()
    await service.aclose()
    await connector.aclose()


async def sidecar_takes(service: HandoffService, request) -> None:
    """What the sidecar does with a notification: read it, queue its events."""
    for event in (await service.connector.parse_webhook(request)).events:
        await service.accept(event)


async def until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def bot_parts(fake: FakeIntercom, conversation_id: str) -> list[dict]:
    return [p for p in fake.parts(conversation_id, author_id=BOT.id) if p["part_type"] in ("comment", "quick_reply")]


async def test_a_new_messenger_conversation_is_answered_by_the_bot(wired, fake: FakeIntercom, bot: Bot) -> None:
    _, service = wired
    contact = fake.add_contact("ana@example.com", name="Ana")
    conversation_id, notification = fake.user_starts(contact, "hello there", send=False)

    await sidecar_takes(service, signed(notification))
    await until(lambda: len(bot_parts(fake, conversation_id)) == 3)

    [sent] = bot.messages()
    assert sent["sender"] == sender_for(conversation_id) == f"intercom-{conversation_id}"
    assert sent["message"] == "hello there"
    assert sent["metadata"]["email"] == "ana@example.com"
    assert sent["metadata"]["intercom"] == {"conversation_id": conversation_id, "contact_id": contact.id}
    said, asked, options = bot_parts(fake, conversation_id)
    assert said["body"] == "<p>You said: hello there</p>"
    assert asked["body"] == "<p>Anything else?</p>"
    assert [o["text"] for o in options["metadata"]["quick_reply_options"]] == ["End chat"]


async def test_a_redelivered_notification_is_answered_once(wired, fake: FakeIntercom, bot: Bot) -> None:
    _, service = wired
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hi", send=False)
    notification = fake.user_replies(conversation_id, "what are your hours?", send=False)

    for _ in range(2):
        await sidecar_takes(service, signed(notification))
    await until(lambda: len(bot_parts(fake, conversation_id)) == 3)
    await asyncio.sleep(0.3)

    assert [m["message"] for m in bot.messages()] == ["what are your hours?"]


async def test_during_a_handoff_the_bot_stays_quiet_but_its_own_end_button_works(
    wired, fake: FakeIntercom, bot: Bot, store: SqliteStore
) -> None:
    connector, service = wired
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hi", send=False)
    await connector.post_bot_message(conversation_id, {"text": "Connecting you.", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]})
    end_uuid = fake.parts(conversation_id, "quick_reply")[-1]["metadata"]["quick_reply_options"][0]["uuid"]
    await service.open(sender_for(conversation_id), "ana@example.com", "en", [], "a human please", routing="billing")
    posted = len(bot_parts(fake, conversation_id))

    await sidecar_takes(service, signed(fake.user_replies(conversation_id, "hello? anyone?", send=False)))
    await asyncio.sleep(0.5)
    assert bot.messages() == []
    assert len(bot_parts(fake, conversation_id)) == posted

    await sidecar_takes(service, signed(fake.user_replies(conversation_id, "End chat", quick_reply_uuid=end_uuid, send=False)))
    await until(lambda: bot.messages())
    assert [m["message"] for m in bot.messages()] == ["/handoff_end"]
    await until(lambda: len(bot_parts(fake, conversation_id)) == posted + 1)


async def test_after_the_handoff_the_bot_answers_again(wired, fake: FakeIntercom, bot: Bot) -> None:
    _, service = wired
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hi", send=False)
    handoff = await service.open(sender_for(conversation_id), "ana@example.com", "en", [], "a human please")
    await service.deliver_to_desk(TO_DESK + handoff.handoff_id)  # what the sidecar's pump does

    await sidecar_takes(service, signed(fake.agent_closes(conversation_id, fake.admins["8100002"], send=False)))
    await sidecar_takes(service, signed(fake.user_replies(conversation_id, "one more question", send=False)))

    await until(lambda: bot.messages())
    assert [m["message"] for m in bot.messages()] == ["one more question"]


async def test_rasa_down_delays_the_message_and_intercom_down_never_asks_rasa_twice(
    wired, fake: FakeIntercom, bot: Bot
) -> None:
    _, service = wired
    contact = fake.add_contact("ana@example.com")
    conversation_id, _ = fake.user_starts(contact, "hi", send=False)
    bot.failing = [503, 503]
    fake.fail("POST", rf"^/conversations/{conversation_id}/reply$", 503, times=2)

    await sidecar_takes(service, signed(fake.user_replies(conversation_id, "are you there?", send=False)))

    await until(lambda: len(bot_parts(fake, conversation_id)) == 3, timeout=15)
    assert [m["message"] for m in bot.messages()] == ["are you there?"]
    assert len(bot.server.matching("/webhooks/rest/webhook")) == 3  # two refusals, then once
    assert [p["body"] for p in bot_parts(fake, conversation_id)][:2] == ["<p>You said: are you there?</p>", "<p>Anything else?</p>"]
