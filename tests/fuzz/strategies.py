"""What a hostile or broken caller sends, as hypothesis strategies.

Bodies: random bytes; JSON of random shapes and types; nesting up to 5,000
levels; strings that fill the 4 MiB body limit; lone UTF-16 surrogates
(`"\\ud83d"`, half an emoji, which JSON allows and UTF-8 cannot carry), as
JSON escapes and as raw bytes; and, most of the time, the route's valid
payload with exactly one field changed, so the parser behind the first
check is reached and each field meets each kind of wrong value.

Headers: random names and values with any byte HTTP lets through (non-UTF-8
and surrogate bytes included), duplicates, a missing or wrong Content-Type.

Hypothesis draws the shape of each case; the noise in it comes from a
seeded `Noise` (see noise.py for why). Strategy objects are built once per
route and the helpers below take the caller's `draw`: building a strategy
costs more than drawing from it.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from . import noise
from .noise import LONE_SURROGATES, Noise
from .wire import Call

MAX_BODY = 4 * 1024 * 1024
MAX_DEPTH = 5000

# A route's valid payload, made from the noise (the ids of live conversations bound in).
Payload = Callable[[Noise], Any]

CONTENT_TYPES: tuple[Optional[bytes], ...] = (
    b"application/json",
    b"application/json",
    None,
    b"text/plain",
    b"application/json; charset=utf-16",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data",
    b"multipart/form-data; boundary=fuzz",
    b"application/\xff",
    b"",
    b"random",
)
# The filler of a huge string, as raw JSON string content (escapes included).
_FILLERS = ("a", "\u00e9", "\U0001f600", "<b>x</b>", "\\ud83d", " ", "\\\"", "\\u0000", "<p>", "&amp;")
_SLOT = "@@fuzz-slot@@"

_NOISES = st.integers(0, 2**32 - 1).map(Noise)
_INDEXES = st.integers(0, 2**16)
_BODY_KINDS = st.sampled_from(["valid", "mutated", "mutated", "mutated", "mutated", "json", "deep", "bytes", "fixed"])
_FIXED_BODIES = st.sampled_from(
    [b"", b"null", b"[]", b"{}", b'"\\ud83d"', b"\xff", b'{"a":' + noise.SURROGATE_BYTES + b"}"]
)
# Near-limit bodies cost the most (4 MiB each way): one mutation in ten.
_MUTATIONS = st.sampled_from(
    ["type", "type", "type", "surrogate", "surrogate", "deep", "huge", "drop", "drop", "every"]
)
_DEPTHS = st.one_of(st.integers(1, MAX_DEPTH), st.sampled_from([998, 999, 1000, 1001, 2000, 4999, MAX_DEPTH]))
_NESTERS = st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"a":[', "]}"), ('[{"\\ud83d":', "}]")])
_CORES = st.sampled_from(["1", '"x"', "null", "[]", "{}", '"\\ud83d"'])
_UNCLOSED = st.sampled_from([False] * 9 + [True])
_HUGE_SIZES = st.one_of(
    st.integers(64 * 1024, MAX_BODY // 4),
    st.integers(MAX_BODY // 4, MAX_BODY),
    st.sampled_from([MAX_BODY - 1, MAX_BODY, MAX_BODY + 1]),
)
_HUGE_FILLERS = st.sampled_from(_FILLERS)
_SURROGATES = st.sampled_from(LONE_SURROGATES)
_CONTENT_TYPES = st.sampled_from(CONTENT_TYPES)
# One body in ten goes chunked (Transfer-Encoding) instead of with a Content-Length.
CHUNKED = st.sampled_from([False] * 9 + [True])


def noises() -> SearchStrategy[Noise]:
    """The seeded noise of one case."""
    return _NOISES


# -- deep and huge ---------------------------------------------------------------------------


def deep_json(draw: DrawFn) -> str:
    """JSON text nested up to 5,000 levels: arrays, objects, both in turn; sometimes left unclosed."""
    depth = draw(_DEPTHS)
    opener, closer = draw(_NESTERS)
    text = opener * depth + draw(_CORES) + closer * depth
    if draw(_UNCLOSED):
        text = text[: len(text) - depth // 2 - 1]
    return text


def huge_string_json(draw: DrawFn, room: int) -> str:
    """A JSON string literal that brings a body with `room` bytes besides it near (or just past) 4 MiB."""
    target = draw(_HUGE_SIZES)
    filler = draw(_HUGE_FILLERS)
    return '"' + filler * max(0, (target - room - 2) // len(filler.encode())) + '"'


# -- one field of a valid payload changed ----------------------------------------------------------


Path = tuple[Any, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value (object keys, list indexes), depth first."""
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        children = []
    found: list[Path] = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def changed(value: Any, path: Path, new: Any = None, drop: bool = False) -> Any:
    """A deep copy of `value` with the thing at `path` replaced by `new` (or dropped)."""
    copy = json.loads(json.dumps(value))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


