"""Reading Genesys Open Messaging's outbound webhooks: verify the signature, then the normalized message.

Every call carries `X-Hub-Signature-256: sha256=<base64 HMAC-SHA256 of the
raw body, keyed with the integration's secret token>` (base64, unlike
GitHub's hex). The body is an Outbound Open NormalizedMessage:

- `type: "Text"`: an agent's message (`text`, `content[]` attachments);
- `type: "Event"`: `events[]` of `eventType` `Typing` (`typing.type` On/Off)
  and, from the messaging event model, `Presence` (`presence.type` Join,
  Disconnect);
- `type: "Receipt"`: the status of a message (`status`: Read, ...).

The conversation is `channel.to.id`, the user id we sent as `channel.from.id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Optional

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentTyping,
    ConversationClosed,
    DeskEvent,
    MessagesRead,
    WebhookRejected,
)
from ..core.http import json_object

SIGNATURE_HEADER = "x-hub-signature-256"


def signature(secret: str, body: bytes) -> str:
    """The header value Genesys sends: sha256= and the base64 HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    given = headers.get(SIGNATURE_HEADER, "")
    if not given:
        raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
    if not hmac.compare_digest(given.strip().encode(), signature(secret, body).encode()):
        raise WebhookRejected(401, f"wrong {SIGNATURE_HEADER}")


def _text(payload: dict, key: str, where: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(400, f"{where}: missing or not a string")
    return value


def _object(payload: dict, key: str, where: str) -> dict:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise WebhookRejected(400, f"{where}: missing or not an object")
    return value


def agent_name(channel: dict) -> Optional[str]:
    """Who wrote, when Genesys names a person: `from` other than the integration itself."""
    sender = channel.get("from")
    if not isinstance(sender, dict) or sender.get("id") == channel.get("id"):
        return None
    full = " ".join(str(sender.get(part) or "").strip() for part in ("firstName", "lastName")).strip()
    nickname = sender.get("nickname")
    return full or (nickname.strip() if isinstance(nickname, str) and nickname.strip() else None)


def _attachments(payload: dict) -> tuple[str, ...]:
    content = payload.get("content")
    if content is None:
        return ()
    if not isinstance(content, list):
        raise WebhookRejected(400, "content: not a list")
    urls = []
    for element in content:
        attachment = element.get("attachment") if isinstance(element, dict) else None
        if isinstance(attachment, dict) and isinstance(attachment.get("url"), str) and attachment["url"].strip():
            urls.append(attachment["url"].strip())
    return tuple(urls)


def parse(body: bytes) -> list[DeskEvent]:
    """The events a verified call carries; WebhookRejected(400, <field>) when it is malformed."""
    payload = json_object(body)
    message_id = _text(payload, "id", "id")
    channel = _object(payload, "channel", "channel")
    to = _object(channel, "to", "channel.to")
    conversation = _text(to, "id", "channel.to.id")
    kind = _text(payload, "type", "type")
    if payload.get("direction", "Outbound") != "Outbound":
        return []  # Only what Genesys sends to the user concerns us.
    name = agent_name(channel)
    if kind == "Text":
        text = payload.get("text", "")
        if not isinstance(text, str):
            raise WebhookRejected(400, "text: not a string")
        attachments = _attachments(payload)
        if not text.strip() and not attachments:
            raise WebhookRejected(400, "text: a Text message with neither text nor content")
        return [AgentMessage(message_id, conversation, text=text, agent_name=name, attachments=attachments)]
    if kind == "Event":
        return _events(payload, message_id, conversation, name)
    if kind == "Receipt":
        status = payload.get("status")
        if not isinstance(status, str):
            raise WebhookRejected(400, "status: missing on a Receipt")
        if status == "Read":
            # A receipt reuses the id of its message: the event id says which receipt it is.
            return [MessagesRead(f"{message_id}:receipt:Read", conversation, agent_name=name, message_id=message_id)]
        return []
    return []  # Structured messages and future types: nothing the user is shown.


def _events(payload: dict, message_id: str, conversation: str, name: Optional[str]) -> list[DeskEvent]:
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        raise WebhookRejected(400, "events: missing or empty on an Event message")
    found: list[DeskEvent] = []
    for index, element in enumerate(events):
        if not isinstance(element, dict) or not isinstance(element.get("eventType"), str):
            raise WebhookRejected(400, f"events[{index}].eventType: missing")
        event_id = message_id if len(events) == 1 else f"{message_id}:{index}"
        kind = element["eventType"]
        detail: Any = element.get(kind[:1].lower() + kind[1:])
        if kind == "Typing":
            on = not (isinstance(detail, dict) and detail.get("type") == "Off")
            found.append(AgentTyping(event_id, conversation, agent_name=name, typing=on))
        elif kind == "Presence" and isinstance(detail, dict):
            if detail.get("type") == "Join":
                found.append(AgentJoined(event_id, conversation, agent_name=name))
            elif detail.get("type") == "Disconnect":
                found.append(ConversationClosed(event_id, conversation))
    return found
