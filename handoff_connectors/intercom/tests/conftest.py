"""Shared pieces of the Intercom connector tests: a fake workspace, settings, a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.intercom.settings import IntercomConnectorSettings
from handoff_connectors.core.contract import WebhookRequest
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.intercom import WEBHOOK_PATH, IntercomConnector

from .fake_intercom import Admin, FakeIntercom, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

TOKEN = "dG9rOmludGVyY29tLXRlc3QtdG9rZW4tOTkx"
CLIENT_SECRET = "c1ient-secret-4b7e90aa"
TEAM_BILLING = "6100007"
TEAM_SUPPORT = "6100009"

# The people of the fixtures (their ids appear in fixtures/*.json).
BOT = Admin("8100001", "Acme Bot", "bot@acme.example")
MARTA = Admin("8100002", "Marta Ruiz", "marta@acme.example", team_ids=[int(TEAM_BILLING)])
JONAS = Admin("8100003", "Jonas Weber", "jonas@acme.example", team_ids=[int(TEAM_SUPPORT)])
FIXTURE_CONVERSATION = "51200000000417"
FIXTURE_MESSENGER_CONVERSATION = "51200000000512"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def signed(body: bytes | dict, secret: str = CLIENT_SECRET, signature: str | None = None, method: str = "POST") -> WebhookRequest:
    """An inbound call as the sidecar hands it over (header names lower-cased)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if signature is not None:
        if signature:
            headers["x-hub-signature"] = signature
    else:
        headers["x-hub-signature"] = sign(secret, raw)
    return WebhookRequest(method=method, path=WEBHOOK_PATH, headers=headers, body=raw)


def settings(**fields: Any) -> IntercomConnectorSettings:
    values = {
        "access_token": TOKEN,
        "client_secret": CLIENT_SECRET,
        "admin_id": BOT.id,
        "base_url": "http://127.0.0.1:9",
        "default_team": TEAM_SUPPORT,
        "teams": {"billing": TEAM_BILLING},
    }
    values.update(fields)
    return IntercomConnectorSettings(**values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    made = SqliteStore(str(tmp_path / "handoff.sqlite"))
    yield made


@pytest.fixture
def fake() -> Iterator[FakeIntercom]:
    workspace = FakeIntercom(
        TOKEN, CLIENT_SECRET, Admin(BOT.id, BOT.name, BOT.email),
        [Admin(**vars(MARTA)), Admin(**vars(JONAS))],
        teams={"billing": TEAM_BILLING, "support": TEAM_SUPPORT},
    )
    with workspace:
        yield workspace
    assert not workspace.violations, "requests or answers off Intercom's spec:\n" + "\n".join(workspace.violations)


@pytest.fixture
async def connector(fake: FakeIntercom, store: SqliteStore) -> AsyncIterator[IntercomConnector]:
    made = IntercomConnector(settings(base_url=fake.url), store)
    yield made
    await made.aclose()


@pytest.fixture
async def messenger(fake: FakeIntercom, store: SqliteStore) -> AsyncIterator[IntercomConnector]:
    made = IntercomConnector(settings(base_url=fake.url, mode="messenger"), store)
    yield made
    await made.aclose()
