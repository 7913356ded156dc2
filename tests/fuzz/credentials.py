"""Genuine, forged and ambiguous credentials for each way a caller proves who it is.

The helpers take the `draw` of the composite strategy that calls them: a
strategy object built per case would cost more than the case's draws.

A forged credential must be refused (401/403) before anything is read; a
genuine one lets the fuzzed body through to the parser behind the check,
which is the point of sending it. "Ambiguous" is a genuine credential sent
twice with a forged twin: the answer may go either way, it only must not be a 5xx.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from enum import Enum
from typing import Optional

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from . import noise
from .noise import NOT_UTF8, SURROGATE_BYTES
from .strategies import noises

HeaderList = list[tuple[bytes, bytes]]
_NOT_UTF8 = st.sampled_from(NOT_UTF8)
_RANDOM = noises().map(noise.header_value)
_COIN = st.booleans()
# A forged call carries no credential at all one time in five.
_NONE_SOMETIMES = st.integers(0, 4)


class Trust(Enum):
    GENUINE = "genuine"
    FORGED = "forged"
    AMBIGUOUS = "ambiguous"


@functools.cache
def trusts() -> SearchStrategy[Trust]:
    """Half genuine (the parser is what we are after), a third forged, the rest ambiguous."""
    return st.sampled_from([Trust.GENUINE] * 3 + [Trust.FORGED] * 2 + [Trust.AMBIGUOUS])


# -- bearer key (the webhook protocol; the inbox's header) ----------------------------------


@functools.cache
def genuine_bearers(key: str) -> SearchStrategy[bytes]:
    return st.sampled_from([b"Bearer " + key.encode(), b"bearer " + key.encode(), b"BEARER   " + key.encode()])


@functools.cache
def forged_bearers(key: str) -> SearchStrategy[bytes]:
    raw = key.encode()
    return st.one_of(
        st.sampled_from(
            [
                b"Bearer " + raw[:-1],
                b"Bearer " + raw + b"x",
                b"Basic " + raw,
                b"Bearer",
                b"Bearer ",
                raw,
                b"Bearer " + SURROGATE_BYTES + raw,
                b"Bearer " + raw[:4] + SURROGATE_BYTES,
            ]
        ),
        _NOT_UTF8.map(lambda bad: b"Bearer " + raw[:-1] + bad),
        _NOT_UTF8.map(lambda bad: b"Bearer " + bad),
        _RANDOM,
        _RANDOM.map(lambda value: b"Bearer " + value),
    )


def bearer_headers(draw: DrawFn, key: str, trust: Trust) -> HeaderList:
    """The Authorization header(s) of a call with this trust (a forged call may carry none)."""
    if trust is Trust.GENUINE:
        return [(b"Authorization", draw(genuine_bearers(key)))]
    forged = [(b"Authorization", noise.legal(draw(forged_bearers(key))))] if draw(_NONE_SOMETIMES) else []
    if trust is Trust.FORGED:
        return forged
    return [*forged, (b"Authorization", draw(genuine_bearers(key)))] if draw(_COIN) else [
        (b"Authorization", draw(genuine_bearers(key))),
        *(forged or [(b"Authorization", b"Bearer nope")]),
    ]


# -- Intercom's X-Hub-Signature --------------------------------------------------------------


def signature(secret: str, body: bytes) -> bytes:
    """What Intercom sends: `sha1=` and the hex HMAC-SHA1 of the raw body with the client secret."""
    return b"sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().encode()


def forged_signature(variant: int, rng: noise.Noise, secret: str, body: bytes) -> bytes:
    """One of the ways to get X-Hub-Signature wrong for `body` (`variant` picks which)."""
    right = signature(secret, body)
    choices = (
        b"sha1=" + b"0" * 40,
        right[:-1],
        right + b"0",
        b"sha256=" + right[5:],
        right[5:],
        signature("another-apps-secret", body),
        signature(secret, body + b" "),
        b"sha1=",
        right[:-2] + SURROGATE_BYTES,
        right[:-1] + rng.choice(NOT_UTF8),
        b"sha1=" + rng.choice(NOT_UTF8),
        noise.header_value(rng),
    )
    return noise.legal(choices[variant % len(choices)])


_SIGNATURE_VARIANTS = st.integers(0, 11)


def signature_headers(draw: DrawFn, rng: noise.Noise, secret: str, body: bytes, trust: Trust) -> HeaderList:
    """The X-Hub-Signature header(s) of a call over `body` with this trust."""
    right = signature(secret, body)
    genuine = [(b"X-Hub-Signature", right.upper().replace(b"SHA1=", b"sha1=") if draw(_COIN) else right)]
    if trust is Trust.GENUINE:
        return genuine
    wrong = forged_signature(draw(_SIGNATURE_VARIANTS), rng, secret, body)
    forged = [(b"X-Hub-Signature", wrong)] if draw(_NONE_SOMETIMES) else []
    if trust is Trust.FORGED:
        return forged
    return [*forged, *genuine] if draw(_COIN) else [*genuine, *(forged or [(b"X-Hub-Signature", b"sha1=")])]


# -- the inbox token (a bearer header or ?token=) ------------------------------------------------


@functools.cache
def forged_token_queries(token: str) -> SearchStrategy[Optional[str]]:
    """`token=` values that are not the token (None: no such parameter)."""
    return st.sampled_from([None, "", "wrong", token[:-1], "%FF", "%ED%A0%BD", token + "%ED%A0%BD", token.upper()])


def inbox_credentials(draw: DrawFn, token: str, trust: Trust) -> tuple[HeaderList, Optional[str]]:
    """Headers and a `token=` query value (None: no such parameter) of a call with this trust."""
    if trust is Trust.GENUINE:
        if draw(_COIN):
            return bearer_headers(draw, token, Trust.GENUINE), None
        return [], token
    forged_query = draw(forged_token_queries(token))
    headers = bearer_headers(draw, token, Trust.FORGED)
    if trust is Trust.FORGED:
        return headers, forged_query
    # A genuine header beside a forged query, or a genuine query beside a forged header.
    if draw(_COIN):
        return bearer_headers(draw, token, Trust.GENUINE), forged_query
    return headers, token
