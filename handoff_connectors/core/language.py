"""Which of the four handoff languages a conversation is in.

Bots often know already (a `language` slot, or the channel's metadata); when
they don't, a few very common words of each language decide. That is enough
for short chat messages and needs no model.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from .messages import LANGUAGES

_COMMON_WORDS = {
    "en": "i you the a an to with want talk speak person human agent please my is can help need someone real is it me".split(),
    "es": "yo quiero hablar con una un persona humano agente por favor mi es puedo ayuda necesito alguien el la de me".split(),
    "fr": "je veux parler avec une un personne humain agent s'il vous plaît mon est puis aide besoin quelqu'un le la de moi".split(),
    "de": "ich möchte will mit einem einer person mensch menschen mitarbeiter bitte mein ist kann hilfe brauche jemand der die das sprechen".split(),
}
_WORD = re.compile(r"[\w'äöüßéèêàâçñíóúû]+", re.IGNORECASE)


def detect_language(texts: Iterable[str]) -> Optional[str]:
    """The language most of the words belong to; None when nothing matched."""
    scores = dict.fromkeys(LANGUAGES, 0)
    for text in texts:
        for word in _WORD.findall(text.casefold()):
            for language, words in _COMMON_WORDS.items():
                if word in words:
                    scores[language] += 1
    best = max(scores, key=lambda language: scores[language])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best


def pick_language(
    slot_value: Optional[str],
    metadata_value: Optional[str],
    texts: Iterable[str],
    default: str,
) -> str:
    """The slot wins, then the channel's metadata, then the words, then the default."""
    for value in (slot_value, metadata_value):
        code = (value or "").strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return detect_language(texts) or default
