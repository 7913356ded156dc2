"""A fake EngageLab LiveDesk project for tests, held to LiveDesk's documented shapes.

LiveDesk publishes no OpenAPI description. The spec this fake follows is
the documentation summarised in ../shared/reference/engagelab-livedesk/NOTES.md
(API channel usage, send message, create conversation, webhook events):

- every request carries `Authorization: Basic base64(API_KEY:API_SECRET)`
  (else 401);
- `POST /api/v2/accounts/contacts` needs `inbox_id` (name, email,
  phone_number, avatar_url, identifier optional);
- `POST /api/v2/accounts/conversations` needs `inbox_id` and `contact_id`
  or `source_id`;
- `POST /api/v2/accounts/conversations/{id}/messages` needs `content`
  (`private`, `content_attributes` optional);
- nothing outside these paths and the connector's documented-by-analogy
  choices (`toggle_status`, `assignments`, `GET contacts`, each listed on
  doc.md) is served: anything else is a violation.

The state and the people (agents, visitors) are the fake Chatwoot's (the
payloads are Chatwoot's, NOTES.md says), with LiveDesk's differences: one
API channel for both modes, its webhooks unsigned (the URL's token is what
the sidecar checks), a new contact answered as `{payload: {contact,
contact_inbox}}`, and status changes told as `conversation_status_changed`.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any, Optional

from handoff_connectors.chatwoot.tests.fake_chatwoot import Agent, Call, Contact, Conversation, FakeChatwoot

_NUMBER = r"(\d+)"
# (method, path) -> (operation, required body fields, documented)
ROUTES = [
    ("POST", r"/api/v2/accounts/contacts", "create_contact", ("inbox_id",)),
    ("GET", r"/api/v2/accounts/contacts", "list_contacts", ()),
    ("POST", r"/api/v2/accounts/conversations", "create_conversation", ("inbox_id",)),
    ("POST", rf"/api/v2/accounts/conversations/{_NUMBER}/messages", "create_message", ("content",)),
    ("POST", rf"/api/v2/accounts/conversations/{_NUMBER}/toggle_status", "toggle_status", ("status",)),
    ("POST", rf"/api/v2/accounts/conversations/{_NUMBER}/assignments", "assign", ()),
]
_FIELDS = {
    "create_contact": {"inbox_id", "name", "email", "phone_number", "avatar_url", "identifier"},
    "create_conversation": {"inbox_id", "contact_id", "source_id", "status", "team_id", "custom_attributes"},
    "create_message": {"content", "private", "content_attributes", "message_type", "content_type"},
    "toggle_status": {"status"},
    "assign": {"team_id", "assignee_id"},
}


class FakeLiveDesk(FakeChatwoot):
    desk = "LiveDesk"
    agent_bot_events = False

    def __init__(self, api_key: str, api_secret: str, *, inbox: int = 61, agents: tuple[Agent, ...] = (),
                 teams: Optional[dict[str, int]] = None, first_id: int = 100) -> None:
        self.key_pair = f"{api_key}:{api_secret}"
        super().__init__(self._basic(self.key_pair), None, None, account_id=1, api_inbox=inbox, bot_inbox=inbox,
                         agents=agents, teams=teams, first_id=first_id)

    @staticmethod
    def _basic(pair: str) -> str:
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def _setup(self) -> None:
        self.spec = None

    def revoke(self) -> None:
        self.user_token = self._basic("revoked:" + uuid.uuid4().hex)

    def _token_of(self, headers: dict[str, str]) -> str:
        return headers.get("authorization", "")

    def _check(self, method: str, path: str, headers: dict[str, str], query: dict, body: Any):
        for route_method, pattern, operation, required in ROUTES:
            matched = re.fullmatch(pattern, path)
            if route_method == method and matched:
                break
        else:
            self._violation(f"{method} {path}: not a LiveDesk endpoint the documentation (or doc.md's choices) names")
            return None, [], (404, {"message": "Not Found"})
        if self._token_of(headers) != self.user_token:
            return None, [], (401, {"message": "Unauthorized"})
        if method == "POST":
            if not isinstance(body, dict):
                self._violation(f"{method} {path}: a JSON object body is required")
                body = {}
            for name in required:
                if body.get(name) in (None, ""):
                    self._violation(f"{method} {path}: {name} is required")
            for name in set(body) - _FIELDS[operation]:
                self._violation(f"{method} {path}: {name} is not a field LiveDesk documents")
            if operation == "create_conversation" and body.get("contact_id") is None and not body.get("source_id"):
                self._violation(f"{method} {path}: contact_id or source_id is required")
        return operation, [int(g) for g in matched.groups()], None

    def _check_answer(self, method: str, path: str, status: int, payload: Any) -> None:
        pass

    def _list_contacts(self, call: Call, query: dict) -> tuple[int, Any]:
        return 200, {"payload": [self._contact_json(c) for c in self.contacts.values()]}

    def _create_contact(self, call: Call, query: dict) -> tuple[int, Any]:
        status, answer = super()._create_contact(call, query)
        if status != 200:
            return status, answer
        contact = self.contacts[answer["id"]]
        source = contact.source_ids[int(call.body["inbox_id"])]
        return 200, {"payload": {"contact": self._contact_json(contact), "contact_inbox": {
            "id": self._id(), "contact_id": contact.id, "inbox_id": int(call.body["inbox_id"]), "source_id": source,
            "hmac_verified": False, "pubsub_token": uuid.uuid4().hex[:24]}}}

    def _create_conversation(self, call: Call, query: dict) -> tuple[int, Any]:
        body = call.body
        inbox = int(body["inbox_id"])
        contact: Optional[Contact] = self.contacts.get(body.get("contact_id"))
        if contact is None:
            contact = next((c for c in self.contacts.values() if c.source_ids.get(inbox) == body.get("source_id")), None)
        if contact is None:
            return 404, {"message": "Contact not found"}
        conversation = Conversation(
            id=self._id(), inbox_id=inbox, contact_id=contact.id, status=body.get("status") or "open",
            source_id=contact.source_ids.get(inbox), team_id=body.get("team_id"),
            custom_attributes=dict(body.get("custom_attributes") or {}),
        )
        self.conversations[conversation.id] = conversation
        return 200, {**self.conversation_json(conversation), "messages": []}
