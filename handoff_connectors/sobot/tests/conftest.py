"""Shared pieces of the Sobot tests: the fake Sobot, settings, the connector as the registry builds it, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.core.store import SqliteStore
from handoff_connectors.sobot import SobotConnector, SobotSettings

from .fake_sobot import FakeSobot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

APPID = "1f0e2d3c4b5a69788796a5b4c3d2e1f0"
APP_KEY = "sobot-app-key-7Qm2Xv9Lw0Tz"
COMPANY_ID = "8d1c5b7e2f3a4c6d9e0f1a2b3c4d5e6f"  # as in fixtures/*.json
PUSH_KEY = "sobot-push-key-Hc4Nn8Rp1Ys6"
GROUPS = {"g-support-01": "Support", "g-billing-02": "Billing"}
ROUTING = {"billing": "g-billing-02"}
DEFAULT_GROUP = "g-support-01"


def section(url: str = "http://127.0.0.1:9", **fields: Any) -> dict[str, Any]:
    """`connectors.sobot` as a user writes it in handoff.yml."""
    values: dict[str, Any] = {
        "base_url": url,
        "appid": APPID,
        "app_key": APP_KEY,
        "company_id": COMPANY_ID,
        "push_app_key": PUSH_KEY,
        "groups": ROUTING,
        "default_group": DEFAULT_GROUP,
    }
    values.update(fields)
    return values


def settings(url: str = "http://127.0.0.1:9", **fields: Any) -> SobotSettings:
    return SobotSettings(**section(url, **fields))


def built(url: str, store, **fields: Any) -> SobotConnector:
    """The connector as the registry builds it: with the token shared through the store."""
    made = SobotConnector(settings(url, **fields), store)
    made.tokens = SharedToken(store, made.name, made.fetch_token)
    return made


def fake_sobot(**extra: Any) -> FakeSobot:
    return FakeSobot(APPID, APP_KEY, COMPANY_ID, PUSH_KEY, GROUPS, **extra)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(str(tmp_path / "handoff.sqlite"))


@pytest.fixture
def sobot() -> Iterator[FakeSobot]:
    with fake_sobot() as fake:
        yield fake
    assert not fake.violations, "requests off Sobot's documented shapes:\n" + "\n".join(fake.violations)
