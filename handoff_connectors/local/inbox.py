"""The agent inbox: a page and a small JSON API served by the sidecar.

Every route needs the inbox token (`connectors.local.token`), as a bearer
header or, for the page and its event stream (browsers can't set headers on
those), as `?token=`. Without it: 401 and nothing else.

What agents do here becomes desk events, exactly as a SaaS desk's webhooks
would: joining is AgentJoined, a reply is AgentMessage, closing is
ConversationClosed. The sidecar then delivers them into Rasa.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from sanic import Request, Sanic
from sanic.response import HTTPResponse, file, html, json as json_response

from ..core.contract import AgentJoined, AgentMessage, ConversationClosed, DeskEvent, WebhookRejected
from ..core.http import json_object
from .desk import LocalDesk

STATIC = Path(__file__).with_name("static")
# How often the event stream looks for changes made by other processes.
STREAM_CHECK_SECONDS = 0.2
# A stream silent this long gets a comment line: Sanic ends a response that writes nothing for 60 s.
KEEP_ALIVE_SECONDS = 15.0
MAX_REPLY_CHARS = 4000

Accept = Callable[[DeskEvent], Awaitable[Any]]


def _problem(status: int, message: str) -> HTTPResponse:
    return json_response({"error": message}, status=status)


class _Problem(Exception):
    """A call the inbox cannot take: answered with its status and message, nothing logged."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _exact(text: str) -> bytes:
    """`text` as bytes, whatever it holds: a header byte that is not UTF-8 reaches us as a lone surrogate."""
    return text.encode("utf-8", "surrogatepass")


class Inbox:
    def __init__(self, desk: LocalDesk, token: Optional[str], accept: Accept) -> None:
        self.desk = desk
        self._token = token or ""
        self._accept = accept

    def authorised(self, request: Request) -> bool:
        given = request.args.get("token") or ""
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = bearer.strip()
        return bool(self._token) and hmac.compare_digest(_exact(given), _exact(self._token))

    async def snapshot(self) -> dict[str, Any]:
        return {"conversations": await self.desk.conversations(), "agents": await self.desk.agents()}

    # -- agent actions -------------------------------------------------------

    async def join(self, conversation_id: str, agent: str) -> tuple[int, dict]:
        conversation = await self.desk.conversation(conversation_id)
        if conversation is None:
            return 404, {"error": "no such conversation"}
        if conversation["status"] == "closed":
            return 409, {"error": "the conversation is closed"}
        if conversation["agent"] not in (None, agent):
            return 409, {"error": f"taken by {conversation['agent']}"}
        if conversation["agent"] == agent:
            return 200, conversation
        conversation = await self.desk.set_status(conversation_id, "active", agent=agent)
        await self._accept(
            AgentJoined(event_id=f"join:{conversation_id}", desk_conversation_id=conversation_id, agent_name=agent)
        )
        return 200, conversation

    async def reply(self, conversation_id: str, agent: str, text: str, message_id: str) -> tuple[int, dict]:
        conversation = await self.desk.conversation(conversation_id)
        if conversation is None:
            return 404, {"error": "no such conversation"}
        if conversation["status"] != "active" or conversation["agent"] != agent:
            return 409, {"error": "join the conversation before replying"}
        await self.desk.add_message(conversation_id, "agent", text, message_id)
        await self._accept(
            AgentMessage(event_id=message_id, desk_conversation_id=conversation_id, text=text, agent_name=agent)
        )
        return 200, {"id": message_id}

    async def close(self, conversation_id: str, agent: str) -> tuple[int, dict]:
        conversation = await self.desk.conversation(conversation_id)
        if conversation is None:
            return 404, {"error": "no such conversation"}
        if conversation["status"] == "closed":
            return 200, conversation
        if conversation["agent"] not in (None, agent):
            return 409, {"error": f"taken by {conversation['agent']}"}
        conversation = await self.desk.set_status(conversation_id, "closed", agent=agent)
        await self._accept(ConversationClosed(event_id=f"close:{conversation_id}", desk_conversation_id=conversation_id))
        return 200, conversation


