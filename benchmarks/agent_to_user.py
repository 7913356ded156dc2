"""Agent to user on a real Rasa: a desk webhook reaching the user's channel, against Rasa's own trigger_intent.

Subject: the agent's message as the desk sends it, `POST /v1/human/message/receive`
to the sidecar, which pushes it into Rasa 3.6.21 with trigger_intent; the
handoff loop (on the real rasa-sdk action server) utters it and Rasa's
callback channel POSTs it to a local receiver. Timed from the webhook's
send to the receiver's arrival.

Baseline: Rasa's `trigger_intent` of `EXTERNAL_benchmark_ping`, whose rule runs
`action_benchmark_ping` on the same action server, uttering one message to
the same receiver: what any external push into Rasa costs, without handoff.

Messages go one at a time (a person typing does not queue), the two sides
in alternating rounds. The first run builds Rasa's venv and trains the
benchmark bot (cached in ~/.cache/rasa-handoff afterwards).

    python -m benchmarks.agent_to_user [--store sqlite|redis] [--smoke]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from benchmarks.backends import Backend, StoreUnavailable, backend
from benchmarks.bot import MARKER_ENTITY, PING_INTENT, assemble_project
from benchmarks.deploy import (
    DESK_KEY, SetupFailed, action_server, fake, fetch_json, sidecar, stop, url_of, workdir, write_config,
)
from benchmarks.loadgen import Connection, connect
from benchmarks.measure import Report, Series, Stopwatch, command_line, interleave, pick, rounds_of
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from handoff_connectors.rasa_runtime.project import train
from handoff_connectors.rasa_runtime.venv import ensure_rasa

RASA_TOKEN = "bench-rasa-token-51c0"
JSON = {"Content-Type": "application/json"}
DESK_AUTH = {"Authorization": f"Bearer {DESK_KEY}", **JSON}


@dataclass
class Deployment:
    """Connections to the running pieces, and the conversations on each side."""

    rasa: Connection
    sidecar: Connection
    channel: Connection
    handoffs: dict[str, str]  # sender id -> desk conversation id
    plain: list[str]  # sender ids without a handoff


async def arrival(channel: Connection, text: str) -> float:
    """When the user's channel received the bot message `text` (its own clock reading)."""
    status, body = await channel.request("GET", f"/_wait?text={quote(text)}&timeout=60")
    if status != 200:
        raise SetupFailed(f"the user's channel never got {text!r}: {body[:200]!r}")
    return json.loads(body)["at"]


async def agent_message(deployment: Deployment, index: int, tag: str) -> float:
    """Desk webhook -> sidecar -> Rasa -> handoff loop -> callback channel; seconds end to end."""
    senders = list(deployment.handoffs)
    conversation = deployment.handoffs[senders[index % len(senders)]]
    text = f"agent {tag} {index}"
    body = json.dumps({"conversation_id": conversation, "timestamp": int(time.time() * 1000),
                       "body": text, "message_id": text}).encode()
    sent = time.time()
    status, answer = await deployment.sidecar.request("POST", "/v1/human/message/receive", body, DESK_AUTH)
    if status != 200:
        raise SetupFailed(f"the sidecar answered {status}: {answer[:200]!r}")
    return await arrival(deployment.channel, text) - sent


async def ping(deployment: Deployment, index: int, tag: str) -> float:
    """Rasa trigger_intent -> action_benchmark_ping -> callback channel; seconds end to end."""
    sender = deployment.plain[index % len(deployment.plain)]
    text = f"ping {tag} {index}"
    body = json.dumps({"name": PING_INTENT, "entities": {MARKER_ENTITY: text}}).encode()
    path = f"/conversations/{quote(sender)}/trigger_intent?output_channel=latest&token={RASA_TOKEN}"
    sent = time.time()
    status, answer = await deployment.rasa.request("POST", path, body, JSON)
    if status != 200:
        raise SetupFailed(f"Rasa answered {status} to trigger_intent: {answer[:200]!r}")
    return await arrival(deployment.channel, text) - sent


def side(deployment: Deployment, series: Series, send: Callable, messages: int) -> Callable:
    """A round: `messages` messages one after the other, each timed to its arrival."""
    async def run() -> None:
        tag, clock = uuid.uuid4().hex[:8], Stopwatch()
        latencies = [await send(deployment, index, tag) for index in range(messages)]
        series.add(latencies, clock.elapsed())
    return run


