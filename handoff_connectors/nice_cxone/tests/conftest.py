"""Shared pieces of the NICE CXone tests: the fake CXone, settings, a store, the connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.core.store import SqliteStore, Store
from handoff_connectors.nice_cxone import NiceCXoneConnector
from handoff_connectors.nice_cxone.settings import NiceCXoneSettings

from .fake_cxone import Agent, FakeCXone

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

CLIENT_ID = "rasa-handoff-api-app-7f21"
CLIENT_SECRET = "cxone-app-secret-0d9e4b"
BYOC_CLIENT_ID = "cxone-byoc-3c1a"
BYOC_CLIENT_SECRET = "issued-to-cxone-5e88f0a2"
SUPPORT, BILLING = "chat_byoc_support", "chat_byoc_billing"
SAM = Agent("a4c1f0de-77b2-4e0b-9a51-0c3e2f1d8b60", "Sam", "Okafor")
LENA = Agent("b93e55a2-1f0c-4d5e-8a7b-3c2d1e0f9a84", "Lena", "Fischer")


def new_fake(**extra: Any) -> FakeCXone:
    return FakeCXone(CLIENT_ID, CLIENT_SECRET, BYOC_CLIENT_ID, BYOC_CLIENT_SECRET, channels=(SUPPORT, BILLING), **extra)


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> NiceCXoneSettings:
    values = {
        "api_url": url,
        "auth_url": url + "/auth/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "channel_id": SUPPORT,
        "channels": {"billing": BILLING},
        "byoc_client_id": BYOC_CLIENT_ID,
        "byoc_client_secret": BYOC_CLIENT_SECRET,
    }
    values.update(fields)
    return NiceCXoneSettings(**values)


def with_tokens(connector: NiceCXoneConnector, store: Store) -> NiceCXoneConnector:
    """What the registry does: the shared, refreshed token of our API application."""
    connector.tokens = SharedToken(store, connector.name, connector.fetch_token)
    return connector


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeCXone]:
    with new_fake() as running:
        yield running
    assert not running.violations, "requests off CXone's documented shapes:\n" + "\n".join(running.violations)


@pytest.fixture
async def connector(fake: FakeCXone, store: SqliteStore) -> AsyncIterator[NiceCXoneConnector]:
    made = with_tokens(NiceCXoneConnector(settings(fake.url), store), store)
    yield made
    await made.aclose()
