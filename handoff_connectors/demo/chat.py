"""The demo's chat page for the user, served by the sidecar in demo mode only.

The page posts the user's messages to Rasa's callback channel; Rasa posts the
bot's (and the agent's) messages back to `/demo/bot`, and the page receives
them over server-sent events. Messages live in this process's memory: this is
a demo channel, not part of a deployment.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse, file, html, json as json_response

from ..core.contract import WebhookRejected
from ..core.http import json_object

STATIC = Path(__file__).with_name("static")
# A stream silent this long gets a comment line: Sanic ends a response that writes nothing for 60 s.
KEEP_ALIVE_SECONDS = 15.0


class ChatRelay:
    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.messages: dict[str, list[dict]] = defaultdict(list)
        self.changed = asyncio.Condition()
        self.http = httpx.AsyncClient(timeout=30)

    async def bot_said(self, message: dict) -> None:
        async with self.changed:
            self.messages[str(message.get("recipient_id"))].append(message)
            self.changed.notify_all()

    async def messages_after(self, sender: str, seen: int, timeout: float) -> list[dict]:
        """The sender's messages past the first `seen`; empty when none came within `timeout`."""
        async with self.changed:
            arrived = self.changed.wait_for(lambda: len(self.messages.get(sender, ())) > seen)
            try:
                await asyncio.wait_for(arrived, timeout)
            except asyncio.TimeoutError:
                return []
            return self.messages[sender][seen:]


def _message(request: Request) -> dict | HTTPResponse:
    """The JSON object posted, its text repaired (httpx cannot send half an emoji); else the 400 to answer."""
    try:
        return json_object(request.body or b"")
    except WebhookRejected as rejected:
        return json_response({"error": rejected.reason}, status=400)


def attach_demo_chat(app: Sanic, rasa_url: str) -> None:
    relay = ChatRelay(rasa_url)

    async def page(request: Request) -> HTTPResponse:
        return html((STATIC / "chat.html").read_text(encoding="utf-8"))

    async def asset(request: Request, name: str) -> HTTPResponse:
        if name not in ("chat.js", "chat.css"):
            return json_response({"error": "no such file"}, status=404)
        return await file(STATIC / name)

    async def send(request: Request) -> HTTPResponse:
        body = _message(request)
        if isinstance(body, HTTPResponse):
            return body
        sender, text = body.get("sender"), body.get("text")
        if not (isinstance(sender, str) and sender and isinstance(text, str) and text.strip()):
            return json_response({"error": "send {sender, text}"}, status=400)
        try:
            response = await relay.http.post(
                f"{relay.rasa_url}/webhooks/callback/webhook", json={"sender": sender, "message": text}
            )
        except httpx.HTTPError:
            return json_response({"error": "the bot is not reachable"}, status=502)
        return json_response({"ok": response.status_code == 200}, status=200 if response.status_code == 200 else 502)

    async def bot(request: Request) -> HTTPResponse:
        message = _message(request)
        if isinstance(message, HTTPResponse):
            return message
        await relay.bot_said(message)
        return json_response({"ok": True})

    async def events(request: Request) -> None:
        sender = request.args.get("sender") or ""
        response = await request.respond(content_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        # The headers go out now, not with the bot's first message: a handler silent for 60 s is a 503.
        await response.send(": connected\n\n")
        sent = 0
        while True:
            fresh = await relay.messages_after(sender, sent, KEEP_ALIVE_SECONDS)
            if not fresh:
                await response.send(": keep-alive\n\n")
            sent += len(fresh)
            for message in fresh:
                await response.send(f"event: bot\ndata: {json.dumps(message)}\n\n")

    app.add_route(page, "/chat", methods=["GET"], name="demo_chat_page")
    app.add_route(asset, "/chat/static/<name>", methods=["GET"], name="demo_chat_asset")
    app.add_route(send, "/chat/api/send", methods=["POST"], name="demo_chat_send")
    app.add_route(events, "/chat/api/events", methods=["GET"], name="demo_chat_events")
    app.add_route(bot, "/demo/bot", methods=["POST"], name="demo_bot_callback")

    @app.after_server_stop
    async def close_relay(app: Sanic) -> None:
        await relay.http.aclose()
