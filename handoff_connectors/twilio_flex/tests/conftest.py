"""Shared pieces of the Twilio Flex tests: the fake account's SIDs, settings, the fake, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from handoff_connectors.core.store import SqliteStore
from handoff_connectors.twilio_flex import TwilioFlexConnector
from handoff_connectors.twilio_flex.settings import TwilioFlexSettings

from .fake_twilio import Agent, FakeTwilio

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

ACCOUNT = "AC5f1c0a3e9d2b4c6f8a7e1d0c3b2a9f41"
AUTH_TOKEN = "9f3e1b7c2d4a6e8f0a1b3c5d7e9f2a4c"
SERVICE = "IS0c7e2f4a6b8d1e3f5a7c9e1b3d5f7a92"
WORKSPACE = "WS3a5c7e9b1d2f4a6c8e0b2d4f6a8c1e37"
WORKFLOW = "WW8e6c4a2f0d1b3e5c7a9f1d3b5e7c9a04"
PUBLIC_WEBHOOK = "https://bot.acme.example/twilio_flex/webhook"

# The people of the fixtures (their identities appear in fixtures/*).
MARTA = Agent("marta.ruiz@acme.example", "Marta Ruiz", queues=("Billing", "Everyone"))
JONAS = Agent("jonas.weber@acme.example", "Jonas Weber", queues=("Everyone",), available=False)
FIXTURE_CONVERSATION = "CH7d3f5a1c9e2b4d6f8a0c1e3b5d7f9a26"
FIXTURE_USER = "rasa:user-4f1e2d3c"


def settings(**fields: Any) -> TwilioFlexSettings:
    values = {
        "account_sid": ACCOUNT,
        "auth_token": AUTH_TOKEN,
        "conversations_service_sid": SERVICE,
        "workspace_sid": WORKSPACE,
        "workflow_sid": WORKFLOW,
        "queues": {"billing": "Billing"},
        "default_queue": "Everyone",
        "webhook_url": PUBLIC_WEBHOOK,
        "conversations_url": "http://127.0.0.1:9/conversations",
        "flex_url": "http://127.0.0.1:9/flex",
        "taskrouter_url": "http://127.0.0.1:9/taskrouter",
        "media_url": "http://127.0.0.1:9/mcs",
    }
    values.update(fields)
    return TwilioFlexSettings(**values)


def fake_twilio(**extra: Any) -> FakeTwilio:
    return FakeTwilio(ACCOUNT, AUTH_TOKEN, SERVICE, WORKSPACE, WORKFLOW, agents=(Agent(**vars(MARTA)), Agent(**vars(JONAS))), **extra)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with fake_twilio() as twilio:
        yield twilio
    assert not twilio.violations, "requests or answers off Twilio's spec:\n" + "\n".join(twilio.violations)


@pytest.fixture
async def connector(fake: FakeTwilio, store: SqliteStore) -> AsyncIterator[TwilioFlexConnector]:
    made = TwilioFlexConnector(settings(**fake.base_urls()), store)
    yield made
    await made.aclose()
