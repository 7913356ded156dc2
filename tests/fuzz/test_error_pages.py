"""Sanic's own error pages (404, 405, 413) for a request whose Accept header Sanic cannot parse.

Sanic chooses an error page's format from the Accept header even when the
sidecar fixes it to JSON, and a header it cannot parse (`\\xff`, `*/*;q=x`)
makes it fail while answering: "500 An error occurred while handling an
error", nothing logged. `core.http.TolerantErrorHandler` reads such a header
as */*; the sidecar's app must install it (sidecar/app.py, not ours to
edit). Until then the real sidecar's case is an expected failure, and the
fuzz leaves Accept out of its random headers (noise.NOT_YET).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import yaml

from handoff_connectors.core.config import load_config
from handoff_connectors.core.http import TolerantErrorHandler
from handoff_connectors.rasa_runtime.processes import free_port
from handoff_connectors.sidecar import create_app

from .deployment import base_config
from .fakes import FakeRasa

BAD_ACCEPTS = (b"\xff", b"*/*;q=x", b"a;;;", b"\xed\xa0\xbd", b"text/html;q=")
# What Sanic answers by itself: no such route, a wrong method, a body past the limit.
SANIC_ERRORS = (("GET", "/no-such-route", b"", 404), ("GET", "/v1/human/close", b"", 405),
                ("POST", "/v1/human/close", b"x" * (4 * 1024 * 1024 + 1), 413))


def answers(base_url: str) -> list[tuple[bytes, str, int]]:
    """(Accept, path, status) of each Sanic error with each unparsable Accept header."""
    with httpx.Client(timeout=30) as client:
        return [
            (accept, path, _status(client, method, base_url + path, accept, body))
            for accept in BAD_ACCEPTS
            for method, path, body, _ in SANIC_ERRORS
        ]


def _status(client: httpx.Client, method: str, url: str, accept: bytes, body: bytes) -> int:
    return client.request(method, url, headers=[(b"Accept", accept)], content=body).status_code


EXPECTED = [(accept, path, status) for accept in BAD_ACCEPTS for _, path, _, status in SANIC_ERRORS]


@pytest.fixture
async def patched_sidecar(tmp_path: Path, fake_rasa: FakeRasa) -> AsyncIterator[str]:
    """The sidecar's app, served in this process, with the one-line change sidecar/app.py needs."""
    config = base_config("webhook", fake_rasa.url, tmp_path)
    config["connectors"]["webhook"] = {"url": "http://127.0.0.1:9", "api_key": "k"}
    (tmp_path / "handoff.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    app = create_app(load_config(str(tmp_path / "handoff.yml")), name="fuzz_error_pages")
    app.error_handler = TolerantErrorHandler()
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


@pytest.mark.xfail(strict=True, reason="sidecar/app.py does not install core.http.TolerantErrorHandler yet")
def test_an_unparsable_accept_header_never_turns_the_real_sidecars_error_pages_into_500(webhook_target) -> None:
    assert answers(webhook_target.sidecar.url) == EXPECTED


async def test_with_the_tolerant_error_handler_those_error_pages_keep_their_status(patched_sidecar: str) -> None:
    # A blocking client in a thread: the server runs on this test's loop.
    assert await asyncio.to_thread(answers, patched_sidecar) == EXPECTED
