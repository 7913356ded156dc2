"""Each webhook the example desk sends, one test per fixture: the events it gives, or the 400 naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_fake_desk import ExampleDesk

from handoff_connectors.testing import desk_call, fixture_cases
from rasa_handoff_example import WEBHOOK_PATH, ExampleConnector

FIXTURES = Path(__file__).resolve().parents[1] / "rasa_handoff_example" / "fixtures"
SECRET = "fixture-webhook-secret-51aa"


@pytest.mark.parametrize("case", fixture_cases(FIXTURES))
async def test_each_fixture_reads_as_expected(case):
    connector = ExampleConnector(ExampleConnector.Settings(url="http://127.0.0.1:9", api_token="t", webhook_secret=SECRET))
    raw, headers = ExampleDesk("t", SECRET).signed(case.body)
    try:
        reply = await case.check(connector, desk_call(WEBHOOK_PATH, raw, headers))
    finally:
        await connector.aclose()
    if reply is not None:
        # Delivered or not ours, the desk hears success and stops retrying.
        assert reply.reply.status == 200 and reply.when_unknown is None
