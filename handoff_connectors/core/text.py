"""Text as every protocol on the way can carry it.

JSON allows a lone UTF-16 surrogate (`"\\ud83d"`: half an emoji, which a
desk written in JavaScript can send), but UTF-8 cannot encode one, so such a
string fails in whatever encodes it next: an HTTP client, a database key, a
log line. Repairing it where it enters (the pair joined, a lone half turned
into U+FFFD) keeps the rest of the words and lets them through.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

REPLACEMENT = "\ufffd"


def repair_text(text: str) -> str:
    """`text` encodable as UTF-8: surrogate pairs joined, lone surrogates replaced."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def repaired(value: T) -> T:
    """`value` with every string in it repaired: lists, tuples, dicts and dataclasses too."""
    if isinstance(value, str):
        return repair_text(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {repaired(key): repaired(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(repaired(item) for item in value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            if field.init:
                current = getattr(value, field.name)
                fixed = repaired(current)
                if fixed is not current:
                    changes[field.name] = fixed
        return dataclasses.replace(value, **changes) if changes else value
    return value
