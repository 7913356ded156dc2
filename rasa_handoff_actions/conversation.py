"""What the actions read from a Rasa tracker: transcript, email, language."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from rasa_sdk import Tracker

from handoff_connectors.core.contract import Speaker, Turn
from handoff_connectors.core.language import pick_language

from .names import SLOT_LANGUAGE

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)


def latest_intent(tracker: Tracker) -> Optional[str]:
    """The intent of the latest message, external pushes and button payloads included.

    (rasa-sdk's `get_intent_of_latest_message` reads the NLU ranking, which
    intents pushed with trigger_intent don't have.)
    """
    return (tracker.latest_message.get("intent") or {}).get("name")


def find_email(text: Optional[str]) -> Optional[str]:
    """The first well-formed email address in `text`, domain lower-cased."""
    match = _EMAIL.search(text or "")
    if not match:
        return None
    local, _, domain = match.group(0).rpartition("@")
    if len(local) > 64 or ".." in local:
        return None
    return f"{local}@{domain.lower()}"


def session_events(tracker: Tracker) -> list[dict[str, Any]]:
    """The events since the current session started."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index + 1 :]
    return events


def is_external(message: dict[str, Any]) -> bool:
    """Whether a user event (or a tracker's latest_message) was pushed by trigger_intent."""
    metadata = message.get("metadata") or {}
    parsed = message.get("parse_data") or message
    intent = (parsed.get("intent") or {}).get("name") or ""
    return bool(metadata.get("is_external")) or intent.startswith("EXTERNAL_")


def user_texts(events: Iterable[dict[str, Any]]) -> list[str]:
    return [
        event.get("text") or ""
        for event in events
        if event.get("event") == "user" and not is_external(event)
    ]


def events_before(events: list[dict[str, Any]], question: str) -> list[dict[str, Any]]:
    """The events before the user's last message that read `question`."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user" and not is_external(event) and event.get("text") == question:
            return events[:index]
    return events


def transcript(events: list[dict[str, Any]], rounds: int) -> list[Turn]:
    """The last `rounds` exchanges (a user message and the bot's answers).

    Button payloads such as `/greet` and pushes from the sidecar are not
    things anyone said, so they are left out.
    """
    exchanges: list[list[Turn]] = []
    for event in events:
        text = (event.get("text") or "").strip()
        if not text:
            continue
        if event.get("event") == "user":
            said = not is_external(event) and not text.startswith("/")
            # A pushed event or a button payload still starts a new exchange,
            # so the answers to it never join the user's previous question.
            exchanges.append([Turn(Speaker.USER, text)] if said else [])
        elif event.get("event") == "bot" and exchanges:
            exchanges[-1].append(Turn(Speaker.BOT, text))
    exchanges = [exchange for exchange in exchanges if exchange and exchange[0].speaker is Speaker.USER]
    chosen = exchanges[-rounds:] if rounds else []
    return [turn for exchange in chosen for turn in exchange]


def known_email(tracker: Tracker, slot: str) -> Optional[str]:
    """An email the bot already has: the slot, or any message's metadata."""
    candidates = [tracker.get_slot(slot)]
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            candidates.append(metadata.get("email"))
    for candidate in candidates:
        if isinstance(candidate, str) and (email := find_email(candidate)):
            return email
    return None


def conversation_language(tracker: Tracker, language_slot: Optional[str], default: str) -> str:
    slot_value = tracker.get_slot(language_slot) if language_slot else None
    metadata = tracker.latest_message.get("metadata") or {}
    metadata_value = metadata.get("language") or metadata.get("locale")
    return pick_language(slot_value, metadata_value, user_texts(session_events(tracker))[-5:], default)


def handoff_language(tracker: Tracker, config: Any) -> str:
    """The language of the handoff's texts: fixed when it starts, detected before that."""
    return tracker.get_slot(SLOT_LANGUAGE) or conversation_language(
        tracker, config.language_slot, config.default_language
    )
