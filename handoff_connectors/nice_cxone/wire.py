"""CXone's wire format, as far as the public material shows it: every path and field name in one place.

The official pages describe BYOC (bring your own channel) in overview only;
the concrete paths and fields below come from community middleware and SDK
code (see ../shared/reference/nice-cxone/NOTES.md). Whatever is marked
UNCONFIRMED here is our reading of those sources, repeated on doc.md; a
tenant that differs needs a change in this module only.

Two directions:

- we call CXone (DFO 3.0, "Digital First Omnichannel"): the OAuth token of
  our API application, and "create inbound message", which creates the
  customer, the thread and the case on its first message;
- CXone calls us: first our token endpoint (client credentials we issued to
  it), then, with that bearer, the agents' replies and the events of the
  case (typing, assignment, status).

Readers here are pure: they turn a parsed body into desk events or raise
`WebhookRejected(400, "<field>: ...")` naming the field that is off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import parse_qs, quote

from ..core.contract import (
    AgentJoined,
    AgentMessage,
    AgentTyping,
    ConversationClosed,
    DeskEvent,
    Transferred,
    WebhookRejected,
)
from ..core.http import json_object

# ======================================================================
# We call CXone
# ======================================================================

# UNCONFIRMED: the token URL comes from CXone's API discovery
# (/.well-known/openid-configuration of the tenant's issuer); this is the
# usual global one. A setting (`auth_url`) overrides it.
DEFAULT_AUTH_URL = "https://cxone.niceincontact.com/auth/token"
# [SDK] constants: list the channels (our credential check) and create an inbound message.
CHANNELS_PATH = "/dfo/3.0/channels"
MESSAGES_PATH = "/dfo/3.0/channels/{channel_id}/messages"
# [R1] a message id is unique per message; a thread id groups them. We choose both.
THREAD_PREFIX = "rasa-"


def messages_path(channel_id: str) -> str:
    return MESSAGES_PATH.format(channel_id=quote(channel_id, safe=""))


def thread_id(handoff_id: str) -> str:
    """Our thread's `idOnExternalPlatform`: the desk conversation id of the handoff."""
    return THREAD_PREFIX + handoff_id


def token_request(client_id: str, client_secret: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form) of a client-credentials token request: the client in HTTP Basic (RFC 6749 2.3.1)."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "Accept": "application/json"}, {"grant_type": "client_credentials"}


def timestamp(epoch: float) -> str:
    """`createdAtWithMilliseconds`: ISO 8601, UTC, milliseconds."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def inbound_message(
    *,
    thread: str,
    thread_name: str,
    message_id: str,
    customer_id: str,
    customer_name: Optional[str],
    text: str,
    sent_at: float,
    attachments: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The body of "create inbound message" (POST /dfo/3.0/channels/{channelId}/messages).

    [R1]/[R2]/[SDK]: `thread.idOnExternalPlatform`, `messageContent {type, payload {text}}`,
    the message's own `idOnExternalPlatform`, `direction: inbound`, the customer as
    `authorEndUserIdentity.idOnExternalPlatform`, `createdAtWithMilliseconds`.
    UNCONFIRMED: `thread.threadName`, `authorEndUserIdentity.nickname` (the email, for the
    agent) and `attachments [{url, friendlyName}]` (files as public URLs, [R1]).
    """
    body: dict[str, Any] = {
        "thread": {"idOnExternalPlatform": thread, "threadName": thread_name[:200]},
        "messageContent": {"type": "TEXT", "payload": {"text": text}},
        "idOnExternalPlatform": message_id,
        "direction": "inbound",
        "createdAtWithMilliseconds": timestamp(sent_at),
        "authorEndUserIdentity": {"idOnExternalPlatform": customer_id},
    }
    if customer_name:
        body["authorEndUserIdentity"]["nickname"] = customer_name
    if attachments:
        body["attachments"] = [{"url": url, "friendlyName": name} for url, name in attachments]
    return body


# ======================================================================
# CXone calls us (the routes the sidecar serves)
# ======================================================================

