"""The local desk: what a handoff puts in the agent inbox, and what agents do there becomes desk events.

Every test runs on sqlite and on Redis (`store_factory`): the action server,
the sidecar and the inbox page share the desk through the store.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from handoff_connectors.core.contract import (
    AgentJoined,
    AgentMessage,
    Attachment,
    CloseReason,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    DeskEvent,
    HandoffRequest,
    ServiceStatus,
    UserMessage,
)
from handoff_connectors.local import LocalConnector
from handoff_connectors.local.inbox import Inbox
from handoff_connectors.local.settings import LocalConnectorSettings
from handoff_connectors.testing import a_request as kit_request

TOKEN = "inbox-token-5be1d0"


def a_request() -> HandoffRequest:
    """The kit's request, with what the inbox shows besides the transcript."""
    return replace(kit_request("h-1"), routing="billing", message_to_agent="Premium customer")


@pytest.fixture
def local(store_factory) -> LocalConnector:
    settings = LocalConnectorSettings(token=TOKEN)
    return LocalConnector.from_settings(settings, ConnectorContext(store=store_factory()))


@pytest.fixture
def seen_by_another_process(store_factory) -> LocalConnector:
    """The same desk as another process (the sidecar serving the inbox) opens it."""
    return LocalConnector(LocalConnectorSettings(token=TOKEN), store_factory())


class Accepted:
    """The sidecar's queue, as far as the inbox can tell: every event it was handed."""

    def __init__(self) -> None:
        self.events: list[DeskEvent] = []

    async def __call__(self, event: DeskEvent) -> bool:
        self.events.append(event)
        return True


# -- the handoff in the inbox ------------------------------------------------------


async def test_a_handoff_waits_in_the_inbox_with_what_the_agent_needs(
    local: LocalConnector, seen_by_another_process: LocalConnector
) -> None:
    desk_id = await local.start(a_request())

    assert desk_id == "h-1"
    conversation = await seen_by_another_process.desk.conversation(desk_id)
    assert conversation["status"] == "waiting"
    assert conversation["agent"] is None
    assert conversation["email"] == "ana@example.com"
    assert conversation["routing"] == "billing"
    assert conversation["message_to_agent"] == "Premium customer"
    assert conversation["latest_question"] == "I want to talk to a human"
    assert conversation["transcript"] == [
        {"speaker": "user", "text": "where is my order"},
        {"speaker": "bot", "text": "Orders ship within two days."},
    ]
    assert [c["id"] for c in await seen_by_another_process.desk.conversations()] == ["h-1"]


async def test_user_files_show_in_the_inbox_as_links_after_the_text(local: LocalConnector) -> None:
    await local.start(a_request())
    files = (
        Attachment("https://files.example.com/receipt.pdf", "receipt.pdf", "application/pdf"),
        Attachment("https://files.example.com/box.jpg"),
    )

    await local.send("h-1", UserMessage("m-1", "Here is the receipt", 10.0, attachments=files))
    await local.send("h-1", UserMessage("m-2", "", 11.0, attachments=files[1:]))

    messages = (await local.desk.conversation("h-1"))["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [
        ("user", "Here is the receipt\nhttps://files.example.com/receipt.pdf\nhttps://files.example.com/box.jpg"),
        ("user", "https://files.example.com/box.jpg"),
    ]


async def test_a_user_message_delivered_twice_shows_once(local: LocalConnector) -> None:
    await local.start(a_request())

    await local.send("h-1", UserMessage("m-1", "still there?", 10.0))
    await local.send("h-1", UserMessage("m-1", "still there?", 10.0))

    assert [m["text"] for m in (await local.desk.conversation("h-1"))["messages"]] == ["still there?"]


@pytest.mark.parametrize("closed_first", [True, False], ids=["closed", "never opened"])
async def test_a_message_for_a_conversation_the_inbox_cannot_take_is_refused_for_good(
    local: LocalConnector, closed_first: bool
) -> None:
    if closed_first:
        await local.start(a_request())
        await local.close("h-1", CloseReason.TIMEOUT)

    with pytest.raises(DeskError) as caught:
        await local.send("h-1", UserMessage("m-1", "hello?", 10.0))

    assert caught.value.retryable is False


async def test_closing_tells_the_agent_why_and_closes_the_conversation(local: LocalConnector) -> None:
    await local.start(a_request())

    await local.close("h-1", CloseReason.USER_CLOSED)

    conversation = await local.desk.conversation("h-1")
    assert conversation["status"] == "closed"
    assert conversation["closed_at"] is not None
    assert [(m["from"], m["text"]) for m in conversation["messages"]] == [("system", "closed: user_closed")]


