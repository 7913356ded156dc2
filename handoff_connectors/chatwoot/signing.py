"""Chatwoot's webhook signature.

An instance that signs sends, with each webhook, `X-Chatwoot-Timestamp`
(Unix seconds) and `X-Chatwoot-Signature: sha256=<hex>`, the HMAC-SHA256
of `"<timestamp>.<raw body>"` keyed with the webhook's secret (the account
webhook's, the API inbox's or the agent bot's). The timestamp is checked
against our clock so a captured call cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Mapping, Optional

from ..core.contract import WebhookRejected

SIGNATURE_HEADER = "x-chatwoot-signature"
TIMESTAMP_HEADER = "x-chatwoot-timestamp"
DELIVERY_HEADER = "x-chatwoot-delivery"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_signed(headers: Mapping[str, str]) -> bool:
    return bool(headers.get(SIGNATURE_HEADER, "").strip())


def verify(secret: str, headers: Mapping[str, str], body: bytes, max_age: float, now: Optional[float] = None) -> None:
    """WebhookRejected(401) unless the call carries a fresh, genuine signature."""
    given = headers.get(SIGNATURE_HEADER, "").strip()
    stamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not given:
        raise WebhookRejected(401, "missing X-Chatwoot-Signature")
    if not stamp.isdigit():
        raise WebhookRejected(401, "missing or malformed X-Chatwoot-Timestamp")
    moment = time.time() if now is None else now
    if abs(moment - int(stamp)) > max_age:
        raise WebhookRejected(401, "X-Chatwoot-Timestamp is too old (or in the future): a replayed call?")
    if not hmac.compare_digest(given.lower().encode(), signature(secret, stamp, body).encode()):
        raise WebhookRejected(401, "wrong X-Chatwoot-Signature")


def token_matches(expected: str, query: Mapping[str, list[str]] | Mapping[str, object]) -> bool:
    """The secret `?token=` of a webhook URL, compared in constant time."""
    values = query.get("token") or []
    given = values[-1] if isinstance(values, (list, tuple)) and values else ""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
