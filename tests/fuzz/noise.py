"""Seeded noise: the bulk of a fuzz case (random text, bytes, JSON, header values, queries).

Why not hypothesis for these too: hypothesis pays about a millisecond per
draw, and a case made of random headers, a query and a JSON document is
fifty draws; 27 routes times a thousand cases would take CI ten minutes.
So hypothesis picks the shape of each case (which body, which field goes
wrong and how, which credential, how deep, how big) and a seed, and the
noise comes from a `Noise` (a `random.Random`) made from that seed: still
derandomized, still reproducible, and a failing case prints its seed.
"""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import quote

LONE_SURROGATES = ("\ud83d", "\ude00", "\ud800", "\udfff")
# A lone surrogate as it travels in a header or URL: its UTF-8-like form, which is invalid UTF-8.
SURROGATE_BYTES = "\ud83d".encode("utf-8", "surrogatepass")
# Not UTF-8 at all: a forbidden byte, a stray continuation byte, cut sequences, a surrogate.
NOT_UTF8 = (b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xfe\xfe", SURROGATE_BYTES)

_SPECIAL_TEXT = (
    "", " ", "\t\n", "0", "-1", "null", "true", "[]", "{}", "\x00", "\u202e", "\ufeff", "..", "../../etc/passwd",
    "%s%n", "<script>alert(1)</script>", "<p>", "&amp;", "\U0001f600", "a" * 1000, *LONE_SURROGATES,
)
_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# What the HTTP client lets through in a header value: VCHAR, obs-text, space, tab (no control bytes).
_VALUE_BYTES = bytes([*range(0x21, 0x7F), *range(0x80, 0x100), 0x20, 0x09])
_COMMON_HEADERS = (b"Authorization", b"X-Hub-Signature", b"Content-Type", b"Cookie",
                   b"X-Forwarded-For", b"User-Agent", b"Origin", b"Content-Encoding", b"Accept-Encoding")

# Headers about the connection itself: the client sets them, or refuses ours; they concern the HTTP server.
TRANSPORT_HEADERS = frozenset(
    {b"content-length", b"transfer-encoding", b"host", b"connection", b"expect", b"upgrade", b"te", b"trailer",
     b"keep-alive", b"proxy-connection"}
)
_SPECIAL_SEGMENTS = ("%FF", "%ED%A0%BD", "%C3", "%", "%zz", "..", "%2E%2E", "%2F", "%00", "a%20b", "x" * 5000, "%25")
_SPECIAL_QUERIES = (
    "=", "&&", "a=%FF", "a=%ED%A0%BD", "%", "a=1&a=2", "token", "token=", "token=%FF", "sender=%ED%A0%BD",
)


class Noise(random.Random):
    """A `random.Random` that prints its seed, so a failing case can be told and replayed."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seed_value = seed

    def __repr__(self) -> str:
        return f"Noise({self.seed_value})"


def char(rng: random.Random) -> str:
    """Any code point: mostly printable ASCII, with controls, lone surrogates and astral planes."""
    roll = rng.random()
    if roll < 0.5:
        return chr(rng.randint(0x20, 0x7E))
    if roll < 0.6:
        return chr(rng.randint(0, 0x1F))
    if roll < 0.7:
        return chr(rng.randint(0xD800, 0xDFFF))
    if roll < 0.9:
        return chr(rng.randint(0x80, 0xFFFF))
    return chr(rng.randint(0x10000, 0x10FFFF))


def text(rng: random.Random, max_size: int = 40) -> str:
    if rng.random() < 0.2:
        return rng.choice(_SPECIAL_TEXT)
    return "".join(char(rng) for _ in range(rng.randint(0, max_size)))


def scalar(rng: random.Random) -> Any:
    roll = rng.randrange(8)
    if roll == 0:
        return None
    if roll == 1:
        return rng.random() < 0.5
    if roll == 2:
        return rng.randint(-(2**63), 2**63)
    if roll == 3:
        return rng.choice([0, -1, 10**40, -(10**40), 2**64])
    if roll == 4:
        return rng.choice([0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan"), rng.uniform(-1e9, 1e9)])
    return text(rng)


def json_value(rng: random.Random, depth: int = 3) -> Any:
    """JSON of a random shape: scalars, and lists and objects of them, up to `depth` levels."""
    roll = rng.randrange(10) if depth > 0 else 0
    if roll < 6:
        return scalar(rng)
    if roll < 8:
        return [json_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return {text(rng, 12): json_value(rng, depth - 1) for _ in range(rng.randint(0, 4))}


def wrong_value(rng: random.Random) -> Any:
    """A value of some other type than a field expects (or of the same type, but hostile)."""
    if rng.random() < 0.4:
        return rng.choice([None, True, False, 0, -1, 1.5, 10**30, "", " ", [], {}, [[]], {"": None}, ["x"], {"id": 1}])
    return json_value(rng)


def json_bytes(rng: random.Random, value: Any) -> bytes:
    """`value` as JSON: surrogates as `\\ud83d` escapes, or as raw (invalid UTF-8) bytes."""
    if rng.random() < 0.5:
        return json.dumps(value).encode("ascii")
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def random_bytes(rng: random.Random, max_size: int = 1024) -> bytes:
    return rng.randbytes(rng.randint(0, max_size))


def header_value(rng: random.Random) -> bytes:
    """A header value with any byte HTTP allows: non-UTF-8 and surrogate bytes included."""
    roll = rng.random()
    if roll < 0.4:
        raw = bytes(rng.choice(_VALUE_BYTES) for _ in range(rng.randint(0, 60)))
    elif roll < 0.7:
        raw = text(rng, 20).encode("utf-8", "surrogatepass") + rng.choice(NOT_UTF8)
    else:
        raw = rng.choice(NOT_UTF8) + text(rng, 10).encode("utf-8", "surrogatepass")
    return legal(raw)


def legal(value: bytes) -> bytes:
    """`value` as the HTTP client sends it: no control bytes, no blank at either end."""
    return bytes(b for b in value if b in _VALUE_BYTES).strip(b" \t")


def header_name(rng: random.Random) -> bytes:
    if rng.random() < 0.4:
        return rng.choice(_COMMON_HEADERS)
    name = "".join(rng.choice(_TOKEN_CHARS) for _ in range(rng.randint(1, 16))).encode()
    return b"X-Fuzz-" + name if name.lower() in TRANSPORT_HEADERS else name


def extra_headers(rng: random.Random) -> list[tuple[bytes, bytes]]:
    return [(header_name(rng), header_value(rng)) for _ in range(rng.randint(0, 4))]


def url_segment(rng: random.Random) -> str:
    """A path segment as on the wire: percent-encoded text (surrogates too) or a bad escape."""
    if rng.random() < 0.25:
        return rng.choice(_SPECIAL_SEGMENTS)
    return quote(text(rng, 30).encode("utf-8", "surrogatepass"), safe="") or "x"


def query(rng: random.Random) -> str:
    """A query string: none, random pairs (encoded any way), or a malformed one."""
    roll = rng.random()
    if roll < 0.4:
        return ""
    if roll < 0.6:
        return rng.choice(_SPECIAL_QUERIES)
    return "&".join(f"{url_segment(rng)}={url_segment(rng)}" for _ in range(rng.randint(1, 3)))
