"""Sobot's wire shapes, in one place: what the public pages confirm, and what we chose where they are silent.

Confirmed (the open platform's token section, repeated on every v5 API page,
and the message-forwarding page):

- the token: `GET {host}/api/get_token?appid=..&create_time=..&sign=..`,
  `create_time` in seconds, `sign = md5(appid + create_time + app_key)`
  (32 lowercase hex); answer `{"ret_code": "000000", "ret_msg", "item":
  {"token", "expires_in"}}`, `expires_in` a string of seconds (86400). Each
  fetch issues a new token (and the previous one stops working);
- every business call carries the header `token: <token>`; success is
  `ret_code == "000000"`, whatever the HTTP status;
- the message-forwarding push: one URL for every kind of data, JSON,
  batches of up to 20 items (or what one second gathered), signed with
  `X-Log-TimeStamp` (milliseconds), `X-Log-RandomCode` and
  `X-Log-Sign = md5(companyId + timestamp + randomCode + appKey)`.

Unconfirmed, chosen here (and listed on doc.md): the paths and bodies of the
three online-service calls, the `ret_code`s of a refused token (a setting),
and the push's per-item fields, below. Change them here and nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

SUCCESS = "000000"

# -- the token (confirmed) --------------------------------------------------------------

TOKEN_PATH = "/api/get_token"


def token_sign(appid: str, create_time: str, app_key: str) -> str:
    """md5(appid + create_time + app_key), lowercase hex."""
    return hashlib.md5(f"{appid}{create_time}{app_key}".encode()).hexdigest()


# -- the online-service calls (unconfirmed paths and bodies) -------------------------------

#: The bot's message into the visitor's session: {"uid", "msg_type": "text"|"image", "content"}.
BOT_SEND_PATH = "/api/chat/5/robot/send_msg"
#: The visitor's session to a human group: {"uid", "groupid"?, "summary"}.
TRANSFER_PATH = "/api/chat/5/robot/transfer_human"
#: End the visitor's human session from our side: {"uid", "reason"}.
END_SESSION_PATH = "/api/chat/5/session/end"
#: A read without side effects, for `check()`: the company's human groups.
GROUPS_PATH = "/api/chat/5/groups"

# -- the push (signing confirmed; item fields unconfirmed) ----------------------------------

SIGN_HEADER = "x-log-sign"
TIMESTAMP_HEADER = "x-log-timestamp"
RANDOM_HEADER = "x-log-randomcode"


def push_sign(company_id: str, timestamp: str, random_code: str, app_key: str) -> str:
    """md5(companyId + timestamp + randomCode + appKey), lowercase hex."""
    return hashlib.md5(f"{company_id}{timestamp}{random_code}{app_key}".encode()).hexdigest()


# An item's `type`.
MESSAGE = "message"
SESSION = "session"

# A message's `sender_type`.
VISITOR, ROBOT, AGENT = 0, 1, 2

# A session item's `event`.
AGENT_JOIN = "agent_join"
TRANSFER = "transfer"
QUEUE = "queue"
SESSION_END = "session_end"

# A message's `msg_type` besides text: `content` is the file's URL.
FILE_TYPES = frozenset({"image", "file", "video", "voice"})


class Malformed(ValueError):
    """An item of the batch lacks a field or has it wrong; the message names the field."""


@dataclass(frozen=True)
class Item:
    """One item of a forwarding batch, as far as the handoff reads it."""

    msgid: str
    type: str
    uid: str
    cid: Optional[str]
    sender_type: Optional[int] = None
    sender_name: Optional[str] = None
    msg_type: str = "text"
    content: str = ""
    file_name: Optional[str] = None
    email: Optional[str] = None
    event: Optional[str] = None
    agent_name: Optional[str] = None
    group_name: Optional[str] = None
    queue_position: Optional[int] = None


def _text(raw: dict[str, Any], name: str, where: str, required: bool = False) -> Optional[str]:
    value = raw.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise Malformed(f"{where}.{name}: missing")
        return None
    if not isinstance(value, str):
        raise Malformed(f"{where}.{name}: must be a string")
    return value


def _number(raw: dict[str, Any], name: str, where: str, required: bool = False) -> Optional[int]:
    value = raw.get(name)
    if value is None:
        if required:
            raise Malformed(f"{where}.{name}: missing")
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{where}.{name}: must be a number")
    return value


def read_item(raw: Any, index: int) -> Item:
    """An item of the batch; Malformed naming the field when it cannot be read."""
    where = f"[{index}]"
    if not isinstance(raw, dict):
        raise Malformed(f"{where}: each item must be a JSON object")
    kind = _text(raw, "type", where, required=True)
    item = Item(
        msgid=_text(raw, "msgid", where, required=True) or "",
        type=kind or "",
        uid=_text(raw, "uid", where, required=True) or "",
        cid=_text(raw, "cid", where),
        email=_text(raw, "email", where),
    )
    if kind == MESSAGE:
        return _message(item, raw, where, _text(raw, "msg_type", where) or "text")
    if kind == SESSION:
        return Item(
            msgid=item.msgid, type=item.type, uid=item.uid, cid=item.cid, email=item.email,
            event=_text(raw, "event", where, required=True),
            agent_name=_text(raw, "agent_name", where),
            group_name=_text(raw, "group_name", where),
            queue_position=_number(raw, "queue_position", where),
        )
    return item  # Another kind of data Sobot forwards: nothing for a handoff.


def _message(item: Item, raw: dict[str, Any], where: str, msg_type: str) -> Item:
    return Item(
        msgid=item.msgid, type=item.type, uid=item.uid, cid=item.cid, email=item.email,
        sender_type=_number(raw, "sender_type", where, required=True),
        sender_name=_text(raw, "sender_name", where),
        msg_type=msg_type,
        content=_text(raw, "content", where, required=msg_type != "text") or "",
        file_name=_text(raw, "file_name", where),
    )
