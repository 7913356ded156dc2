"""Reading Sunshine Conversations webhook calls (payload version v2).

A call is `{"app": {"id"}, "webhook": {"id", "version"}, "events": [...]}`;
each event has an `id` (repeated when Sunshine retries the call), a `type`
(the trigger: `conversation:message`, `switchboard:passControl`, ...) and a
`payload` whose `conversation.id` names the conversation. The webhook's
secret comes as the `X-API-Key` header on every call: that is all the
authentication Sunshine gives (no body signature).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Optional

from ..core.contract import WebhookRejected
from ..core.http import json_object

API_KEY_HEADER = "x-api-key"

MESSAGE = "conversation:message"
TYPING = "conversation:typing"
READ = "conversation:read"
REMOVED = "conversation:remove"
PASS_CONTROL = "switchboard:passControl"
RELEASE_CONTROL = "switchboard:releaseControl"
# The triggers the connector reads; every other event of a call is passed over.
TRIGGERS = (MESSAGE, TYPING, READ, REMOVED, PASS_CONTROL, RELEASE_CONTROL)


def verify(secret: str, headers: dict[str, str]) -> None:
    given = headers.get(API_KEY_HEADER, "")
    if not given:
        raise WebhookRejected(401, "missing X-API-Key")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookRejected(401, "wrong X-API-Key")


@dataclass(frozen=True)
class Author:
    type: str
    name: Optional[str]
    user_id: Optional[str]
    email: Optional[str]


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    conversation_id: str
    payload: dict[str, Any]

    @property
    def conversation(self) -> dict[str, Any]:
        return self.payload["conversation"]

    @property
    def active_integration(self) -> Optional[dict[str, Any]]:
        """The switchboard integration in control (omitted when none is)."""
        active = self.conversation.get("activeSwitchboardIntegration")
        return active if isinstance(active, dict) else None

    @property
    def metadata(self) -> dict[str, Any]:
        found = self.payload.get("metadata")
        return found if isinstance(found, dict) else {}

    @property
    def message(self) -> dict[str, Any]:
        return self.payload["message"]

    @property
    def content(self) -> dict[str, Any]:
        return self.message["content"]

    @property
    def author(self) -> Author:
        """The message's author (conversation:message) or the activity's (typing, read)."""
        holder = self.payload.get("message") if self.type == MESSAGE else self.payload.get("activity")
        author = holder.get("author") if isinstance(holder, dict) else None
        author = author if isinstance(author, dict) else {}
        user = author.get("user") if isinstance(author.get("user"), dict) else {}
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        return Author(
            type=str(author.get("type") or ""),
            name=_text(author.get("displayName")),
            user_id=_text(author.get("userId")) or _text(user.get("id")),
            email=_text(profile.get("email")),
        )

    @property
    def activity_type(self) -> str:
        activity = self.payload.get("activity")
        return str(activity.get("type") or "") if isinstance(activity, dict) else ""


@dataclass(frozen=True)
class Call:
    app_id: Optional[str]
    events: list[Event]


def parse(body: bytes) -> Call:
    """The events of a call that the connector reads; WebhookRejected(400) naming a field that is off."""
    payload = json_object(body)
    app = payload.get("app")
    app_id = _text(app.get("id")) if isinstance(app, dict) else None
    listed = payload.get("events")
    if not isinstance(listed, list):
        raise WebhookRejected(400, "events: must be a list")
    events = []
    for index, raw in enumerate(listed):
        where = f"events[{index}]"
        if not isinstance(raw, dict):
            raise WebhookRejected(400, f"{where}: must be an object")
        event_id, kind = _text(raw.get("id")), raw.get("type")
        if not event_id:
            raise WebhookRejected(400, f"{where}.id: missing")
        if not isinstance(kind, str) or not kind:
            raise WebhookRejected(400, f"{where}.type: missing")
        if kind not in TRIGGERS:
            continue
        body_of = raw.get("payload")
        if not isinstance(body_of, dict):
            raise WebhookRejected(400, f"{where}.payload: must be an object")
        conversation = body_of.get("conversation")
        conversation_id = _text(conversation.get("id")) if isinstance(conversation, dict) else None
        if not conversation_id:
            raise WebhookRejected(400, f"{where}.payload.conversation.id: missing")
        if kind == MESSAGE:
            _check_message(body_of.get("message"), f"{where}.payload.message")
        events.append(Event(event_id, kind, conversation_id, body_of))
    return Call(app_id, events)


def _check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise WebhookRejected(400, f"{where}: must be an object")
    author, content = message.get("author"), message.get("content")
    if not isinstance(author, dict) or author.get("type") not in ("user", "business"):
        raise WebhookRejected(400, f"{where}.author.type: must be user or business")
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        raise WebhookRejected(400, f"{where}.content.type: missing")
    for field in ("text", "mediaUrl", "payload"):
        if content.get(field) is not None and not isinstance(content[field], str):
            raise WebhookRejected(400, f"{where}.content.{field}: must be a string")


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None