async def test_closing_a_conversation_the_inbox_never_had_is_refused_for_good(local: LocalConnector) -> None:
    with pytest.raises(DeskError) as caught:
        await local.close("nowhere", CloseReason.TIMEOUT)
    assert caught.value.retryable is False


# -- availability -------------------------------------------------------------------


async def test_before_any_agent_opened_the_inbox_availability_is_unknown(local: LocalConnector) -> None:
    assert await local.agents_available("billing") is None


async def test_agents_are_available_while_one_of_them_is(
    local: LocalConnector, seen_by_another_process: LocalConnector
) -> None:
    await seen_by_another_process.desk.set_presence("Marta", True)
    await seen_by_another_process.desk.set_presence("Luis", False)
    assert await local.agents_available(None) is True

    await seen_by_another_process.desk.set_presence("Marta", False)
    assert await local.agents_available(None) is False


def test_availability_is_read_from_the_store_so_the_actions_ask_directly() -> None:
    assert LocalConnector.answers_from_store is True


async def test_check_is_available_and_warns_when_the_inbox_has_no_token(store_factory, caplog) -> None:
    without_token = LocalConnector(LocalConnectorSettings(), store_factory())
    with caplog.at_level(logging.WARNING, logger="handoff_connectors.local.connector"):
        assert await without_token.check() is ServiceStatus.AVAILABLE
    assert "connectors.local.token is not set" in caplog.text


# -- what agents do in the inbox -----------------------------------------------------


@pytest.fixture
def received() -> Accepted:
    return Accepted()


@pytest.fixture
async def inbox(local: LocalConnector, received: Accepted) -> Inbox:
    await local.start(a_request())
    return Inbox(local.desk, TOKEN, received)


async def test_an_agent_joining_takes_the_conversation_and_the_user_is_told(inbox: Inbox, received: Accepted) -> None:
    status, conversation = await inbox.join("h-1", "Marta")

    assert status == 200
    assert (conversation["status"], conversation["agent"]) == ("active", "Marta")
    assert received.events == [AgentJoined(event_id="join:h-1", desk_conversation_id="h-1", agent_name="Marta")]


async def test_a_conversation_taken_by_one_agent_is_refused_to_another(inbox: Inbox, received: Accepted) -> None:
    await inbox.join("h-1", "Marta")

    assert (await inbox.join("h-1", "Luis"))[0] == 409
    assert (await inbox.close("h-1", "Luis"))[0] == 409
    assert len(received.events) == 1


async def test_joining_again_tells_the_user_once(inbox: Inbox, received: Accepted) -> None:
    await inbox.join("h-1", "Marta")
    status, _ = await inbox.join("h-1", "Marta")
    assert status == 200
    assert len(received.events) == 1


async def test_a_reply_needs_the_agent_to_have_joined(inbox: Inbox, received: Accepted) -> None:
    status, _ = await inbox.reply("h-1", "Marta", "Hello!", "r-1")
    assert status == 409
    assert received.events == []


async def test_a_reply_goes_to_the_user_and_stays_in_the_inbox(inbox: Inbox, received: Accepted) -> None:
    await inbox.join("h-1", "Marta")

    status, body = await inbox.reply("h-1", "Marta", "Hello Ana, I'm on it.", "r-1")

    assert (status, body) == (200, {"id": "r-1"})
    assert received.events[-1] == AgentMessage(
        event_id="r-1", desk_conversation_id="h-1", text="Hello Ana, I'm on it.", agent_name="Marta"
    )
    messages = (await inbox.desk.conversation("h-1"))["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [("agent", "Hello Ana, I'm on it.")]


async def test_an_agent_closing_ends_the_handoff_once(inbox: Inbox, received: Accepted) -> None:
    await inbox.join("h-1", "Marta")

    first = await inbox.close("h-1", "Marta")
    again = await inbox.close("h-1", "Marta")

    assert first[0] == again[0] == 200
    assert first[1]["status"] == "closed"
    closes = [e for e in received.events if isinstance(e, ConversationClosed)]
    assert closes == [ConversationClosed(event_id="close:h-1", desk_conversation_id="h-1")]
    assert (await inbox.join("h-1", "Marta"))[0] == 409


async def test_actions_on_a_conversation_the_inbox_never_had_are_404(inbox: Inbox, received: Accepted) -> None:
    assert (await inbox.join("nope", "Marta"))[0] == 404
    assert (await inbox.reply("nope", "Marta", "hi", "r"))[0] == 404
    assert (await inbox.close("nope", "Marta"))[0] == 404
    assert received.events == []
