"""NICE CXone against the connector test kit: the contract suite on the fake CXone, and one test per fixture.

CXone's calls to us go to routes the connector serves itself (`ServesRoutes`),
guarded by bearer tokens the sidecar's own token endpoint issues: the kit's
signature, malformed, duplicate and unknown-conversation checks are written
for those routes in test_nice_cxone_routes.py, over the same kit helpers.
"""

from __future__ import annotations

import pytest

from handoff_connectors.nice_cxone import NiceCXoneConnector, wire
from handoff_connectors.nice_cxone.routes import read
from handoff_connectors.testing import ConnectorContract, desk_call, fixture_cases

from .conftest import FIXTURES, SUPPORT, new_fake, settings

_OWN_ROUTES = (
    "CXone calls routes the connector serves itself (ServesRoutes) with bearer tokens from the sidecar's "
    "token endpoint; checked in test_nice_cxone_routes.py"
)


class TestNiceCXoneContract(ConnectorContract):
    not_applicable = {
        "signatures": _OWN_ROUTES,
        "malformed": _OWN_ROUTES,
        "duplicates": _OWN_ROUTES,
        "unknown_conversation": _OWN_ROUTES,
    }

    def desk(self):
        return new_fake()

    def connector(self, desk, store):
        return NiceCXoneConnector(settings(desk.url), store)

    def connector_at(self, url, store, timeout):
        return NiceCXoneConnector(settings(url, timeout=timeout), store)

    def desk_requests(self, desk):
        return desk.requests

    def spec_errors(self, desk):
        return list(desk.violations)


FIXTURE_THREAD = "rasa-5f0c2a9e7b1d4c3f"


def path_of(fixture: str) -> str:
    """Where CXone posts a fixture's body: the name says which route."""
    if fixture.startswith("reply_"):
        return wire.POST_REPLY_ROUTE.replace("<post_id>", FIXTURE_THREAD)
    if fixture.startswith("outbound_"):
        return wire.OUTBOUND_REPLY_ROUTE.replace("<channel_id>", SUPPORT)
    return wire.EVENTS_PATH


class Reader:
    """The routes' reading step (the bearer is checked before it, in the route)."""

    async def parse_webhook(self, call):
        return read(call)


@pytest.mark.parametrize("case", fixture_cases(FIXTURES, pattern="*"))
async def test_each_fixture_reads_as_expected(case):
    await case.check(Reader(), desk_call(path_of(case.name), case.body))


async def test_a_reply_is_answered_with_the_same_id_on_every_delivery():
    body = (FIXTURES / "reply_text.json").read_bytes()
    first, again = read(desk_call(path_of("reply_text"), body)), read(desk_call(path_of("reply_text"), body))
    assert first.reply.status == 200 and first.reply.body == again.reply.body
    assert set(first.reply.body) == {"idOnExternalPlatform"}
