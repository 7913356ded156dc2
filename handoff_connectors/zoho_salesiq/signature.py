"""SalesIQ's webhook signature: RSA, SHA256withRSA (PKCS#1 v1.5), base64, over the raw UTF-8 body.

SalesIQ signs each call with the private key of the webhook's key pair and
sends the signature in `x-siqsignature`; the public key is what the portal
(or `POST /api/v2/{screenname}/webhooks/{id}/keys`) gives. `cryptography`
comes with the `zoho_salesiq` extra and is imported only when a key is used.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Sequence

from ..core.contract import WebhookRejected

SIGNATURE_HEADER = "x-siqsignature"
_INSTALL = 'Zoho SalesIQ\'s signed webhooks need the cryptography package: pip install "rasa-handoff[zoho_salesiq]"'


def _crypto() -> Any:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - the extra is installed in the tests
        raise ValueError(_INSTALL) from None
    return InvalidSignature, hashes, serialization, padding, rsa


def load_public_key(text: str) -> Any:
    """An RSA public key from PEM, or from the bare base64 DER SalesIQ shows; ValueError when it is neither."""
    _, _, serialization, _, rsa = _crypto()
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise ValueError("not an RSA public key (PEM, or the base64 key SalesIQ shows)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def verify(keys: Sequence[Any], headers: dict[str, str], body: bytes) -> None:
    """WebhookRejected(401) unless one of `keys` signed `body` (nothing to check without keys)."""
    if not keys:
        return
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
    try:
        signature = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected(401, f"wrong {SIGNATURE_HEADER}") from None
    InvalidSignature, hashes, _, padding, _ = _crypto()
    for key in keys:
        try:
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            return
        except (InvalidSignature, ValueError):
            continue
    raise WebhookRejected(401, f"wrong {SIGNATURE_HEADER}")
