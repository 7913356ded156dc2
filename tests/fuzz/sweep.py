"""Every field of a valid payload, each given every kind of wrong value: a sweep, not a sample.

Random mutation reaches a given field of a 100-field notification a handful
of times in a thousand cases; this walks them all. Fields are taken once per
shape (`parts[0].author.id` and `parts[1].author.id` are one field), from the
first payload that has them.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from .noise import SURROGATE_BYTES
from .strategies import Path, changed, paths

_DEEP = "[" * 1500 + "]" * 1500
_SLOT = "@@sweep-slot@@"
# One of each JSON type, the hostile strings, and nesting past the recursion limit.
WRONG_VALUES: tuple[Any, ...] = (None, True, 7, -1.5, 10**30, "", " ", "x", "\ud83d", [], [7], {}, {"x": 7}, _SLOT)


def _shape(path: Path) -> tuple[Any, ...]:
    return tuple("[]" if isinstance(key, int) else key for key in path)


def fields(payloads: list[Any]) -> Iterator[tuple[Any, Path]]:
    """(payload, path) for every field shape among `payloads`, once each."""
    seen: set[tuple[Any, ...]] = set()
    for payload in payloads:
        for path in paths(payload):
            if _shape(path) not in seen:
                seen.add(_shape(path))
                yield payload, path


def _encoded(value: Any) -> bytes:
    return json.dumps(value).replace(json.dumps(_SLOT), _DEEP).encode()


def swept_bodies(payloads: list[Any]) -> Iterator[bytes]:
    """Each field of `payloads` with each wrong value, dropped, and with a raw surrogate byte in it."""
    for payload, path in fields(payloads):
        for wrong in WRONG_VALUES:
            yield _encoded(changed(payload, path, wrong))
        yield _encoded(changed(payload, path, drop=True))
        yield _encoded(changed(payload, path, _SLOT + "-raw")).replace(
            json.dumps(_SLOT + "-raw").encode(), b'"' + SURROGATE_BYTES + b'"'
        )
