"""Two action servers and two sidecars behind nginx, on one Redis, as docs/deployment.md runs them.

Conversations are played the way production plays them: Rasa posts the
`handoff_loop` action to nginx's internal side, which spreads the calls over
both action servers (they only queue, in Redis); the reference webhook desk
receives what the sidecars deliver and posts the agents' replies to nginx's
public side, which spreads them over both sidecars; the sidecars push them
into Rasa.

Rasa is faked (tests/deployment/fake_rasa.py): a real Rasa takes minutes to
build and seconds to start, and what it does with an event is the e2e
suite's job. Here the question is the engine's: with every process doubled,
does each message still cross exactly once, in order, and does a sidecar
that dies (SIGKILL, no goodbye) stop nothing for more than a few seconds?
"""

from __future__ import annotations

import concurrent.futures
import json
import statistics
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterator, Optional, Sequence, TypeVar

import httpx

from tests.deployment.fake_rasa import AGENT_MESSAGE, TIMEOUT, Trigger
from tests.deployment.harness import WAITING_SECONDS, Deployment
from tests.deployment.nginx_proxy import EXAMPLES
from tests.deployment.rasa_side import RasaConversation

CONVERSATIONS = 20
# A round is one user message and one agent reply, in each conversation.
ROUNDS = 5
KILL_ROUNDS = 6
# The longest any message may take while a sidecar dies: its 5 s lease, then delivery.
TAKEOVER_WITHIN = 15.0
ARRIVAL_WITHIN = 20.0

T = TypeVar("T", bound=Hashable)


@dataclass
class Played:
    """One conversation: what each side sent, in the order sent, and when."""

    rasa: RasaConversation
    conversation_id: str
    user_sent: list[tuple[float, str]] = field(default_factory=list)
    agent_sent: list[tuple[float, str]] = field(default_factory=list)
    agent_posts: int = 0

    @property
    def sender_id(self) -> str:
        return self.rasa.sender_id


@dataclass
class Clients:
    """One conversation's connections: Rasa's to the action side, the desk's to the public side."""

    actions: httpx.Client
    public: httpx.Client

    @classmethod
    @contextmanager
    def to(cls, deployment: Deployment) -> Iterator["Clients"]:
        with httpx.Client(base_url=deployment.actions_url, timeout=30) as actions, \
                httpx.Client(base_url=deployment.public_url, timeout=30) as public:
            yield cls(actions, public)


# -- playing ------------------------------------------------------------------------------


def open_handoff(deployment: Deployment, actions: httpx.Client, sender_id: str) -> Played:
    """The user asks for a person (email known from the channel); the desk gets the handoff."""
    conversation = RasaConversation(sender_id, deployment.domain)
    conversation.says("I want to talk to a human", "handoff_request", {"email": f"{sender_id}@example.com"})
    conversation.run_loop(actions)
    assert conversation.slots["handoff_state"] == "connected", conversation.slots
    establish = deployment.wait_for_establish(sender_id)
    return Played(conversation, establish["conversation_id"])


def play_round(deployment: Deployment, clients: Clients, played: Played, number: int) -> None:
    """One user message through an action server, one agent reply through a sidecar."""
    text = f"{played.sender_id} user {number}"
    played.rasa.says(text, "inform")
    sent_at = time.monotonic()
    result = played.rasa.run_loop(clients.actions)
    assert result == {"events": [], "responses": []}, f"a relayed message got an answer: {result}"
    played.user_sent.append((sent_at, text))
    reply = f"{played.sender_id} agent {number}"
    sent_at = time.monotonic()
    played.agent_posts += deployment.agent_says(clients.public, played.conversation_id, reply, f"agent-{number}")
    played.agent_sent.append((sent_at, reply))


