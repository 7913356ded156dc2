"""The bot inside the desk: a user's message in the desk during a handoff stops the session timeout, as a relayed one does."""

from __future__ import annotations

from typing import ClassVar

import pytest

from handoff_connectors.core.contract import CloseReason, Connector, HostsTheBot, ServiceStatus, UserWroteInDesk
from handoff_connectors.core.desk_bot import BOT_IN
from handoff_connectors.core.handoffs import HandoffService
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.core.timers import SESSION
from handoff_connectors.testing import RecordingServer


class DeskWithTheBot(Connector, HostsTheBot):
    name: ClassVar[str] = "deskbot"
    Settings = None  # type: ignore[assignment]

    async def start(self, request):
        return self.desk_conversation_of(request.sender_id)

    async def send(self, desk_conversation_id, message):
        raise AssertionError("a user of the desk's own chat is never relayed")

    async def close(self, desk_conversation_id, reason):
        pass

    async def check(self):
        return ServiceStatus.AVAILABLE

    async def post_bot_message(self, desk_conversation_id, message):
        pass


@pytest.fixture
def rasa():
    with RecordingServer(lambda request: (200, [{"text": "hello"}])) as server:
        yield server


async def test_a_users_message_in_the_desk_during_a_handoff_stops_the_session_timeout(tmp_path, rasa):
    store = SqliteStore(str(tmp_path / "s.sqlite"))
    connector = DeskWithTheBot()
    service = HandoffService(store, connector, rasa_url=rasa.url)
    sender = connector.bot_sender("conv-7")
    handoff = await service.open(sender, "ana@example.com", "en", (), "a person, please")
    await service.deliver_to_desk("to_desk:" + handoff.handoff_id)
    await service.timers.arm(handoff.handoff_id, sender, SESSION, 180)  # the agent spoke

    await service.accept(UserWroteInDesk("m1", "conv-7", text="thanks, one more thing"))
    await service.desk_bot.to_bot(BOT_IN + "conv-7")

    assert await service.timers.pending(handoff.handoff_id, SESSION) is None
    assert rasa.requests == [], "the bot heard the user while the agent has the conversation"
    assert await store.items(BOT_IN + "conv-7") == []

    # Once the handoff is over the user's words go to the bot again.
    await service.finish(await service.active(sender), CloseReason.USER_CLOSED)
    await service.accept(UserWroteInDesk("m2", "conv-7", text="hi again"))
    await service.desk_bot.to_bot(BOT_IN + "conv-7")
    assert [r.json()["message"] for r in rasa.requests] == ["hi again"]
    await service.aclose()
    await store.close()