async def say(rasa: Connection, sender: str, text: str) -> None:
    """A user message through the callback channel (Rasa answers once the bot has handled it)."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    status, answer = await rasa.request("POST", "/webhooks/callback/webhook", body, JSON)
    if status != 200:
        raise SetupFailed(f"Rasa's callback channel answered {status}: {answer[:200]!r}")


async def start_conversations(rasa: Connection, desk_url: str, count: int) -> tuple[dict[str, str], list[str]]:
    """`count` users in a handoff (asked for a person, gave the email) and `count` who only said hello."""
    handoffs = [f"bench-h-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    plain = [f"bench-p-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for sender in handoffs:
        await say(rasa, sender, "I want to talk to a human")
        await say(rasa, sender, "my email is ana@example.com")
    for sender in plain:
        await say(rasa, sender, "hello")
    clock = Stopwatch()
    while True:
        known = fetch_json(f"{desk_url}/_received")["conversations"]
        if all(sender in known for sender in handoffs):
            return {sender: known[sender] for sender in handoffs}, plain
        if clock.elapsed() > 60:
            missing = [sender for sender in handoffs if sender not in known]
            raise SetupFailed(f"no desk conversation for {missing} after asking for a person")
        await asyncio.sleep(0.2)


def start(store: Backend, work: Path, services: list[Service]) -> tuple[Service, Service, Service, Service]:
    """Build/train (cached), then the fakes, the action server, the sidecar and Rasa; all appended to `services`."""
    progress = lambda line: print(line, flush=True)  # noqa: E731
    rasa_exe = ensure_rasa(progress=progress)
    project = assemble_project(work / "bot")
    model = train(rasa_exe, project, progress=progress)
    logs = work / "logs"
    desk, channel = fake("desk", logs), fake("channel", logs)
    services += [desk, channel]
    rasa_port, config = free_port(), work / "handoff.yml"
    write_config(config, url_of(desk), f"http://127.0.0.1:{rasa_port}", store.section, rasa_token=RASA_TOKEN)
    actions = action_server(config, logs)
    services.append(actions)
    the_sidecar = sidecar(config, logs)
    services.append(the_sidecar)
    action_port = int(url_of(actions).rsplit(":", 1)[1])
    processes.write_rasa_endpoints(project, action_port, f"callback:\n  url: {url_of(channel)}/bot\n")
    rasa = processes.rasa_server(rasa_exe, model, project, rasa_port, logs, token=RASA_TOKEN)
    services.append(rasa.start(timeout=240))
    return desk, channel, the_sidecar, rasa


async def measure(args, deployment: Deployment, store: Backend) -> None:
    """A few untimed messages of each side, then the interleaved rounds and the figures."""
    messages = int(pick(args, full=40, smoke=5, given=args.messages))
    baseline, subject = Series(), Series()
    report = Report(
        "agent_to_user: desk webhook -> sidecar -> Rasa -> handoff loop -> user's channel, vs Rasa trigger_intent "
        "of a one-message action",
        f"real Rasa 3.6.21, callback channel; {store.description}; {len(deployment.plain)} conversations per side; "
        f"{rounds_of(args)} interleaved rounds of {messages} messages, one at a time; median over rounds",
    )
    # Rasa's first predictions and both paths' connections warm up here.
    await side(deployment, Series(), ping, 3)()
    await side(deployment, Series(), agent_message, 3)()
    await interleave(rounds_of(args), [side(deployment, baseline, ping, messages),
                                       side(deployment, subject, agent_message, messages)])
    report.figure("trigger_intent + ping action", baseline)
    report.figure("agent webhook to user", subject)
    report.ratio("ratio agent/trigger_intent", subject, baseline)
    report.finish()


async def run(args, store: Backend, work: Path) -> None:
    """Deploy, put users in and out of handoff, measure; always tear down."""
    services: list[Service] = []
    connections: list[Connection] = []
    try:
        desk, channel, the_sidecar, rasa = start(store, work, services)
        connections = [connect(url_of(service)) for service in (rasa, the_sidecar, channel)]
        handoffs, plain = await start_conversations(connections[0], url_of(desk), int(pick(args, full=5, smoke=2)))
        await measure(args, Deployment(*connections, handoffs, plain), store)
    finally:
        for connection in connections:
            connection.close()
        stop(services)


def main(argv: list[str] | None = None) -> int:
    """Exit status 2, with the reason, when the store, Rasa or the deployment is not available."""
    parser = command_line(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--messages", type=int, help="messages per round and side (default 40; --smoke: 5)")
    args = parser.parse_args(argv)
    try:
        with workdir(args.keep) as work, backend(args.store, work) as store:
            asyncio.run(run(args, store, work))
    except (StoreUnavailable, SetupFailed, RuntimeError) as reason:
        print(f"agent_to_user benchmark cannot run: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