def play(
    deployment: Deployment,
    sender_prefix: str,
    rounds: int,
    before_round: Optional[Callable[[int], None]] = None,
) -> list[Played]:
    """CONVERSATIONS conversations at once, each opened then played for `rounds` rounds in order."""

    def conversation(index: int) -> Played:
        with Clients.to(deployment) as clients:
            played = open_handoff(deployment, clients.actions, f"{sender_prefix}-{index:02d}")
            for number in range(1, rounds + 1):
                if before_round is not None:
                    before_round(number)
                play_round(deployment, clients, played, number)
            return played

    with concurrent.futures.ThreadPoolExecutor(CONVERSATIONS) as pool:
        return list(pool.map(conversation, range(CONVERSATIONS)))


# -- what arrived --------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrivals:
    """What each side had received at one moment, by conversation (one pass over each record)."""

    desk: dict[str, list[tuple[float, dict]]]
    rasa: dict[str, list[Trigger]]

    @classmethod
    def now(cls, deployment: Deployment) -> "Arrivals":
        return cls(deployment.desk.chats(), deployment.rasa.by_sender(AGENT_MESSAGE))

    def at_desk(self, played: Played) -> list[tuple[float, tuple[int, str]]]:
        """(arrival, (timestamp, text)) of the user messages the desk accepted, in arrival order."""
        return [(at, (body["timestamp"], body["body"])) for at, body in self.desk.get(played.conversation_id, [])]

    def at_rasa(self, played: Played) -> list[tuple[float, tuple[str, str]]]:
        """(arrival, (event id, text)) of the agent replies Rasa acknowledged, in arrival order."""
        return [(each.at, (each.event_id, each.text)) for each in self.rasa.get(played.sender_id, [])]

    def complete(self, played: Played) -> bool:
        return (
            distinct_count(self.at_desk(played)) >= len(played.user_sent)
            and distinct_count(self.at_rasa(played)) >= len(played.agent_sent)
        )


def distinct_count(items: Sequence[tuple[float, Hashable]]) -> int:
    return len({item for _, item in items})


def wait_for_everything(deployment: Deployment, games: list[Played], within: float) -> tuple[float, Arrivals]:
    """Wait until every message of `games` arrived on its side: when (monotonic), and what arrived."""
    deadline = time.monotonic() + within
    while not all((arrivals := Arrivals.now(deployment)).complete(played) for played in games):
        if time.monotonic() > deadline:
            raise AssertionError(f"messages still missing after {within:.0f} s\n{deployment.logs_tail()}")
        time.sleep(0.05)
    return time.monotonic(), arrivals


def without_redeliveries(items: Sequence[T]) -> tuple[list[T], int]:
    """`items` with each immediate repeat dropped, and how many were dropped.

    Why an immediate repeat is not a bug: delivery is at least once. A
    sidecar killed after the receiver accepted an item but before it removed
    the item from its queue leaves it at the head, and whoever takes the
    queue over sends it again, right after. A repeat anywhere else, a gap or
    a swap would be a bug, and the comparison with what was sent shows it.
    """
    kept: list[T] = []
    for item in items:
        if not kept or kept[-1] != item:
            kept.append(item)
    return kept, len(items) - len(kept)


def check_desk_side(arrivals: Arrivals, played: Played) -> int:
    """The user's messages reached the desk in order, none lost; returns the redeliveries."""
    arrived, redelivered = without_redeliveries([item for _, item in arrivals.at_desk(played)])
    assert [text for _, text in arrived] == [text for _, text in played.user_sent], played.sender_id
    return redelivered


def check_rasa_side(arrivals: Arrivals, played: Played) -> int:
    """The agent's replies reached Rasa in order, none lost; returns the redeliveries."""
    arrived, redelivered = without_redeliveries([item for _, item in arrivals.at_rasa(played)])
    assert [text for _, text in arrived] == [text for _, text in played.agent_sent], played.sender_id
    assert len({event_id for event_id, _ in arrived}) == len(arrived), "one event id for two replies"
    return redelivered


# -- figures ----------------------------------------------------------------------------------


def delivery_times(games: list[Played], arrivals: Arrivals) -> dict[str, list[float]]:
    """Seconds from sending to the first arrival, per direction."""
    times: dict[str, list[float]] = {"user -> desk": [], "agent -> Rasa": []}
    for played in games:
        first_at = {text: at for at, (_, text) in reversed(arrivals.at_desk(played))}
        times["user -> desk"] += [first_at[text] - sent for sent, text in played.user_sent]
        first_at = {text: at for at, (_, text) in reversed(arrivals.at_rasa(played))}
        times["agent -> Rasa"] += [first_at[text] - sent for sent, text in played.agent_sent]
    return times


