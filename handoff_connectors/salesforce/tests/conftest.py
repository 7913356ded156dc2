"""Shared pieces of the Salesforce tests: settings, a store, the fake Messaging API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.store import SqliteStore
from handoff_connectors.salesforce import SalesforceConnector
from handoff_connectors.salesforce.settings import SalesforceSettings

from .fake_miaw import DEPLOYMENT, ORG_ID, FakeMessaging

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# The conversation the fixtures are about.
FIXTURE_CONVERSATION = "3f0e8a2c-7b51-4d9e-a6c4-0b9d2e7f1a35"


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> SalesforceSettings:
    values: dict[str, Any] = {"messaging_url": url, "org_id": ORG_ID, "deployment": DEPLOYMENT}
    values.update(fields)
    return SalesforceSettings(**values)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    made = SqliteStore(str(tmp_path / "handoff.sqlite"))
    yield made
    await made.close()


@pytest.fixture
def fake() -> Iterator[FakeMessaging]:
    with FakeMessaging() as messaging:
        yield messaging
    assert not messaging.violations, "requests off the Messaging API's documented shapes:\n" + "\n".join(messaging.violations)


@pytest.fixture
async def connector(fake: FakeMessaging, store: SqliteStore) -> AsyncIterator[SalesforceConnector]:
    made = SalesforceConnector(settings(fake.url, routing_attribute="Queue", email_attribute="Email"), store)
    yield made
    await made.aclose()
