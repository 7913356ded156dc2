"""Intercom against the connector test kit: the contract suite on the fake workspace, and one test per fixture.

The fake holds every request to Intercom's OpenAPI description (its
`violations` are the spec errors). A notification about an agent's reply
is the desk's call; the fixtures give its shape, with the conversation's id
set to the one under test.
"""

from __future__ import annotations

import json

import pytest

from handoff_connectors.intercom import WEBHOOK_PATH, IntercomConnector
from handoff_connectors.intercom.connector import CONVERSATION_KEY
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases

from .conftest import BOT, CLIENT_SECRET, FIXTURE_CONVERSATION, FIXTURE_MESSENGER_CONVERSATION, FIXTURES, JONAS, MARTA, TEAM_BILLING, TEAM_SUPPORT, TOKEN, settings
from .fake_intercom import Admin, FakeIntercom, sign


def notification(name: str, conversation_id: str | None = None, **changes) -> dict:
    """A fixture notification, about `conversation_id` when given."""
    payload = json.loads((FIXTURES / f"{name}.json").read_bytes())
    if conversation_id is not None:
        payload["data"]["item"]["id"] = conversation_id
    payload.update(changes)
    return payload


def signed(payload: dict | bytes):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return desk_call(WEBHOOK_PATH, raw, {"x-hub-signature": sign(CLIENT_SECRET, raw)})


class TestIntercomContract(ConnectorContract):
    signature_headers = ("x-hub-signature",)
    signs_body = True

    def desk(self):
        return FakeIntercom(
            TOKEN, CLIENT_SECRET, Admin(BOT.id, BOT.name, BOT.email),
            [Admin(**vars(MARTA)), Admin(**vars(JONAS))],
            teams={"billing": TEAM_BILLING, "support": TEAM_SUPPORT},
        )

    def connector(self, desk, store):
        return IntercomConnector(settings(base_url=desk.url), store)

    def connector_at(self, url, store, timeout):
        return IntercomConnector(settings(base_url=url, timeout=timeout), store)

    def agent_message(self, desk, conversation_id):
        return signed(notification("admin_replied", conversation_id))

    def malformed_calls(self, desk, conversation_id):
        no_topic = notification("admin_replied", conversation_id)
        del no_topic["topic"]
        parts_text = notification("admin_replied", conversation_id)
        parts_text["data"]["item"]["conversation_parts"] = "none"
        return [
            (signed(no_topic), "topic"),
            (signed(notification("admin_replied", conversation_id, id=None)), "id"),
            (signed(notification("admin_replied", conversation_id, data={"item": []})), "data.item"),
            (signed(parts_text), "conversation_parts"),
        ]

    def desk_requests(self, desk):
        return desk.calls

    def spec_errors(self, desk):
        return list(desk.violations)


# Each fixture's events, read in messenger mode (so the user topics count too)
# with FIXTURE_CONVERSATION a live handoff of ours: they depend on that state,
# so they are named here rather than in files beside the fixtures.
HANDED_OFF = {"desk_conversation_id": FIXTURE_CONVERSATION}
IN_MESSENGER = {"desk_conversation_id": FIXTURE_MESSENGER_CONVERSATION, "email": "ana@example.com"}
EXPECTED = {
    "admin_assigned": [{"event": "AgentJoined", **HANDED_OFF, "agent_name": "Marta Ruiz"}],
    "admin_assigned_team_by_bot": [],
    "admin_assigned_team_transfer": [{"event": "Transferred", **HANDED_OFF}],
    "admin_assigned_transfer": [{"event": "Transferred", **HANDED_OFF, "to_agent": "Jonas Weber"}],
    "admin_closed": [{"event": "ConversationClosed", **HANDED_OFF}],
    "admin_closed_by_bot": [],
    "admin_noted": [],
    "admin_replied": [{"event": "AgentMessage", **HANDED_OFF, "agent_name": "Marta Ruiz", "attachments": []}],
    "admin_replied_by_bot": [],
    "admin_replied_image_only": [
        {"event": "AgentMessage", **HANDED_OFF, "text": "", "attachments": ["https://downloads.intercomcdn.example/i/o/9913/where-to-click.png"]}
    ],
    "admin_replied_with_attachments": [
        {"event": "AgentMessage", **HANDED_OFF, "text": "Here is your corrected invoice and a screenshot.", "attachments": [
            "https://downloads.intercomcdn.example/i/o/9912/invoice-7731.pdf",
            "https://downloads.intercomcdn.example/i/o/9911/marked-up.png",
        ]}
    ],
    "admin_snoozed": [{"event": "AgentSnoozed", **HANDED_OFF, "agent_name": "Marta Ruiz"}],
    "conversation_read": [],
    "ping": [],
    "user_created": [{"event": "UserWroteInDesk", **IN_MESSENGER, "text": "Hello, do you ship to Portugal?"}],
    "user_replied": [{"event": "UserWroteInDesk", **IN_MESSENGER, "text": "I want to talk to a human & fast"}],
    "user_replied_quick_reply": [{"event": "UserWroteInDesk", **IN_MESSENGER, "text": "End chat"}],
    "user_replied_with_file": [
        {"event": "UserWroteInDesk", **IN_MESSENGER, "text": "Here is the receipt", "attachments": [
            {"url": "https://downloads.intercomcdn.example/i/o/9920/receipt.jpg", "name": "receipt.jpg", "content_type": "image/jpeg"}
        ]}
    ],
    "malformed_no_topic": {"rejected": 400, "naming": "topic"},
    "malformed_no_id": {"rejected": 400, "naming": "id"},
    "malformed_no_item": {"rejected": 400, "naming": "data.item"},
    "malformed_not_json": {"rejected": 400, "naming": "JSON"},
}


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, EXPECTED, pattern="*"))
async def test_each_fixture_reads_as_expected(case, store):
    connector = IntercomConnector(settings(mode="messenger"), store)
    await store.put(CONVERSATION_KEY + FIXTURE_CONVERSATION, {"contact_id": "c1"})
    try:
        await case.check(connector, signed(case.body))
    finally:
        await connector.aclose()