def describe(times: dict[str, list[float]]) -> str:
    return "; ".join(
        f"{name}: median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
        for name, values in times.items()
    )


def served_by(entries: list[dict], uri_prefix: str) -> Counter:
    """Requests nginx passed on, by the instance that answered them (its JSON access log entries)."""
    served: Counter = Counter()
    for entry in entries:
        if entry["uri"].startswith(uri_prefix) and entry["upstream"]:
            served[entry["upstream"].split(", ")[-1]] += 1
    return served


def delivered_by(deployment: Deployment) -> list[Counter]:
    """Messages each sidecar's pump delivered so far, by direction (from its own /metrics)."""
    counts = []
    for index in range(len(deployment.sidecars)):
        metrics = deployment.sidecar_metrics(index)
        counts.append(Counter({
            direction: metrics.get(("rasa_handoff_messages_total", (("desk", "webhook"), ("direction", direction))), 0)
            for direction in ("user_to_agent", "agent_to_user")
        }))
    return counts


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# -- the tests ---------------------------------------------------------------------------------


def test_every_message_crosses_once_in_order_while_both_of_each_share_the_work(
    deployment: Deployment, sender_prefix: str
):
    logged_before = len(deployment.nginx.requests())
    delivered_before = delivered_by(deployment)
    started = time.monotonic()
    games = play(deployment, sender_prefix, ROUNDS)
    played_for = time.monotonic() - started
    _, arrivals = wait_for_everything(deployment, games, ARRIVAL_WITHIN)

    for played in games:
        assert check_desk_side(arrivals, played) == 0, f"{played.sender_id}: a user message reached the desk twice"
        assert check_rasa_side(arrivals, played) == 0, f"{played.sender_id}: an agent reply reached Rasa twice"
        assert played.agent_posts == ROUNDS, "a webhook was refused while both sidecars were up"
    logged = deployment.nginx.requests()[logged_before:]
    actions, webhooks = served_by(logged, "/webhook"), served_by(logged, "/v1/human/")
    delivered = [after - before for after, before in zip(delivered_by(deployment), delivered_before)]
    print(
        f"\n{CONVERSATIONS} conversations x {ROUNDS} rounds played in {played_for:.1f} s; "
        f"{describe(delivery_times(games, arrivals))}\n"
        f"action calls per action server: {dict(actions)}\nwebhooks per sidecar: {dict(webhooks)}\n"
        f"deliveries per sidecar: {[dict(each) for each in delivered]}"
    )
    assert len(actions) == 2 and min(actions.values()) > 0, actions
    assert len(webhooks) == 2 and min(webhooks.values()) > 0, webhooks
    assert all(sum(each.values()) > 0 for each in delivered), delivered
    # Each message delivered by exactly one of them, once.
    each_way = CONVERSATIONS * ROUNDS
    assert sum(delivered, Counter()) == Counter(user_to_agent=each_way, agent_to_user=each_way)


def test_each_waiting_timer_fires_once_though_both_sidecars_watch_it(deployment: Deployment, sender_prefix: str):
    with httpx.Client(base_url=deployment.actions_url, timeout=30) as actions:
        games = [open_handoff(deployment, actions, f"{sender_prefix}-{index}") for index in range(6)]

    def fired(played: Played) -> list[Trigger]:
        return [each for each in deployment.rasa.triggers(played.sender_id, TIMEOUT)
                if each.entities.get("handoff_timer") == "waiting"]

    assert deployment.rasa.wait_until(lambda: all(fired(played) for played in games), WAITING_SECONDS + 10), (
        f"a waiting timer never fired\n{deployment.logs_tail()}"
    )
    # Both sidecars look for due timers four times a second: give a second firing every chance.
    time.sleep(1.5)
    assert [len(fired(played)) for played in games] == [1] * len(games)