def _agent_name(body: dict) -> Optional[str]:
    agent = body.get("agent")
    if isinstance(agent, str) and 0 < len(agent.strip()) <= 80:
        return agent.strip()
    return None


def attach_inbox(app: Sanic, get_inbox: Callable[[], Inbox]) -> None:
    """Add the inbox routes to the sidecar's app."""

    def guarded(handler):
        async def route(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if not get_inbox().authorised(request):
                return _problem(401, "the inbox needs its token")
            try:
                return await handler(request, *args, **kwargs)
            except _Problem as problem:
                return _problem(problem.status, problem.message)

        route.__name__ = handler.__name__
        return route

    def body_of(request: Request) -> dict:
        """The JSON object sent ({} for no body), its text repaired; a 400 saying what is wrong otherwise."""
        if not request.body:
            return {}
        try:
            return json_object(request.body)
        except WebhookRejected as rejected:
            raise _Problem(400, rejected.reason) from None

    @guarded
    async def page(request: Request) -> HTTPResponse:
        return html((STATIC / "inbox.html").read_text(encoding="utf-8"))

    async def asset(request: Request, name: str) -> HTTPResponse:
        # Static code and style only; no data, so no token needed.
        if name not in ("inbox.js", "inbox.css"):
            return _problem(404, "no such file")
        return await file(STATIC / name)

    @guarded
    async def conversations(request: Request) -> HTTPResponse:
        return json_response(await get_inbox().snapshot())

    @guarded
    async def events(request: Request) -> None:
        inbox = get_inbox()
        response = await request.respond(
            content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        seen = None
        quiet_since = time.monotonic()
        while True:
            version = await inbox.desk.version()
            if version != seen:
                seen = version
                await response.send(f"event: snapshot\ndata: {json.dumps(await inbox.snapshot())}\n\n")
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
                await response.send(": keep-alive\n\n")
                quiet_since = time.monotonic()
            await asyncio.sleep(STREAM_CHECK_SECONDS)

    @guarded
    async def presence(request: Request) -> HTTPResponse:
        body = body_of(request)
        agent = _agent_name(body)
        if agent is None or not isinstance(body.get("available"), bool):
            return _problem(400, "send {agent: name, available: true|false}")
        await get_inbox().desk.set_presence(agent, body["available"])
        return json_response({"agent": agent, "available": body["available"]})

    def conversation_action(kind: str):
        @guarded
        async def act(request: Request, conversation_id: str) -> HTTPResponse:
            body = body_of(request)
            agent = _agent_name(body)
            if agent is None:
                return _problem(400, "send {agent: name, ...}")
            inbox = get_inbox()
            if kind == "join":
                status, payload = await inbox.join(conversation_id, agent)
            elif kind == "close":
                status, payload = await inbox.close(conversation_id, agent)
            else:
                text = body.get("text")
                if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_CHARS:
                    return _problem(400, f"text: required, at most {MAX_REPLY_CHARS} characters")
                message_id = uuid.uuid4().hex if body.get("id") is None else body["id"]
                if not isinstance(message_id, str) or not message_id.strip():
                    return _problem(400, "id: a non-empty string, if given")
                status, payload = await inbox.reply(conversation_id, agent, text.strip(), message_id[:64])
            return json_response(payload, status=status)

        act.__name__ = f"inbox_{kind}"
        return act

    app.add_route(page, "/inbox", methods=["GET"], name="inbox_page")
    app.add_route(asset, "/inbox/static/<name>", methods=["GET"], name="inbox_asset")
    app.add_route(conversations, "/inbox/api/conversations", methods=["GET"], name="inbox_conversations")
    app.add_route(events, "/inbox/api/events", methods=["GET"], name="inbox_events", stream=False)
    app.add_route(presence, "/inbox/api/presence", methods=["POST"], name="inbox_presence")
    for kind in ("join", "reply", "close"):
        app.add_route(
            conversation_action(kind),
            f"/inbox/api/conversations/<conversation_id>/{kind}",
            methods=["POST"],
            name=f"inbox_{kind}",
        )
