"""Building the calls a desk makes, signed or not, and sending them over HTTP.

A call is the contract's own `WebhookRequest`: the same value a test hands
to `parse_webhook` directly, or sends to a sidecar with `send_call`. Header
names are lower-cased, as the sidecar hands them to a connector.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from typing import Mapping, Optional, Sequence, Union
from urllib.parse import parse_qs, urlencode

import httpx

from ..core.contract import WebhookRequest

Body = Union[bytes, str, dict, list]


def raw_body(body: Body) -> bytes:
    """A dict or list as compact JSON, a str as UTF-8, bytes as they are."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def desk_call(
    path: str,
    body: Body = b"",
    headers: Optional[Mapping[str, str]] = None,
    method: str = "POST",
    query: Optional[Mapping[str, Sequence[str]]] = None,
    content_type: Optional[str] = "application/json",
    base_url: str = "http://sidecar.test",
) -> WebhookRequest:
    """A desk's call to `path`: JSON unless `content_type` says otherwise (a form body is read into `form`)."""
    raw = raw_body(body)
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    if content_type and raw:
        lowered.setdefault("content-type", content_type)
    query = {key: list(values) for key, values in (query or {}).items()}
    form: dict[str, list[str]] = {}
    if lowered.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(raw.decode(), keep_blank_values=True)
    url = base_url.rstrip("/") + path + (f"?{urlencode(query, doseq=True)}" if query else "")
    return WebhookRequest(method=method, path=path, headers=lowered, body=raw, url=url, query=query, form=form)


def hmac_hex(secret: str, message: bytes, digest: str = "sha256") -> str:
    """The hex HMAC most desks sign their bodies with (Intercom: sha1, Zendesk/Chatwoot: sha256)."""
    return hmac.new(secret.encode(), message, getattr(hashlib, digest)).hexdigest()


def without_headers(call: WebhookRequest, names: Sequence[str]) -> WebhookRequest:
    """The call with those headers removed: unsigned."""
    dropped = {name.lower() for name in names}
    return dataclasses.replace(call, headers={k: v for k, v in call.headers.items() if k not in dropped})


def with_wrong_headers(call: WebhookRequest, names: Sequence[str]) -> WebhookRequest:
    """The call with the last character of each of those headers changed: a forged signature of the right shape."""
    headers = dict(call.headers)
    for name in (name.lower() for name in names):
        value = headers.get(name)
        if value:
            headers[name] = value[:-1] + ("0" if value[-1] != "0" else "1")
    return dataclasses.replace(call, headers=headers)


def with_body(call: WebhookRequest, body: bytes) -> WebhookRequest:
    """The call carrying another body under the same headers: a tampered one, when the desk signs its bodies."""
    return dataclasses.replace(call, body=body)


async def send_call(client: httpx.AsyncClient, base_url: str, call: WebhookRequest) -> httpx.Response:
    """Send `call` to a served sidecar (or any server) at `base_url`, exactly: method, path, query, headers, body."""
    return await client.request(
        call.method,
        base_url.rstrip("/") + call.path,
        params={key: list(values) for key, values in call.query.items()} or None,
        headers=dict(call.headers),
        content=call.body,
    )


__all__ = [
    "desk_call",
    "hmac_hex",
    "raw_body",
    "send_call",
    "with_body",
    "with_wrong_headers",
    "without_headers",
]
