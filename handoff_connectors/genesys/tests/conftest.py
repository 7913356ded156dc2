"""Shared pieces of the Genesys connector tests: the fake org, settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.genesys import GenesysConnector, GenesysSettings

from .fake_genesys import FakeGenesys

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

CLIENT_ID = "6f0c2e1a-93b4-4c55-a0d7-4e2b9f1c8a33"
CLIENT_SECRET = "gc-client-secret-Zq81x0Tn4Vb"
INTEGRATION_ID = "9c2b6a1e-4d0f-4a57-8e3b-1f6d2c7a9b10"  # as in fixtures/*.json
SECRET_TOKEN = "om-secret-token-3Jd9LkPq0WvX"
FIXTURE_USER = "user-7f3a9c21e0"


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> GenesysSettings:
    values = {
        "login_url": url,
        "api_url": url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "integration_id": INTEGRATION_ID,
        "secret_token": SECRET_TOKEN,
        "queues": {"billing": "Billing"},
        "default_queue": "Support",
    }
    values.update(fields)
    return GenesysSettings(**values)


def fake_org(**extra: Any) -> FakeGenesys:
    return FakeGenesys(CLIENT_ID, CLIENT_SECRET, INTEGRATION_ID, SECRET_TOKEN, **extra)


def built(url: str, store, **fields: Any) -> GenesysConnector:
    """The connector as the registry builds it: with the token shared through the store."""
    made = GenesysConnector(settings(url, **fields), store)
    made.tokens = SharedToken(store, made.name, made.fetch_token)
    return made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def genesys() -> Iterator[FakeGenesys]:
    with fake_org() as fake:
        yield fake
    assert not fake.violations, "requests off Genesys' documented shapes:\n" + "\n".join(fake.violations)


@pytest.fixture
async def connector(genesys: FakeGenesys, store: SqliteStore) -> AsyncIterator[GenesysConnector]:
    made = built(genesys.url, store)
    yield made
    await made.aclose()
