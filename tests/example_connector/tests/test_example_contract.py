"""The example desk against the connector test kit: every check of the contract, on the fake desk."""

from __future__ import annotations

from example_fake_desk import ExampleDesk

from handoff_connectors.testing import ConnectorContract, desk_call
from rasa_handoff_example import SIGNATURE_HEADER, WEBHOOK_PATH, ExampleConnector

API_TOKEN = "example-api-token-20c4"
WEBHOOK_SECRET = "example-webhook-secret-9d1e"


def example_settings(url: str, **fields) -> ExampleConnector.Settings:
    return ExampleConnector.Settings(url=url, api_token=API_TOKEN, webhook_secret=WEBHOOK_SECRET, **fields)


class TestExampleContract(ConnectorContract):
    signature_headers = (SIGNATURE_HEADER,)
    signs_body = True

    def desk(self):
        return ExampleDesk(API_TOKEN, WEBHOOK_SECRET)

    def connector(self, desk, store):
        return ExampleConnector(example_settings(desk.url))

    def connector_at(self, url, store, timeout):
        return ExampleConnector(example_settings(url, timeout=timeout))

    def agent_message(self, desk, conversation_id):
        return self._signed(desk, desk.event("message", conversation_id, agent="Sam", text="Hi, I'm Sam"))

    def malformed_calls(self, desk, conversation_id):
        return [
            (self._signed(desk, {"type": "message", "conversation": conversation_id, "text": "hi"}), "id"),
            (self._signed(desk, desk.event("message", conversation_id, text="")), "text"),
            (self._signed(desk, desk.event("message", conversation_id, text="hi", agent=7)), "agent"),
            (self._signed(desk, desk.event(None, conversation_id)), "type"),
            (self._signed(desk, b"[1, 2]"), "object"),
        ]

    def desk_requests(self, desk):
        return desk.server.requests

    def spec_errors(self, desk):
        return desk.violations

    @staticmethod
    def _signed(desk, event):
        raw, headers = desk.signed(event)
        return desk_call(WEBHOOK_PATH, raw, headers)
