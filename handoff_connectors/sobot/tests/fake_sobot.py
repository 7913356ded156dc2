"""A fake Sobot: the open platform's token call, the online-service calls the connector makes, and the widget's side.

Spec followed (there is no OpenAPI file): `../shared/reference/sobot/NOTES.md`
and the public pages it cites, as summed up in `handoff_connectors/sobot/wire.py`:

- `GET /api/get_token?appid&create_time&sign`: `appid` the company's,
  `create_time` a 10-digit Unix time in seconds near now, `sign` =
  md5(appid + create_time + app_key) as 32 lowercase hex. Each fetch issues
  a new token and the previous one stops working; a token lives `lifetime`
  seconds. A sign made with another key is refused (ret_code 900003), as
  Sobot refuses a revoked key; a malformed request is a violation too.
- every other call carries the header `token` (a missing header is a
  violation); a token that is not the live one, or has expired, is refused
  with HTTP 200 and ret_code 900002, as Sobot answers;
- the online-service calls (paths and bodies unconfirmed, as chosen in
  wire.py): each body is a JSON object with exactly the documented fields,
  of the right types, about a visitor the widget knows, a group the company
  has.

Everything off those shapes is kept in `violations` (the tests assert it
empty). The widget's side pushes signed batches to the sidecar as Sobot's
message forwarding does: `X-Log-TimeStamp` (ms), `X-Log-RandomCode`,
`X-Log-Sign` = md5(companyId + timestamp + randomCode + appKey).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import httpx

from handoff_connectors.sobot import wire
from handoff_connectors.testing import Recorded, RecordingServer

OK = wire.SUCCESS
TOKEN_INVALID = "900002"
SIGN_REFUSED = "900003"
_HEX32 = re.compile(r"[0-9a-f]{32}")

# path -> (method, required fields and their types, optional fields and their types)
CALLS: dict[str, tuple[str, dict[str, type], dict[str, type]]] = {
    wire.BOT_SEND_PATH: ("POST", {"uid": str, "msg_type": str, "content": str}, {}),
    wire.TRANSFER_PATH: ("POST", {"uid": str, "summary": str}, {"groupid": str}),
    wire.END_SESSION_PATH: ("POST", {"uid": str, "reason": str}, {}),
    wire.GROUPS_PATH: ("GET", {}, {}),
}


@dataclass
class Visitor:
    uid: str
    cid: str
    email: Optional[str] = None
    #: "bot", "queued" (handed to a group, nobody yet), "human" (an agent took it)
    state: str = "bot"
    group: Optional[str] = None
    #: What happened in the widget, in order: (who, text); who is "visitor", "bot", "agent:<name>" or "system".
    chat: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)


class FakeSobot:
    def __init__(
        self,
        appid: str,
        app_key: str,
        company_id: str,
        push_key: str,
        groups: dict[str, str],
        lifetime: float = 86400.0,
    ) -> None:
        self.appid = appid
        self.app_key = app_key
        self.company_id = company_id
        self.push_key = push_key
        self.groups = dict(groups)  # group id -> name
        self.lifetime = lifetime
        self.violations: list[str] = []
        self.visitors: dict[str, Visitor] = {}
        self.tokens_issued: list[str] = []
        self.webhook_url: Optional[str] = None
        #: (item kinds, status) of every batch pushed to the sidecar.
        self.push_results: list[tuple[str, int]] = []
        self._live: Optional[tuple[str, float]] = None
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.server = RecordingServer(self._handle)

    # -- running ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> "FakeSobot":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    # -- what the test does to Sobot ----------------------------------------------------------

    def revoke_key(self) -> None:
        """Sobot's staff issue a new app_key: the old one signs nothing, and the live token dies."""
        with self._lock:
            self.app_key = self.app_key + "-rotated"
            self._live = None

    def expire_token(self) -> None:
        """The live token reaches its end now (Sobot's clock, whatever the holder believes)."""
        with self._lock:
            if self._live is not None:
                self._live = (self._live[0], time.time() - 1)

    def calls_to(self, path: str) -> list[Recorded]:
        return [r for r in self.server.requests if r.path == path]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = predicate()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(remaining, 0.2))

    def bot_says(self, uid: str) -> list[str]:
        with self._lock:
            return [text for who, text in self.visitors[uid].chat if who == "bot"]

    def wait_for_bot(self, uid: str, count: int, timeout: float = 30.0) -> list[str]:
        return self.wait_for(lambda: len(self.bot_says(uid)) >= count and self.bot_says(uid), timeout, f"{count} bot message(s)")

    # -- the widget's side: signed pushes, as Sobot's message forwarding ----------------------------

    def new_visitor(self, email: Optional[str] = None) -> Visitor:
        with self._lock:
            visitor = Visitor(uid=f"v{uuid.uuid4().hex[:16]}", cid=f"c{uuid.uuid4().hex[:16]}", email=email)
            self.visitors[visitor.uid] = visitor
            return visitor

    def _item(self, visitor: Visitor, kind: str, **fields: Any) -> dict[str, Any]:
        item = {
            "msgid": f"m{next(self._ids):06d}-{uuid.uuid4().hex[:8]}",
            "type": kind,
            "companyid": self.company_id,
            "uid": visitor.uid,
            "cid": visitor.cid,
            "t": int(time.time() * 1000),
        }
        if visitor.email:
            item["email"] = visitor.email
        item.update(fields)
        return item

    def visitor_item(self, visitor: Visitor, text: str = "", msg_type: str = "text", **extra: Any) -> dict[str, Any]:
        with self._lock:
            visitor.chat.append(("visitor", text))
        return self._item(visitor, wire.MESSAGE, sender_type=wire.VISITOR, msg_type=msg_type, content=text, **extra)

    def agent_item(self, visitor: Visitor, agent: str, text: str, msg_type: str = "text", **extra: Any) -> dict[str, Any]:
        with self._lock:
            visitor.chat.append((f"agent:{agent}", text))
        return self._item(visitor, wire.MESSAGE, sender_type=wire.AGENT, sender_name=agent, msg_type=msg_type, content=text, **extra)

    def session_item(self, visitor: Visitor, event: str, **extra: Any) -> dict[str, Any]:
        with self._lock:
            if event == wire.AGENT_JOIN:
                visitor.state = "human"
            elif event == wire.SESSION_END:
                visitor.state, visitor.group = "bot", None
            visitor.chat.append(("system", event))
        return self._item(visitor, wire.SESSION, event=event, **extra)

    def signed(self, body: Any, stamp_ms: Optional[int] = None) -> tuple[bytes, dict[str, str]]:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        stamp = str(stamp_ms if stamp_ms is not None else int(time.time() * 1000))
        code = uuid.uuid4().hex[:12]
        return raw, {
            "Content-Type": "application/json",
            "X-Log-TimeStamp": stamp,
            "X-Log-RandomCode": code,
            "X-Log-Sign": wire.push_sign(self.company_id, stamp, code, self.push_key),
        }

    def push(self, *items: dict[str, Any]) -> httpx.Response:
        """One batch (up to 20 items, as Sobot gathers them) to the sidecar's push URL."""
        assert self.webhook_url, "set webhook_url to the sidecar's push URL first"
        assert 1 <= len(items) <= 20, "Sobot sends 1 to 20 items per push"
        raw, headers = self.signed(list(items))
        response = httpx.post(self.webhook_url, content=raw, headers=headers, timeout=30)
        with self._changed:
            self.push_results.append((",".join(str(i.get("event") or i.get("type")) for i in items), response.status_code))
            self._changed.notify_all()
        return response

    # -- the API ---------------------------------------------------------------------------

    def _violation(self, request: Recorded, what: str) -> None:
        self.violations.append(f"{request.method} {request.path}: {what}")

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        with self._changed:
            try:
                return self._answer(request)
            finally:
                self._changed.notify_all()

    def _answer(self, request: Recorded) -> tuple[int, Any]:
        if request.path == wire.TOKEN_PATH:
            return self._token(request)
        spec = CALLS.get(request.path)
        if spec is None:
            self._violation(request, "no such Sobot API")
            return 404, {"ret_code": "404", "ret_msg": "not found"}
        method, required, optional = spec
        if request.method != method:
            self._violation(request, f"must be {method}")
            return 405, {"ret_code": "405", "ret_msg": "method not allowed"}
        token = request.headers.get("token")
        if not token:
            self._violation(request, "no `token` header")
        if "authorization" in request.headers:
            self._violation(request, "Sobot takes the token in a `token` header, not Authorization")
        if not token or self._live is None or token != self._live[0] or self._live[1] <= time.time():
            return 200, {"ret_code": TOKEN_INVALID, "ret_msg": "token invalid or expired"}
        body: dict[str, Any] = {}
        if method == "POST":
            if not request.headers.get("content-type", "").startswith("application/json"):
                self._violation(request, "the body must be JSON (Content-Type: application/json)")
            try:
                body = request.json()
            except ValueError:
                self._violation(request, "the body is not JSON")
                return 200, {"ret_code": "100001", "ret_msg": "bad request"}
            if not isinstance(body, dict):
                self._violation(request, "the body must be a JSON object")
                return 200, {"ret_code": "100001", "ret_msg": "bad request"}
            errors = _field_errors(body, required, optional)
            if errors:
                for error in errors:
                    self._violation(request, error)
                return 200, {"ret_code": "100001", "ret_msg": "bad request"}
        elif request.body:
            self._violation(request, "a GET carries no body")
        return self._business(request, body)

    def _token(self, request: Recorded) -> tuple[int, Any]:
        if request.method != "GET":
            self._violation(request, "get_token is a GET")
        query = {k: v[-1] for k, v in parse_qs(request.query).items()}
        for name in ("appid", "create_time", "sign"):
            if not query.get(name):
                self._violation(request, f"query {name} missing")
        if set(query) - {"appid", "create_time", "sign"}:
            self._violation(request, f"unknown query fields {sorted(set(query) - {'appid', 'create_time', 'sign'})}")
        if "token" in request.headers:
            self._violation(request, "get_token takes no token header")
        appid, stamp, sign = query.get("appid", ""), query.get("create_time", ""), query.get("sign", "")
        if appid and appid != self.appid:
            self._violation(request, "appid is not the company's")
        if stamp and not (stamp.isdigit() and len(stamp) == 10):
            self._violation(request, "create_time must be a 10-digit Unix time in seconds")
        elif stamp and abs(int(stamp) - time.time()) > 300:
            self._violation(request, "create_time is not now")
        if sign and not _HEX32.fullmatch(sign):
            self._violation(request, "sign must be 32 lowercase hex (md5)")
        if sign != wire.token_sign(appid, stamp, self.app_key):
            return 200, {"ret_code": SIGN_REFUSED, "ret_msg": "sign error"}
        token = uuid.uuid4().hex
        self._live = (token, time.time() + self.lifetime)
        self.tokens_issued.append(token)
        return 200, {"ret_code": OK, "ret_msg": "success", "item": {"token": token, "expires_in": str(int(self.lifetime))}}

    def _business(self, request: Recorded, body: dict[str, Any]) -> tuple[int, Any]:
        if request.path == wire.GROUPS_PATH:
            items = [{"groupid": gid, "group_name": name} for gid, name in self.groups.items()]
            return 200, {"ret_code": OK, "ret_msg": "success", "item": items}
        visitor = self.visitors.get(body["uid"])
        if visitor is None:
            return 200, {"ret_code": "300001", "ret_msg": "visitor not found"}
        if request.path == wire.BOT_SEND_PATH:
            if body["msg_type"] not in ("text", "image"):
                self._violation(request, f"msg_type {body['msg_type']!r} is not text or image")
            if not body["content"].strip():
                self._violation(request, "content is empty")
            if visitor.state == "human":
                # Queued, the visitor still sees the bot (its "connecting" may come after the transfer).
                self._violation(request, "the bot wrote in a session an agent has")
            visitor.chat.append(("bot", body["content"]))
        elif request.path == wire.TRANSFER_PATH:
            group = body.get("groupid")
            if group is not None and group not in self.groups:
                return 200, {"ret_code": "300002", "ret_msg": "group not found"}
            visitor.state, visitor.group = "queued", group
            visitor.summaries.append(body["summary"])
            visitor.chat.append(("system", f"transferred to {group}"))
        elif request.path == wire.END_SESSION_PATH:
            was_human = visitor.state != "bot"
            visitor.state, visitor.group = "bot", None
            visitor.chat.append(("system", "ended by the bot's side"))
            if was_human and self.webhook_url:
                # Sobot forwards the end of the session, as for any other.
                item = self._item(visitor, wire.SESSION, event=wire.SESSION_END)
                threading.Thread(target=self.push, args=(item,), daemon=True).start()
        return 200, {"ret_code": OK, "ret_msg": "success"}


def _field_errors(body: dict[str, Any], required: dict[str, type], optional: dict[str, type]) -> list[str]:
    errors = [f"field {name} missing" for name in required if name not in body]
    for name, value in body.items():
        kind = required.get(name) or optional.get(name)
        if kind is None:
            errors.append(f"unknown field {name}")
        elif not isinstance(value, kind):
            errors.append(f"field {name} must be {kind.__name__}")
    return errors
