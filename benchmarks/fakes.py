"""Fast stand-ins for the desk, Rasa and the user's chat channel, and the bare-forwarder baseline.

Each runs as a process of its own (`python -m benchmarks.fakes ROLE --port P`):
a single-process Sanic app that answers at once, so what a benchmark times is
the process under test, not its neighbours. Each keeps what it received in
memory and serves it on `GET /_received` for the benchmark to count and time.
Arrival times are `time.time()`: the benchmark's send times come from the
same clock of the same machine.

Roles:
  desk       the webhook protocol's desk side: establish, chat, close -> 200
  rasa       Rasa's trigger_intent, answering with a tracker whose
             `handoff_event_id` slot acknowledges the event (what the sidecar checks)
  channel    Rasa's callback channel receiver (`POST /bot`), with a long-poll
             `GET /_wait?text=...` for the arrival time of one message
  forwarder  the baseline for the sidecar: takes the desk's webhook and forwards
             it to Rasa's trigger_intent with httpx, nothing else
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as reply

OK = {"code": 0, "message": "ok"}
AGENT_MESSAGE_INTENT = "EXTERNAL_handoff_agent_message"
EVENT_ID_ENTITY = "handoff_event_id"
TEXT_ENTITY = "handoff_text"


def _base(name: str) -> Sanic:
    """A Sanic app with the `/health` every fake answers (processes.Service waits for it)."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"

    async def health(request: Request) -> HTTPResponse:
        return reply({"status": "ok"})

    app.add_route(health, "/health", methods=["GET"])
    return app


def desk_app() -> Sanic:
    """The desk: takes every call, remembers how many of each, each chat text's count, and whose each conversation is."""
    app = _base("bench_desk")
    counts: Counter[str] = Counter()
    chats: Counter[str] = Counter()
    conversations: dict[str, str] = {}

    async def establish(request: Request) -> HTTPResponse:
        body = request.json or {}
        counts["establish"] += 1
        user = (body.get("user_info") or {}).get("user_id")
        if user:
            conversations[user] = body.get("conversation_id")
        return reply(OK)

    async def chat(request: Request) -> HTTPResponse:
        counts["chat"] += 1
        chats[(request.json or {}).get("body") or ""] += 1
        return reply(OK)

    async def close(request: Request) -> HTTPResponse:
        counts["close"] += 1
        return reply(OK)

    async def root(request: Request) -> HTTPResponse:
        # The webhook connector's credential check GETs the base URL.
        return reply(OK)

    async def received(request: Request) -> HTTPResponse:
        twice = sum(1 for count in chats.values() if count > 1)
        return reply({"counts": dict(counts), "chat_texts": len(chats), "chat_texts_twice": twice,
                      "conversations": conversations})

    app.add_route(establish, "/conversation/establish", methods=["POST"])
    app.add_route(chat, "/chat", methods=["POST"])
    app.add_route(close, "/conversation/close", methods=["POST"])
    app.add_route(root, "/", methods=["GET"])
    app.add_route(received, "/_received", methods=["GET"])
    return app


def acknowledging_tracker(sender_id: str, intent: str, entities: dict[str, Any]) -> dict[str, Any]:
    """What Rasa 3.6 answers to trigger_intent once the handoff loop handled the event."""
    now = time.time()
    parse_data = {
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [{"entity": name, "value": value} for name, value in entities.items()],
    }
    events = [
        {"event": "user", "timestamp": now, "text": f"/{intent}", "parse_data": parse_data,
         "metadata": {"is_external": True}},
        {"event": "action", "timestamp": now, "name": "handoff_loop"},
        {"event": "slot", "timestamp": now, "name": EVENT_ID_ENTITY, "value": entities.get(EVENT_ID_ENTITY)},
    ]
    tracker = {"sender_id": sender_id, "slots": {}, "events": events, "paused": False, "latest_message": parse_data}
    return {"tracker": tracker, "messages": []}


