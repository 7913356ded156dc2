"""Shared pieces of the Zendesk tests: the fake app, settings, calls as Sunshine makes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.contract import WebhookRequest
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.testing import desk_call
from handoff_connectors.zendesk import WEBHOOK_PATH, ZendeskConnector
from handoff_connectors.zendesk.settings import ZendeskConnectorSettings

from .fake_sunshine import FakeSunshine

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

APP_ID = "5ebee0975ac5304b664a12fa"
KEY_ID = "app_6640c1d2e3f4a5b6c7d8e9f0"
KEY_SECRET = "kS3cr3t-sunshine-app-key-7f2e"
WEBHOOK_SECRET = "whk-8564b3e6a8b20a4bdb68b05ce9bc5936"


def settings(**fields: Any) -> ZendeskConnectorSettings:
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "key_id": KEY_ID,
        "key_secret": KEY_SECRET,
        "webhook_secret": WEBHOOK_SECRET,
        "base_url": "http://127.0.0.1:9",
        "routing_tags": {"billing": "handoff_billing"},
        "default_tag": "handoff_support",
    }
    values.update(fields)
    return ZendeskConnectorSettings(**values)


def webhook(body: dict | bytes, api_key: str | None = WEBHOOK_SECRET) -> WebhookRequest:
    """A Sunshine webhook call as the sidecar hands it over."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    return desk_call(WEBHOOK_PATH, raw, headers)


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def about(name: str, conversation_id: str, **changes: Any) -> dict:
    """A fixture call, about `conversation_id`."""
    call = fixture_json(name)
    for event in call["events"]:
        event["payload"]["conversation"]["id"] = conversation_id
    call.update(changes)
    return call


def make_fake() -> FakeSunshine:
    return FakeSunshine(APP_ID, KEY_ID, KEY_SECRET, WEBHOOK_SECRET)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeSunshine]:
    app = make_fake()
    with app:
        yield app
    assert not app.violations, "requests, answers or webhooks off the Sunshine spec:\n" + "\n".join(app.violations)


@pytest.fixture
async def connector(fake: FakeSunshine, store: SqliteStore) -> AsyncIterator[ZendeskConnector]:
    made = ZendeskConnector(settings(base_url=fake.url), store)
    yield made
    await made.aclose()


@pytest.fixture
async def desk_bot(fake: FakeSunshine, store: SqliteStore) -> AsyncIterator[ZendeskConnector]:
    made = ZendeskConnector(settings(base_url=fake.url, mode="switchboard_bot", bot_integration=fake.bot.name), store)
    yield made
    await made.aclose()
