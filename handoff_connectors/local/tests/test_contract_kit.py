"""The local desk against the connector test kit.

The local desk has no webhooks: its agents act through the inbox routes the
sidecar serves (`/inbox/api/...`, the inbox token as a bearer key), and
those calls play the desk's calls here. Joining a conversation is the call
the suite sends (it queues AgentJoined for the user); a reply needs a joined
agent, so the malformed cases use the reply route's own checks, which come
first. The parts about a desk's HTTP API do not apply: the local desk keeps
its conversations in the store and calls nothing.
"""

from __future__ import annotations

import contextlib

from handoff_connectors.local import LocalConnector
from handoff_connectors.testing import ConnectorContract, desk_call

TOKEN = "kit-inbox-token-3b9d01"
SIGNED = {"authorization": f"Bearer {TOKEN}"}
NO_HTTP = "the local desk keeps its conversations in the store and makes no HTTP call"


def _action(conversation_id: str, kind: str) -> str:
    return f"/inbox/api/conversations/{conversation_id}/{kind}"


class TestLocalContract(ConnectorContract):
    signature_headers = ("authorization",)
    not_applicable = {"outbound_spec": NO_HTTP, "status_mapping": NO_HTTP}

    def desk(self):
        # The desk lives in the connector's store; there is nothing to run beside it.
        return contextlib.nullcontext()

    def connector(self, desk, store):
        return LocalConnector(LocalConnector.Settings(token=TOKEN), store)

    def agent_message(self, desk, conversation_id):
        return desk_call(_action(conversation_id, "join"), {"agent": "Sam"}, SIGNED)

    def malformed_calls(self, desk, conversation_id):
        return [
            (desk_call(_action(conversation_id, "join"), {"agent": ""}, SIGNED), "agent"),
            (desk_call(_action(conversation_id, "reply"), {"agent": "Sam"}, SIGNED), "text"),
            (desk_call(_action(conversation_id, "reply"), {"agent": "Sam", "text": "hi", "id": 7}, SIGNED), "id"),
            (desk_call(_action(conversation_id, "reply"), b"{not json", SIGNED), "JSON"),
        ]

    def desk_stops_retrying(self, status):
        # The caller is an agent's browser, which never retries: the answer must only not be a server error.
        return status < 500