def at(value: Any, path: Path) -> Any:
    """The thing at `path` in `value`."""
    for key in path:
        value = value[key]
    return value


def with_surrogate(value: Any, surrogate: str) -> Any:
    """`value` with a lone surrogate in the middle of every string, keys included."""
    if isinstance(value, str):
        return value[: len(value) // 2] + surrogate + value[len(value) // 2 :]
    if isinstance(value, dict):
        return {with_surrogate(k, surrogate): with_surrogate(v, surrogate) for k, v in value.items()}
    if isinstance(value, list):
        return [with_surrogate(item, surrogate) for item in value]
    return value


def mutated(draw: DrawFn, valid: Any, rng: Noise) -> bytes:
    """`valid` with one field changed: a wrong type, a surrogate, deep nesting, a huge string, or gone.

    Or ("every") a lone surrogate in every string of it at once.
    """
    places = paths(valid)
    how = draw(_MUTATIONS)
    if how == "every" or not places:
        return noise.json_bytes(rng, with_surrogate(valid, draw(_SURROGATES)))
    path = places[draw(_INDEXES) % len(places)]
    if how in ("type", "drop"):
        return noise.json_bytes(rng, changed(valid, path, noise.wrong_value(rng), drop=how == "drop"))
    if how == "surrogate":
        current = at(valid, path)
        text = current if isinstance(current, str) else noise.text(rng, 8)
        return noise.json_bytes(rng, changed(valid, path, with_surrogate(text, draw(_SURROGATES))))
    template = json.dumps(changed(valid, path, _SLOT))
    room = len(template.encode()) - len(_SLOT) - 2
    slot = deep_json(draw) if how == "deep" else huge_string_json(draw, room)
    return template.replace(json.dumps(_SLOT), slot, 1).encode("utf-8", "surrogatepass")


def fuzzed_body(draw: DrawFn, rng: Noise, valid: Payload) -> bytes:
    """A route's body: mostly its valid payload with one field changed; else valid, or anything."""
    kind = draw(_BODY_KINDS)
    if kind == "valid":
        return noise.json_bytes(rng, valid(rng))
    if kind == "mutated":
        return mutated(draw, valid(rng), rng)
    if kind == "json":
        return noise.json_bytes(rng, noise.json_value(rng))
    if kind == "deep":
        return deep_json(draw).encode()
    if kind == "bytes":
        return noise.random_bytes(rng)
    return draw(_FIXED_BODIES)


# -- headers and queries ----------------------------------------------------------------------------


def header_lists(draw: DrawFn, rng: Noise, credentials: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """`credentials`, a Content-Type (or none), and random extras, in random order."""
    headers = list(credentials)
    content_type = draw(_CONTENT_TYPES)
    if content_type == b"random":
        content_type = noise.header_value(rng)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    headers += noise.extra_headers(rng)
    rng.shuffle(headers)
    return tuple(headers)


def with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


# -- calls nobody expects ------------------------------------------------------------------------------

_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FUZZ"])


@st.composite
def stray_calls(draw: DrawFn, known_paths: tuple[str, ...]) -> Call:
    """Any method on a known path or a made-up one: Sanic answers these itself (404, 405...)."""
    rng = draw(noises())
    method = draw(_METHODS)
    if rng.random() < 0.5:
        path = rng.choice(known_paths)
    else:
        path = "/" + "/".join(noise.url_segment(rng) for _ in range(rng.randint(1, 4)))
    body = noise.random_bytes(rng, 256) if rng.random() < 0.3 else b""
    headers = header_lists(draw, rng, [])
    # An event stream never ends: its status is all there is to read.
    stream = path.endswith("/events")
    return Call(method, with_query(path, noise.query(rng)), headers, body, stream=stream, chunked=draw(CHUNKED))
