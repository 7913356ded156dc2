"""Shared pieces of the LiveDesk tests: the fake project, settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.chatwoot.tests.fake_chatwoot import Agent
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.livedesk import LiveDeskConnector
from handoff_connectors.livedesk.settings import LiveDeskSettings

from .fake_livedesk import FakeLiveDesk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

API_KEY = "ld-key-3f9a"
API_SECRET = "ld-secret-77c2e1"
TOKEN = "ld-webhook-token-0b5d"
INBOX = 61
TEAMS = {"support": 71, "billing": 72}
MEI = Agent(81, "Mei Tan", "mei@acme.example")


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> LiveDeskSettings:
    values: dict[str, Any] = {
        "url": url, "api_key": API_KEY, "api_secret": API_SECRET, "inbox_id": INBOX, "webhook_token": TOKEN,
        "default_team": TEAMS["support"], "teams": {"billing": TEAMS["billing"]},
    }
    values.update(fields)
    return LiveDeskSettings(**values)


def fake_project(**extra: Any) -> FakeLiveDesk:
    return FakeLiveDesk(API_KEY, API_SECRET, inbox=INBOX, agents=(MEI,), teams=TEAMS, **extra)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeLiveDesk]:
    project = fake_project()
    with project:
        yield project
    assert not project.violations, "requests off LiveDesk's documented shapes:\n" + "\n".join(project.violations)


@pytest.fixture
async def connector(fake: FakeLiveDesk, store: SqliteStore) -> AsyncIterator[LiveDeskConnector]:
    made = LiveDeskConnector(settings(fake.url), store)
    yield made
    await made.aclose()