# The "Authorization URL" of the BYOC integration [R2]; [R1] wants it to end in /oauth/token.
TOKEN_PATH = "/nice-cxone/oauth/token"
# The "Integration Box URL" [R2]; CXone posts an agent's reply under it, to /1.0/posts/{id}/messages.
BOX_PATH = "/nice-cxone/box"
POST_REPLY_ROUTE = BOX_PATH + "/1.0/posts/<post_id>/messages"
# [R1] (and "Use DFO 3.0 Outbound API for replies"): replies to /channels/{channelId}/outbound.
OUTBOUND_REPLY_ROUTE = "/nice-cxone/channels/<channel_id>/outbound"
# UNCONFIRMED: the case's events (typing, assignment, status) as the integration's
# "Action URL" [R2]; their shape below is ours, named after DFO's event names.
EVENTS_PATH = "/nice-cxone/events"

_POST_REPLY = re.compile(r"^/nice-cxone/box/1\.0/posts/([^/]+)/messages$")
_OUTBOUND_REPLY = re.compile(r"^/nice-cxone/channels/([^/]+)/outbound$")

TYPING_STARTED = "SenderTypingStarted"
TYPING_ENDED = "SenderTypingEnded"
ASSIGNED = "AssignedAgentChanged"
STATUS_CHANGED = "CaseStatusChanged"
# DFO case statuses that end the conversation (new/open/pending/escalated do not).
ENDING_STATUSES = frozenset({"resolved", "closed", "trashed"})


def is_reply_path(path: str) -> bool:
    return bool(_POST_REPLY.match(path) or _OUTBOUND_REPLY.match(path))


