"""Shared pieces of the Zoho SalesIQ tests: the fake portal, settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.zoho_salesiq import ZohoSalesIQConnector
from handoff_connectors.zoho_salesiq.settings import ZohoSalesIQSettings

from .fake_salesiq import FakeSalesIQ, Operator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

SCREEN = "acmesupport"
CLIENT_ID = "1000.K7Q2VZ8Y4N3X5T0J6W1R9P2M8L4C3B"
CLIENT_SECRET = "b8a07c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c"
REFRESH_TOKEN = "1000.5d1f0e2c3b4a59687766554433221100.ffeeddccbbaa99887766554433221100"
APP_ID = "2650000000002071"
DEPARTMENTS = {"support": "2650000000002011", "billing": "2650000000002013"}
MARTA = Operator("2650000000001001", "Marta Ruiz", "marta@acme.example")
JONAS = Operator("2650000000001002", "Jonas Weber", "jonas@acme.example")
FIXTURE_CONVERSATION = "4000000000417"
FIXTURE_ZOBOT_CONVERSATION = "4000000000512"


def new_fake() -> FakeSalesIQ:
    return FakeSalesIQ(SCREEN, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, APP_ID, dict(DEPARTMENTS))


def settings_for(url: str, public_key: Any = None, **fields: Any) -> ZohoSalesIQSettings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "screen_name": SCREEN,
        "region": "eu",
        "app_id": APP_ID,
        "department_id": DEPARTMENTS["support"],
        "departments": {"billing": DEPARTMENTS["billing"]},
        "accounts_url": url,
        "api_url": url,
    }
    if public_key is not None:
        values["public_key"] = public_key
    values.update(fields)
    return ZohoSalesIQSettings(**values)


def connector_for(settings: ZohoSalesIQSettings, store) -> ZohoSalesIQConnector:
    made = ZohoSalesIQConnector(settings, store)
    made.tokens = SharedToken(store, made.name, made.fetch_token)
    return made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeSalesIQ]:
    with new_fake() as portal:
        yield portal
    assert not portal.violations, "requests off SalesIQ's documented shapes:\n" + "\n".join(portal.violations)


@pytest.fixture
async def connector(fake: FakeSalesIQ, store: SqliteStore) -> AsyncIterator[ZohoSalesIQConnector]:
    made = connector_for(settings_for(fake.url, fake.public_key), store)
    yield made
    await made.aclose()


@pytest.fixture
async def zobot(fake: FakeSalesIQ, store: SqliteStore) -> AsyncIterator[ZohoSalesIQConnector]:
    made = connector_for(settings_for(fake.url, fake.public_key, mode="zobot"), store)
    yield made
    await made.aclose()