def rasa_app() -> Sanic:
    """Rasa's trigger_intent: records (event id, text, sender, arrival) and acknowledges at once."""
    app = _base("bench_rasa")
    received: list[list[Any]] = []

    async def trigger_intent(request: Request, sender_id: str) -> HTTPResponse:
        arrived = time.time()
        body = request.json or {}
        entities = body.get("entities") or {}
        received.append([entities.get(EVENT_ID_ENTITY), entities.get(TEXT_ENTITY), sender_id, arrived])
        return reply(acknowledging_tracker(sender_id, body.get("name") or "", entities))

    async def listing(request: Request) -> HTTPResponse:
        since = int(request.args.get("since", 0))
        return reply({"count": len(received), "received": received[since:]})

    app.add_route(trigger_intent, "/conversations/<sender_id>/trigger_intent", methods=["POST"])
    app.add_route(listing, "/_received", methods=["GET"])
    return app


def channel_app() -> Sanic:
    """Rasa's callback channel: notes when each bot message arrived; `/_wait` long-polls for one."""
    app = _base("bench_channel")
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    async def bot(request: Request) -> HTTPResponse:
        now = time.time()
        text = (request.json or {}).get("text") or ""
        arrived.setdefault(text, now)
        if text in waiting:
            waiting.pop(text).set()
        return reply({})

    async def wait(request: Request) -> HTTPResponse:
        text = request.args.get("text", "")
        timeout = float(request.args.get("timeout", 30))
        if text not in arrived:
            event = waiting.setdefault(text, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                return reply({"error": f"no bot message {text!r} within {timeout} s"}, status=504)
        return reply({"at": arrived[text]})

    async def listing(request: Request) -> HTTPResponse:
        return reply({"count": len(arrived)})

    app.add_route(bot, "/bot", methods=["POST"])
    app.add_route(wait, "/_wait", methods=["GET"])
    app.add_route(listing, "/_received", methods=["GET"])
    return app


def forwarder_app(rasa_url: str, api_key: str, conversations: Path) -> Sanic:
    """The sidecar's baseline: check the key, find the sender, forward to trigger_intent, check the ack.

    Same Sanic, same HTTP client (httpx, default limits) and the same call to
    Rasa as the sidecar, with no store, queue or retry in between.
    """
    app = _base("bench_forwarder")
    senders: dict[str, str] = json.loads(conversations.read_text())
    expected_auth = f"Bearer {api_key}"

    @app.before_server_start
    async def open_client(app: Sanic) -> None:
        app.ctx.http = httpx.AsyncClient(timeout=30)

    @app.after_server_stop
    async def close_client(app: Sanic) -> None:
        await app.ctx.http.aclose()

    async def receive(request: Request) -> HTTPResponse:
        if request.headers.get("authorization") != expected_auth:
            return reply({"code": 401, "message": "bad key"}, status=401)
        body = request.json or {}
        conversation = body.get("conversation_id")
        sender = senders.get(conversation)
        if sender is None:
            return reply({"code": 404, "message": "no active handoff for this conversation"}, status=404)
        event_id = f"webhook:{conversation}:{body.get('message_id')}"
        response = await request.app.ctx.http.post(
            f"{rasa_url}/conversations/{quote(sender, safe='')}/trigger_intent",
            params={"output_channel": "latest"},
            json={"name": AGENT_MESSAGE_INTENT,
                  "entities": {EVENT_ID_ENTITY: event_id, TEXT_ENTITY: body.get("body")}},
        )
        if response.status_code != 200 or not _acknowledged(response.json(), event_id):
            return reply({"code": 502, "message": "Rasa did not take it"}, status=502)
        return reply(OK)

    app.add_route(receive, "/v1/human/message/receive", methods=["POST"])
    return app


def _acknowledged(answer: dict[str, Any], event_id: str) -> bool:
    events = ((answer or {}).get("tracker") or {}).get("events") or []
    return any(e.get("event") == "slot" and e.get("value") == event_id for e in events)


def main(argv: Optional[list[str]] = None) -> None:
    """Serve one role until terminated (SIGTERM from processes.Service.stop)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("desk", "rasa", "channel", "forwarder"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rasa-url", help="forwarder: Rasa's base URL")
    parser.add_argument("--api-key", help="forwarder: the bearer key the desk sends")
    parser.add_argument("--conversations", type=Path, help="forwarder: JSON {desk conversation id: sender id}")
    args = parser.parse_args(argv)
    if args.role == "forwarder":
        app = forwarder_app(args.rasa_url, args.api_key, args.conversations)
    else:
        app = {"desk": desk_app, "rasa": rasa_app, "channel": channel_app}[args.role]()
    app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
