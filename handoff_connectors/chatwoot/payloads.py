"""Reading the webhooks of Chatwoot and of desks built on it (LiveDesk's `Channel::Api` payloads).

Chatwoot posts one JSON object per event, `event` naming it:

- message events (`message_created`, `message_updated`): the message at the
  top level (`id`, `content`, `message_type`, `private`, `sender`,
  `attachments`, `content_attributes`) with its `conversation` (whose `id`
  is the conversation's number in the account, the id the API takes);
- conversation events (`conversation_created`, `conversation_updated`,
  `conversation_status_changed`, and the agent bot's `conversation_opened`
  / `conversation_resolved`): the conversation itself at the top level
  (`id`, `status`, `meta.assignee`, `changed_attributes`, `timestamp`);
- typing events (`conversation_typing_on` / `_off`): `conversation`, the
  `user` typing, `is_private`.

`read(body)` checks every field the connectors use, once, and answers a
400 naming the field when one is off; what it returns is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.contract import Attachment, WebhookRejected
from ..core.http import json_object

MESSAGE_EVENTS = ("message_created", "message_updated")
TYPING_EVENTS = ("conversation_typing_on", "conversation_typing_off")
CONVERSATION_EVENTS = (
    "conversation_created",
    "conversation_updated",
    "conversation_status_changed",
    "conversation_opened",
    "conversation_resolved",
)
# The API answers message_type as a number, the webhooks as a word.
_MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


@dataclass(frozen=True)
class Person:
    type: str  # "contact", "user" (an agent), "agent_bot", or "" when unknown
    id: Optional[str]
    name: Optional[str]
    email: Optional[str] = None


@dataclass(frozen=True)
class Message:
    id: str
    content: str
    message_type: str
    private: bool
    sender: Person
    attachments: tuple[Attachment, ...] = ()
    content_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One webhook call, read."""

    event: str
    conversation_id: Optional[str]
    message: Optional[Message] = None
    status: Optional[str] = None
    assignee: Optional[Person] = None
    #: conversation_updated: the attributes that changed -> (previous, current)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    typing_user: Optional[Person] = None
    private: bool = False
    #: what the desk repeats when it sends the same state again (the conversation's own clock)
    moment: str = ""
    inbox_id: Optional[str] = None


def read(body: bytes) -> Delivery:
    payload = json_object(body)
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise WebhookRejected(400, "event: required, the event's name")
    if event in MESSAGE_EVENTS:
        return _message_delivery(event, payload)
    if event in TYPING_EVENTS:
        conversation = _object(payload, "conversation", "", required=True)
        user = _object(payload, "user", "")
        private = payload.get("is_private")
        if private is not None and not isinstance(private, bool):
            raise WebhookRejected(400, "is_private: must be true or false")
        return Delivery(
            event=event,
            conversation_id=_id(conversation, "id", "conversation", required=True),
            typing_user=_person(user, "user") if user else None,
            private=bool(private),
            moment=_moment(conversation, "conversation"),
        )
    if event in CONVERSATION_EVENTS:
        meta = _object(payload, "meta", "")
        assignee = _object(meta, "assignee", "meta")
        return Delivery(
            event=event,
            conversation_id=_id(payload, "id", "", required=True),
            status=_text(payload, "status", ""),
            assignee=_person(assignee, "meta.assignee") if assignee else None,
            changed=_changes(payload),
            moment=_moment(payload, ""),
            inbox_id=_id(payload, "inbox_id", ""),
        )
    return Delivery(event=event, conversation_id=None)


def _message_delivery(event: str, payload: dict[str, Any]) -> Delivery:
    conversation = _object(payload, "conversation", "", required=True)
    message_id = _id(payload, "id", "", required=True)
    kind = payload.get("message_type")
    if isinstance(kind, int) and not isinstance(kind, bool):
        kind = _MESSAGE_TYPES.get(kind, str(kind))
    if not isinstance(kind, str) or not kind:
        raise WebhookRejected(400, "message_type: required, incoming or outgoing")
    private = payload.get("private")
    if private is not None and not isinstance(private, bool):
        raise WebhookRejected(400, "private: must be true or false")
    sender = _object(payload, "sender", "")
    attributes = _object(payload, "content_attributes", "")
    message = Message(
        id=message_id or "",
        content=_text(payload, "content", "") or "",
        message_type=kind,
        private=bool(private),
        sender=_person(sender, "sender") if sender else Person("", None, None),
        attachments=_attachments(payload),
        content_attributes=attributes,
    )
    return Delivery(
        event=event,
        conversation_id=_id(conversation, "id", "conversation", required=True),
        message=message,
        status=_text(conversation, "status", "conversation"),
        moment=message_id or "",
        inbox_id=_id(conversation, "inbox_id", "conversation"),
    )


def _where(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _object(container: dict[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any]:
    value = container.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise WebhookRejected(400, f"{_where(where, key)}: {'required, ' if required else 'must be '}an object")
    return value


def _id(container: dict[str, Any], key: str, where: str, required: bool = False) -> Optional[str]:
    value = container.get(key)
    if value is None or value == "":
        if required:
            raise WebhookRejected(400, f"{_where(where, key)}: required, an id")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise WebhookRejected(400, f"{_where(where, key)}: must be a number or a string")
    return str(value)


def _text(container: dict[str, Any], key: str, where: str) -> Optional[str]:
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise WebhookRejected(400, f"{_where(where, key)}: must be a string or null")
    return value


def _person(entry: dict[str, Any], where: str) -> Person:
    return Person(
        type=_text(entry, "type", where) or "",
        id=_id(entry, "id", where),
        name=_text(entry, "available_name", where) or _text(entry, "name", where) or None,
        email=_text(entry, "email", where) or None,
    )


def _attachments(payload: dict[str, Any]) -> tuple[Attachment, ...]:
    entries = payload.get("attachments")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise WebhookRejected(400, "attachments: must be a list")
    found = []
    for index, entry in enumerate(entries):
        where = f"attachments[{index}]"
        if not isinstance(entry, dict):
            raise WebhookRejected(400, f"{where}: must be an object")
        url = _text(entry, "data_url", where)
        kind = _text(entry, "file_type", where)
        if url:
            found.append(Attachment(url, url.rsplit("/", 1)[-1].split("?", 1)[0] or None, _content_type(kind)))
    return tuple(found)


def _content_type(file_type: Optional[str]) -> Optional[str]:
    # Chatwoot names only the kind of file (image, audio, video, file...).
    return {"image": "image/*", "audio": "audio/*", "video": "video/*"}.get(file_type or "")


def _changes(payload: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """`changed_attributes`: a list of {attribute: {previous_value, current_value}}."""
    entries = payload.get("changed_attributes")
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise WebhookRejected(400, "changed_attributes: must be a list")
    changed: dict[str, tuple[Any, Any]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise WebhookRejected(400, f"changed_attributes[{index}]: must be an object")
        for name, values in entry.items():
            if not isinstance(values, dict):
                raise WebhookRejected(400, f"changed_attributes[{index}].{name}: must be an object")
            changed[name] = (values.get("previous_value"), values.get("current_value"))
    return changed


def _moment(conversation: dict[str, Any], where: str) -> str:
    for key in ("updated_at", "timestamp", "last_activity_at"):
        value = conversation.get(key)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""
