"""The events a desk may send besides messages, shown to a user of a real Rasa 3.6.21.

Queue position, a transfer, the agent typing, a failed routing and a user's
file: what a desk's connector reports reaches the user through the real
sidecar, action server and Rasa. The events are queued by a HandoffService
on the deployment's own store, exactly as a connector's webhook would have
them queued; the running sidecar delivers them.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from handoff_connectors.core.config import load_config
from handoff_connectors.core.contract import AgentTyping, DeskEvent, QueuePosition, RoutingFailed, Transferred
from handoff_connectors.core.store import open_store
from handoff_connectors.registry import create_service

from .harness import Deployment, User
from .test_conversations import connect

pytestmark = pytest.mark.e2e


def report(deployment: Deployment, *events: DeskEvent) -> None:
    """What a connector does with what its desk said: queue each event for its handoff."""

    async def accept() -> None:
        config = load_config(str(deployment.config_path))
        service = create_service(config, open_store(config.store))
        try:
            for event in events:
                assert await service.accept(event), f"no live handoff owns {event}"
        finally:
            await service.connector.aclose()
            await service.store.close()

    asyncio.run(accept())


def test_queue_position_transfer_and_typing_are_shown_and_the_handoff_goes_on(deployment: Deployment, user: User):
    conversation = connect(user)
    report(
        deployment,
        QueuePosition(uuid.uuid4().hex, conversation, position=3, wait_seconds=240),
        Transferred(uuid.uuid4().hex, conversation, to_queue="Billing"),
        AgentTyping(uuid.uuid4().hex, conversation, agent_name="Sam"),
    )
    assert user.next_messages(2) == [
        "You are number 3 in the queue; the expected wait is about 4 min.",
        "You're being transferred to Billing. Please stay in the chat.",
    ]
    user.next_messages(1)
    assert user.messages()[-1]["custom"] == {"handoff": {"agent": "Sam", "event": "typing", "typing": True}}

    # Still connected: the user's next message goes to the agent.
    user.say("thanks, I'll wait", expect=0)
    chats = deployment.desk.wait_for("/chat", count=1)
    assert "thanks, I'll wait" in [c["body"] for c in chats if c["conversation_id"] == conversation]


def test_a_failed_routing_gives_the_offline_message_and_the_bot_is_back(deployment: Deployment, user: User):
    conversation = connect(user)
    report(deployment, RoutingFailed(uuid.uuid4().hex, conversation, reason="missed chat"))
    assert user.next_messages(1) == [
        "There are no agents available at this time. When one becomes available, we'll connect you."
    ]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]


def test_a_users_file_reaches_a_desk_without_files_as_a_link(deployment: Deployment, user: User):
    conversation = connect(user)
    metadata = {"attachments": [{"url": "https://files.example/receipt.pdf", "name": "receipt.pdf", "type": "application/pdf"}]}
    user.say_rest("here is my receipt", metadata=metadata)
    chats = deployment.desk.wait_for("/chat", count=1)
    mine = [c["body"] for c in chats if c["conversation_id"] == conversation]
    assert mine[-1] == "here is my receipt\nhttps://files.example/receipt.pdf"