def token_answer(token: str, expires_in: int) -> dict[str, Any]:
    """RFC 6749 5.1, as [R2]'s endpoint answers: `access_token`, `token_type: Bearer`, `expires_in`."""
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def read_token_request(headers: Mapping[str, str], body: bytes) -> tuple[str, str, str]:
    """(client_id, client_secret, grant_type) from JSON [R2], a form (RFC 6749), or HTTP Basic."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any] = {}
    if kind == "application/x-www-form-urlencoded":
        fields = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    elif body.strip():
        fields = json_object(body)
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, client_secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise WebhookRejected(400, "authorization: not a Basic client credential") from None
        fields.setdefault("client_id", client_id)
        fields.setdefault("client_secret", client_secret)
    found = []
    for name in ("client_id", "client_secret", "grant_type"):
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            raise WebhookRejected(400, f"{name}: missing")
        found.append(value)
    return found[0], found[1], found[2]


def reply_answer(event_id: str) -> dict[str, str]:
    """What CXone expects for a delivered reply [BYOC-DEV]: the message's id on our side [R2].

    The same for a redelivery, so CXone records one message whichever answer it keeps.
    """
    return {"idOnExternalPlatform": str(uuid.uuid5(uuid.NAMESPACE_URL, "nice-cxone:" + event_id))}


def read_reply(path: str, body: bytes) -> AgentMessage:
    """An agent's reply (either reply route): the thread, the text, the files, who wrote it.

    [R1]/[R2]/[SDK]: `thread.idOnExternalPlatform` (else the post id of the path),
    `messageContent.payload.text`, attachments with a `url`. UNCONFIRMED: CXone's own
    message id as `id` (a redelivery repeats it; without one the body itself identifies
    the message) and the agent as `authorUser {nickname | firstName, surname}`.
    """
    payload = json_object(body)
    post = _POST_REPLY.match(path)
    thread = _thread(payload, fallback=post.group(1) if post else None)
    content = payload.get("messageContent")
    if not isinstance(content, dict):
        raise WebhookRejected(400, "messageContent: missing or not an object")
    inner = content.get("payload")
    if inner is not None and not isinstance(inner, dict):
        raise WebhookRejected(400, "messageContent.payload: not an object")
    text = (inner or {}).get("text", "")
    if not isinstance(text, str):
        raise WebhookRejected(400, "messageContent.payload.text: not a string")
    files = _attachment_urls(payload.get("attachments"))
    if not text.strip() and not files:
        raise WebhookRejected(400, "messageContent.payload.text: empty, and no attachments")
    message_id = payload.get("id")
    if message_id is not None and (not isinstance(message_id, (str, int)) or isinstance(message_id, bool) or message_id == ""):
        raise WebhookRejected(400, "id: not a message id")
    event_id = f"message:{message_id}" if message_id is not None else "body:" + hashlib.sha256(body).hexdigest()
    return AgentMessage(
        event_id=event_id,
        desk_conversation_id=thread,
        text=text.strip(),
        agent_name=_person(payload.get("authorUser"), "authorUser"),
        attachments=files,
    )


def read_event(body: bytes) -> list[DeskEvent]:
    """A case event on the events route (UNCONFIRMED shape, named after DFO's events):

    `{"eventId", "eventType", "thread": {"idOnExternalPlatform"}, ...}` with
    - `SenderTypingStarted` / `SenderTypingEnded` and the agent as `user`;
    - `AssignedAgentChanged` with `inboxAssignee` (and `previousInboxAssignee`);
    - `CaseStatusChanged` with `case.status` (resolved, closed, trashed end it).
    Other event types are answered and ignored.
    """
    payload = json_object(body)
    event_id = payload.get("eventId")
    if not isinstance(event_id, str) or not event_id.strip():
        raise WebhookRejected(400, "eventId: missing")
    kind = payload.get("eventType")
    if not isinstance(kind, str) or not kind:
        raise WebhookRejected(400, "eventType: missing")
    if kind not in (TYPING_STARTED, TYPING_ENDED, ASSIGNED, STATUS_CHANGED):
        return []
    thread = _thread(payload)
    if kind in (TYPING_STARTED, TYPING_ENDED):
        return [AgentTyping(event_id, thread, _person(payload.get("user"), "user"), typing=kind == TYPING_STARTED)]
    if kind == ASSIGNED:
        agent = payload.get("inboxAssignee")
        if agent is None:
            return []  # Unassigned: back in the queue, nothing to tell the user.
        name = _person(agent, "inboxAssignee")
        if payload.get("previousInboxAssignee") is not None:
            _person(payload["previousInboxAssignee"], "previousInboxAssignee")
            return [Transferred(event_id, thread, to_agent=name)]
        return [AgentJoined(event_id, thread, agent_name=name)]
    case = payload.get("case")
    status = case.get("status") if isinstance(case, dict) else None
    if not isinstance(status, str) or not status:
        raise WebhookRejected(400, "case.status: missing")
    return [ConversationClosed(event_id, thread)] if status.lower() in ENDING_STATUSES else []


def _thread(payload: dict, fallback: Optional[str] = None) -> str:
    thread = payload.get("thread")
    if thread is not None and not isinstance(thread, dict):
        raise WebhookRejected(400, "thread: not an object")
    found = (thread or {}).get("idOnExternalPlatform", fallback)
    if not isinstance(found, str) or not found.strip():
        raise WebhookRejected(400, "thread.idOnExternalPlatform: missing")
    return found.strip()


def _person(person: Any, field: str) -> Optional[str]:
    """An agent's name as the user should see it; None when CXone gives none."""
    if person is None:
        return None
    if not isinstance(person, dict):
        raise WebhookRejected(400, f"{field}: not an object")
    nickname = person.get("nickname")
    if isinstance(nickname, str) and nickname.strip():
        return nickname.strip()
    parts = [person.get(key) for key in ("firstName", "surname", "lastName")]
    name = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    return name or None


def _attachment_urls(attachments: Any) -> tuple[str, ...]:
    if attachments is None:
        return ()
    if not isinstance(attachments, list):
        raise WebhookRejected(400, "attachments: not a list")
    urls = []
    for index, attachment in enumerate(attachments):
        url = attachment.get("url") if isinstance(attachment, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise WebhookRejected(400, f"attachments[{index}].url: missing or not an http(s) URL")
        urls.append(url)
    return tuple(urls)