def test_the_public_side_serves_webhooks_only_and_each_sidecar_is_ready(deployment: Deployment):
    probes = ("/metrics", "/ready", "/health")
    assert [httpx.get(deployment.public_url + path, timeout=5).status_code for path in probes] == [404, 404, 404]
    for sidecar in deployment.sidecars:
        ready = httpx.get(sidecar.health_url.removesuffix("/health") + "/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text


def test_sidecars_started_with_log_format_json_log_one_json_object_per_line(deployment: Deployment):
    for sidecar in deployment.sidecars:
        *whole, _ = sidecar.log_path.read_text(encoding="utf-8").split("\n")  # the last one may be half written
        lines = [line for line in whole if line.strip()]
        assert lines, f"{sidecar.log_path} is empty"
        not_json = [line for line in lines if not is_json_object(line)]
        assert not_json == [], f"{sidecar.log_path}: lines that are not JSON objects: {not_json[:5]}"


def test_the_survivor_takes_over_within_seconds_when_a_sidecar_is_killed(deployment: Deployment, sender_prefix: str):
    killed_at: list[float] = []
    lock = threading.Lock()
    rounds_begun: Counter = Counter()

    def kill_sidecar_one_mid_stream(number: int) -> None:
        """SIGKILL sidecar 1 once half the conversations have begun their second round."""
        with lock:
            rounds_begun[number] += 1
            due = number == 2 and rounds_begun[number] == CONVERSATIONS // 2 and not killed_at
        if due:
            deployment.kill_sidecar(0)
            killed_at.append(time.monotonic())

    logged_before = len(deployment.nginx.requests())
    try:
        games = play(deployment, sender_prefix, KILL_ROUNDS, before_round=kill_sidecar_one_mid_stream)
        assert killed_at, "the sidecar was never killed"
        done_at, arrivals = wait_for_everything(deployment, games, ARRIVAL_WITHIN)
    finally:
        deployment.restart_dead_sidecars()

    redelivered = Counter()
    for played in games:
        redelivered["to the desk"] += check_desk_side(arrivals, played)
        redelivered["to Rasa"] += check_rasa_side(arrivals, played)
        before_kill = [item for at, item in arrivals.at_desk(played) + arrivals.at_rasa(played) if at < killed_at[0]]
        assert len(set(before_kill)) == len(before_kill), f"{played.sender_id}: a repeat before any sidecar died"
    times = delivery_times(games, arrivals)
    webhooks = [entry for entry in deployment.nginx.requests()[logged_before:] if entry["uri"].startswith("/v1/human/")]
    moved = [entry for entry in webhooks if "," in entry["upstream"]]
    print(
        f"\nsidecar 1 killed; the last message arrived {done_at - killed_at[0]:.1f} s after the kill; "
        f"{describe(times)}\nredelivered after the kill: {dict(redelivered)}; "
        f"webhooks nginx moved to the survivor: {len(moved)}; "
        f"webhooks the desk had to post again: {sum(played.agent_posts - KILL_ROUNDS for played in games)}"
    )
    # The desks never saw the death: nginx sent what the dead one did not answer to the survivor.
    assert [entry["status"] for entry in webhooks if entry["status"] != "200"] == []
    # Held up by the dead sidecar's lease (5 s) at most, then delivered by the survivor.
    assert max(max(values) for values in times.values()) < TAKEOVER_WITHIN
    # A repeat only of what the dead sidecar had in flight: one item per queue at most.
    assert max(redelivered.values(), default=0) <= CONVERSATIONS


def without_header_comment(text: str) -> str:
    """A file's text after its leading comment block (which says where the file comes from)."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines)


def test_the_page_shows_the_files_the_test_runs():
    page = (EXAMPLES.parent.parent / "deployment.md").read_text(encoding="utf-8")
    for name in ("nginx/rasa-handoff.conf.template", "handoff.yml"):
        body = without_header_comment((EXAMPLES / name).read_text(encoding="utf-8"))
        assert body in page, f"docs/deployment.md no longer shows examples/deployment/{name} as it is"
