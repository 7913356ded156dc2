"""Sanic's own error pages (404, 405, 413) for a request whose Accept header Sanic cannot parse.

Sanic chooses an error page's format from the Accept header even when the
sidecar fixes it to JSON, and a header it cannot parse (`\\xff`, `*/*;q=x`)
makes it fail while answering: "500 An error occurred while handling an
error", nothing logged. The sidecar's app installs
`core.http.TolerantErrorHandler`, which reads such a header as */*.
"""

from __future__ import annotations


import httpx


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


def test_an_unparsable_accept_header_never_turns_the_real_sidecars_error_pages_into_500(webhook_target) -> None:
    assert answers(webhook_target.sidecar.url) == EXPECTED
