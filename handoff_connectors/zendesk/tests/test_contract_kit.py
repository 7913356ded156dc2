"""Zendesk against the connector test kit: the contract suite on the fake app, one test per fixture,
and every fixture held to the spec's event schemas.

The fake holds every request to the Sunshine Conversations description (its
`violations` are the spec errors). An agent's message is the desk's call; the
fixtures give its shape, with the conversation set to the one under test.
"""

from __future__ import annotations

import json

import pytest

from handoff_connectors.testing import ConnectorContract, fixture_cases
from handoff_connectors.zendesk import ZendeskConnector
from handoff_connectors.zendesk.connector import CONVERSATION_KEY

from .conftest import FIXTURES, about, make_fake, settings, webhook
from .fake_sunshine import load_spec, webhook_errors


class TestZendeskContract(ConnectorContract):
    signature_headers = ("x-api-key",)
    signs_body = False  # Sunshine sends the webhook's secret itself, and signs nothing

    def desk(self):
        return make_fake()

    def connector(self, desk, store):
        return ZendeskConnector(settings(base_url=desk.url), store)

    def connector_at(self, url, store, timeout):
        return ZendeskConnector(settings(base_url=url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return webhook(about("agent_message", conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_id = about("agent_message", conversation_id)
        del no_id["events"][0]["id"]
        no_content = about("agent_message", conversation_id)
        del no_content["events"][0]["payload"]["message"]["content"]
        bad_author = about("agent_message", conversation_id)
        bad_author["events"][0]["payload"]["message"]["author"]["type"] = "agent"
        return [
            (webhook({"app": {"id": "x"}}), "events"),
            (webhook(no_id), "events[0].id"),
            (webhook(no_content), "content"),
            (webhook(bad_author), "author.type"),
            (webhook(b"[1, 2"), "JSON"),
        ]

    def desk_requests(self, desk):
        return desk.requests

    def spec_errors(self, desk):
        return list(desk.violations)


# Read in switchboard_bot mode (so the widget's users count too), with the channel
# conversation a live handoff of ours: the events depend on that state, so they are
# named here rather than in files beside the fixtures.
CHANNEL = {"desk_conversation_id": "f52b01137aa6c250bc7251fa"}
WIDGET = {"desk_conversation_id": "6a1f0c3b9e2d4c7a8b5e3f10"}
HANDOFF = "h-fixture-01"
BO = {"email": "bo@example.com", "metadata": {"zendesk": {"conversation_id": WIDGET["desk_conversation_id"], "user_id": "7283cdd6f586679a5fc43cfb"}}}
EXPECTED = {
    "agent_message": [
        {"event": "AgentJoined", **CHANNEL, "event_id": f"{HANDOFF}:joined:Marta Ruiz", "agent_name": "Marta Ruiz"},
        {"event": "AgentMessage", **CHANNEL, "text": "Hi Ana, I'm Marta. I can see your order #7731.", "agent_name": "Marta Ruiz", "attachments": []},
    ],
    "agent_message_no_name": [{"event": "AgentMessage", **CHANNEL, "text": "Your refund is on its way.", "agent_name": None}],
    "agent_image": [
        {"event": "AgentJoined", **CHANNEL, "agent_name": "Marta Ruiz"},
        {"event": "AgentMessage", **CHANNEL, "text": "Click here:", "attachments": ["https://acme.zendesk.example/sc/attachments/where-to-click.png"]},
    ],
    "agent_file": [
        {"event": "AgentJoined", **CHANNEL, "agent_name": "Marta Ruiz"},
        {"event": "AgentMessage", **CHANNEL, "text": "", "attachments": ["https://acme.zendesk.example/sc/attachments/invoice-7731.pdf"]},
    ],
    "agent_carousel": [],
    "agent_typing_start": [{"event": "AgentTyping", **CHANNEL, "agent_name": "Marta Ruiz", "typing": True}],
    "agent_typing_stop": [{"event": "AgentTyping", **CHANNEL, "agent_name": "Marta Ruiz", "typing": False}],
    "agent_read": [{"event": "MessagesRead", **CHANNEL, "agent_name": "Marta Ruiz"}],
    "user_read": [],
    "user_message_echo": [],
    "pass_control_to_agents": [],
    "release_control_ticket_closed": [{"event": "ConversationClosed", **CHANNEL}],
    "pass_control_back_to_bot": [{"event": "ConversationClosed", **CHANNEL}],
    "release_control_ours": [],
    "conversation_removed": [{"event": "ConversationClosed", **CHANNEL}],
    "widget_user_message": [{"event": "UserWroteInDesk", **WIDGET, "text": "Hello, do you ship to Portugal?", "payload": None, **BO}],
    "widget_user_after_release": [{"event": "UserWroteInDesk", **WIDGET, "text": "what are your opening hours"}],
    "widget_user_image": [{"event": "UserWroteInDesk", **WIDGET, "text": "Here is the receipt", "attachments": [
        {"url": "https://acme.zendesk.example/sc/attachments/receipt.jpg", "name": "receipt.jpg", "content_type": "image/jpeg"}
    ]}],
    "widget_user_while_agent": [],
    "widget_end_chat_button": [{"event": "UserWroteInDesk", **WIDGET, "text": "End chat", "payload": "/handoff_end"}],
    "bot_message_echo": [],
    "client_add_ignored": [],
    "batch_message_and_typing": [
        {"event": "AgentTyping", **CHANNEL, "agent_name": "Jonas Weber", "typing": False},
        {"event": "AgentJoined", **CHANNEL, "event_id": f"{HANDOFF}:joined:Jonas Weber", "agent_name": "Jonas Weber"},
        {"event": "AgentMessage", **CHANNEL, "text": "Jonas here, taking over from Marta.", "agent_name": "Jonas Weber"},
    ],
    "other_app": [],
    "malformed_no_events": {"rejected": 400, "naming": "events"},
    "malformed_event_no_id": {"rejected": 400, "naming": "events[0].id"},
    "malformed_no_conversation": {"rejected": 400, "naming": "payload.conversation.id"},
    "malformed_author_type": {"rejected": 400, "naming": "author.type"},
    "malformed_not_json": {"rejected": 400, "naming": "JSON"},
}


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, EXPECTED, pattern="*"))
async def test_each_fixture_reads_as_expected(case, store):
    connector = ZendeskConnector(settings(mode="switchboard_bot", bot_integration="rasa-bot"), store)
    await store.put(CONVERSATION_KEY + CHANNEL["desk_conversation_id"], {"handoff_id": HANDOFF, "user_id": "u1", "desk": False})
    try:
        await case.check(connector, webhook(case.body))
    finally:
        await connector.aclose()


WELL_FORMED = sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith("malformed_") and not p.name.endswith(".events.json"))


@pytest.mark.parametrize("name", WELL_FORMED)
def test_each_fixture_follows_the_spec_event_schemas(name):
    problems = webhook_errors(load_spec(), json.loads((FIXTURES / f"{name}.json").read_bytes()))
    assert problems == [], f"{name}.json is off the spec:\n" + "\n".join(problems)


def test_the_spec_check_catches_an_event_off_its_schema():
    spec = load_spec()
    call = json.loads((FIXTURES / "agent_image.json").read_bytes())
    call["events"][0]["payload"]["message"]["content"]["type"] = "picture"
    call["events"][0]["payload"]["message"]["author"]["type"] = "agent"
    problems = webhook_errors(spec, call)
    assert any("content/type" in p for p in problems) and any("author" in p for p in problems), problems
