"""The connector test kit: what every desk's tests use, public so a desk packaged on its own uses it too.

- `ConnectorContract`: the contract suite; subclass it in a test module,
  fill a few hooks, and every check runs against your desk (see `contract`).
- `fixture_cases`: one test per fixture file, Zulip-style, each with the
  events it must give (see `fixtures`).
- `desk_call`, `hmac_hex`, `send_call`: build and send the calls a desk makes.
- `RecordingServer`: a fake desk's HTTP server that records every request.
- `load_openapi`, `OpenApiSpec`: hold a fake desk's requests to the desk's OpenAPI description.
- `served_sidecar`: the sidecar's own routes around a connector, in the test's loop.

Needs the `test` extra (pytest, pytest-asyncio); imports nothing from this
repository's tests.
"""

from .calls import desk_call, hmac_hex, raw_body, send_call, with_body, with_wrong_headers, without_headers
from .contract import PARTS, ConnectorContract, FailingDesk, a_request, unknown_conversation_id
from .fixtures import FixtureCase, assert_events, event_dict, fixture_cases
from .openapi import OpenApiSpec, load_openapi, shared_reference
from .recorder import Recorded, RecordingServer
from .sidecar import ServedSidecar, served_sidecar

__all__ = [
    "PARTS",
    "ConnectorContract",
    "FailingDesk",
    "FixtureCase",
    "OpenApiSpec",
    "Recorded",
    "RecordingServer",
    "ServedSidecar",
    "a_request",
    "assert_events",
    "desk_call",
    "event_dict",
    "fixture_cases",
    "hmac_hex",
    "load_openapi",
    "raw_body",
    "send_call",
    "served_sidecar",
    "shared_reference",
    "unknown_conversation_id",
    "with_body",
    "with_wrong_headers",
    "without_headers",
]
