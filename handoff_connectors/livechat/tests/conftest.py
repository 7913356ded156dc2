"""Shared pieces of the LiveChat tests: the people, the fake, settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.store import SqliteStore
from handoff_connectors.livechat import LiveChatConnector
from handoff_connectors.livechat.settings import LiveChatSettings

from .fake_livechat import Agent, FakeLiveChat

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

ORGANIZATION = "390e44e6-f1e6-4368-a6dd-74a14508c2e1"
CLIENT_ID = "b3a8c1f0e2d94f5a8c7d6e5f4a3b2c1d"
ACCOUNT = "0b6f1c2e-5d7a-4e8b-9c0d-1e2f3a4b5c6d"
PAT = "dal:lc-test-personal-access-token-41f"
SECRET = "lc-webhook-secret-fixture-7e2a"
GROUP_SUPPORT, GROUP_BILLING = 0, 2

# The people of the fixtures (their ids appear in fixtures/*.json).
BOT = Agent("5c9871d5372c824cbf22d860a707a578", "Acme Bot", groups=[GROUP_SUPPORT, GROUP_BILLING])
MARTA = Agent("marta@acme.example", "Marta Ruiz", groups=[GROUP_SUPPORT])
JONAS = Agent("jonas@acme.example", "Jonas Weber", groups=[GROUP_BILLING], status="not_accepting_chats")
FIXTURE_CHAT = "RX3KQ2B7ZC"  # a channel-mode chat of ours
FIXTURE_CUSTOMER = "9d4e1b7c-0f2a-4c3b-8e5d-6a7b8c9d0e1f"
FIXTURE_WIDGET_CHAT = "SW81P0Q4LM"  # a widget chat the bot agent answers
FIXTURE_WIDGET_CUSTOMER = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"


def fake_livechat() -> FakeLiveChat:
    return FakeLiveChat(ORGANIZATION, CLIENT_ID, ACCOUNT, PAT, SECRET,
                        [Agent(**vars(MARTA)), Agent(**vars(JONAS))], bot=Agent(**vars(BOT)))


def settings(api: str = "http://127.0.0.1:9", **fields: Any) -> LiveChatSettings:
    """Settings against a LiveChat at `api` (the Web APIs under /v3.5, the token endpoint at its root)."""
    values = {
        "organization_id": ORGANIZATION,
        "client_id": CLIENT_ID,
        "account_id": ACCOUNT,
        "personal_access_token": PAT,
        "webhook_secret": SECRET,
        "bot_agent_id": BOT.id,
        "default_group": GROUP_SUPPORT,
        "groups": {"billing": GROUP_BILLING},
        "api_url": f"{api}/v3.5",
        "accounts_url": api,
    }
    values.update(fields)
    return LiveChatSettings(**values)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeLiveChat]:
    desk = fake_livechat()
    with desk:
        yield desk
    assert not desk.violations, "requests off LiveChat's documented shapes:\n" + "\n".join(desk.violations)


@pytest.fixture
async def connector(fake: FakeLiveChat, store: SqliteStore) -> AsyncIterator[LiveChatConnector]:
    made = LiveChatConnector(settings(fake.url), store)
    yield made
    await made.aclose()


@pytest.fixture
async def bot_agent(fake: FakeLiveChat, store: SqliteStore) -> AsyncIterator[LiveChatConnector]:
    made = LiveChatConnector(settings(fake.url, mode="bot_agent"), store)
    yield made
    await made.aclose()
