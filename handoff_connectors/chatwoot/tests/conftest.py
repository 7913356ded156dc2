"""Shared pieces of the Chatwoot tests: the fake account, settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.chatwoot import ChatwootConnector
from handoff_connectors.chatwoot.settings import ChatwootSettings
from handoff_connectors.core.store import SqliteStore

from .fake_chatwoot import Agent, FakeChatwoot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

USER_TOKEN = "cw-user-token-8d1f0e"
BOT_TOKEN = "cw-bot-token-2b77aa"
SECRET = "cw-webhook-secret-51c3"
ACCOUNT = 7
API_INBOX = 21
BOT_INBOX = 22
TEAMS = {"support": 31, "billing": 32}
SAM = Agent(41, "Sam Okafor", "sam@acme.example")
LEA = Agent(42, "Lea Brandt", "lea@acme.example")


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> ChatwootSettings:
    values: dict[str, Any] = {
        "url": url,
        "account_id": ACCOUNT,
        "api_access_token": USER_TOKEN,
        "inbox_id": API_INBOX,
        "webhook_secret": SECRET,
        "default_team": TEAMS["support"],
        "teams": {"billing": TEAMS["billing"]},
    }
    if fields.get("mode") == "agent_bot":
        values["bot_access_token"] = BOT_TOKEN
    values.update(fields)
    return ChatwootSettings(**values)


def fake_account(**extra: Any) -> FakeChatwoot:
    return FakeChatwoot(
        USER_TOKEN, BOT_TOKEN, SECRET, account_id=ACCOUNT, api_inbox=API_INBOX, bot_inbox=BOT_INBOX,
        agents=(SAM, LEA), teams=TEAMS, **extra,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeChatwoot]:
    account = fake_account()
    with account:
        yield account
    assert not account.violations, "requests or answers off Chatwoot's spec:\n" + "\n".join(account.violations)


@pytest.fixture
async def connector(fake: FakeChatwoot, store: SqliteStore) -> AsyncIterator[ChatwootConnector]:
    made = ChatwootConnector(settings(fake.url), store)
    yield made
    await made.aclose()


@pytest.fixture
async def bot_connector(fake: FakeChatwoot, store: SqliteStore) -> AsyncIterator[ChatwootConnector]:
    made = ChatwootConnector(settings(fake.url, mode="agent_bot"), store)
    yield made
    await made.aclose()
