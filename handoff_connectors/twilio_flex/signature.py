"""Twilio's request signature, `X-Twilio-Signature`.

Twilio signs each webhook with the account's auth token: the base64 of the
HMAC-SHA1 of the full URL it called (scheme, host, path and query, exactly
as configured) followed by every POST field, sorted by name, each written as
name then value with nothing between. A repeated field adds each of its
(distinct, sorted) values under its name, as Twilio's own validators do.
Twilio may or may not count a default port (:443, :80) as part of the URL:
both forms are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from ..core.contract import WebhookRejected, WebhookRequest

SIGNATURE_HEADER = "x-twilio-signature"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def signature(auth_token: str, url: str, form: Mapping[str, Sequence[str]]) -> str:
    signed = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_forms(url: str) -> list[str]:
    """The URL as called, and the same with its default port written out or left out."""
    parts = urlsplit(url)
    port = _DEFAULT_PORTS.get(parts.scheme)
    if port is None or not parts.hostname:
        return [url]
    try:
        given = parts.port
    except ValueError:
        return [url]
    host = parts.netloc.rsplit("@", 1)[-1]
    if given is None:
        other = parts._replace(netloc=f"{host}:{port}")
    elif given == port:
        other = parts._replace(netloc=host.rsplit(":", 1)[0])
    else:
        return [url]
    return [url, urlunsplit(other)]


def verify(auth_token: str, request: WebhookRequest) -> None:
    """Raise WebhookRejected(401) unless the call carries Twilio's signature of its URL and form."""
    given = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise WebhookRejected(401, "missing X-Twilio-Signature")
    for url in url_forms(request.url):
        if hmac.compare_digest(given.encode(), signature(auth_token, url, request.form).encode()):
            return
    raise WebhookRejected(401, "wrong X-Twilio-Signature (signed for another URL, form or auth token)")
