"""Salesforce against the connector test kit: the outbound spec and the failure statuses.

Salesforce calls nobody: what its agents do reaches us only on the event
stream the sidecar opens with each conversation's own token
(test_salesforce_stream.py reads it, through drops, renewals and restarts,
and the fixtures one test each). So the kit's webhook checks (signatures,
malformed bodies, duplicates and unknown conversations of inbound calls)
have nothing to call and are declared not applicable, saying why.
"""

from __future__ import annotations

from handoff_connectors.salesforce import SalesforceConnector
from handoff_connectors.testing import ConnectorContract

from .conftest import settings
from .fake_miaw import FakeMessaging

NO_WEBHOOKS = (
    "Salesforce Messaging for In-App and Web calls no webhook: events arrive only on the SSE stream the sidecar "
    "opens per conversation with its own token (see test_salesforce_stream.py)"
)


class TestSalesforceContract(ConnectorContract):
    not_applicable = {
        "signatures": NO_WEBHOOKS,
        "malformed": NO_WEBHOOKS + "; an unreadable stream entry is skipped (fixtures malformed_*)",
        "duplicates": NO_WEBHOOKS + "; an entry read twice keeps its id and is queued once",
        "unknown_conversation": NO_WEBHOOKS + "; entries of other conversations are left out (fixture other_conversation)",
    }

    def desk(self):
        return FakeMessaging()

    def connector(self, desk, store):
        return SalesforceConnector(settings(desk.url, routing_attribute="Queue"), store)

    def connector_at(self, url, store, timeout):
        return SalesforceConnector(settings(url, timeout=timeout), store)

    def desk_requests(self, desk):
        return desk.requests

    def spec_errors(self, desk):
        return list(desk.violations)
