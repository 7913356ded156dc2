"""Case 5: a thousand concurrent handoffs, every message carrying a token of its own conversation.

The action server opens them and relays the users' messages, the sidecar
delivers both ways, Rasa is faked (see fake_rasa). Every agent reply must
reach its own conversation in Rasa and every user message its own
conversation at the desk, once, in order, and none anybody else's.
Runs on sqlite and on Redis.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar

import pytest

from handoff_connectors.core.config import load_config
from handoff_connectors.core.store import open_store
from handoff_connectors.registry import create_service
from tests.support.redis_server import forget_prefix, unique_prefix

from .desk import FaultyDesk
from .fake_rasa import FakeRasa
from .figures import Figures, Report, repeated, tally_streams
from .played_rasa import ActionCaller
from .profile import Profile
from .stack import DESK_KEY, RASA_TOKEN, Stack, answers, spawn, store_settings
from .store_access import parked
from .waiting import wait_until

# Conversations busy at once: few enough that the sidecar never has more queues due at once
# than its HTTP and Redis pools (100 connections each) serve (see the backlog test).
WORKERS = 32
# A delivery count that stops growing this long is stuck, not slow.
STALL = 10.0
T = TypeVar("T")


@contextmanager
def running_stack(
    tmp_path: Path, desk: FaultyDesk, rasa: FakeRasa, kind: str, redis_url: Optional[str]
) -> Iterator[Stack]:
    """An action server and a sidecar on `kind`; a Redis prefix of the test's own is deleted after."""
    prefix = unique_prefix()
    # The connector's default timeout: this case is about numbers, not about a slow desk.
    stack = Stack(tmp_path, desk.url, rasa.url, store_settings(kind, tmp_path, redis_url, prefix), desk_timeout=10)
    try:
        yield stack.start()
    finally:
        stack.stop()
        if kind == "redis":
            forget_prefix(redis_url, prefix)


def test_a_thousand_live_handoffs_each_get_exactly_their_own_messages(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest, profile: Profile, report: Report
) -> None:
    """All are opened before any is talked to, so a thousand are live together; WORKERS
    conversations are busy at a time, so the sidecar never has more queues due at once than
    it serves (see the backlog test for what happens beyond)."""
    redis_url = request.getfixturevalue("redis_store_url") if store_kind == "redis" else None
    senders = [f"crowd-{n:04d}-{uuid.uuid4().hex[:6]}" for n in range(profile.handoffs)]
    with FaultyDesk(silence=0) as desk, FakeRasa(RASA_TOKEN) as rasa:
        with running_stack(tmp_path, desk, rasa, store_kind, redis_url) as stack, \
                ActionCaller(stack.actions_url) as caller:
            started = time.monotonic()
            conversations = dict(zip(senders, _each(senders, lambda sender: _open(caller, desk, sender))))
            opened = time.monotonic()
            talk = Talk(desk, rasa, caller, stack.sidecar_url, conversations, profile.messages_each)
            _each(senders, talk)
            exchanged = time.monotonic()
            time.sleep(1.0)  # room for a late duplicate or a stray
            dead = parked(stack.store)
    at_desk = {sender: [c.body["body"] for c in desk.chats(conversations[sender])] for sender in senders}
    at_rasa = {sender: rasa.agent_texts(sender) for sender in {p.sender_id for p in rasa.pushed()}}
    to_rasa, to_desk = tally_streams(talk.replies, at_rasa), tally_streams(talk.messages, at_desk)
    counts = to_rasa + to_desk
    figures = Figures(
        case=f"thousand-handoffs[{store_kind}]",
        tally=counts,
        recovery=None,
        all_delivered=exchanged - opened,
        extra={"handoffs": len(senders), "cross_talk": counts.foreign, "duplicated_to_rasa": to_rasa.duplicated,
               "duplicated_to_desk": to_desk.duplicated, "parked": sum(map(len, dead.values())),
               "webhooks_answered_503": talk.retried, "open_took": opened - started},
    )
    report(figures)

    twice = repeated(text for texts in [*at_desk.values(), *at_rasa.values()] for text in texts)
    assert (counts.lost, counts.reordered, counts.duplicated, counts.foreign) == (0, 0, 0, 0), (
        f"{figures.line()}\narrived twice: {twice[:10]}"
    )
    assert not dead, f"good messages were parked: {dead}"
    assert not talk.late, f"messages still on their way after a minute: {talk.late[:10]}"


def test_a_backlog_of_a_thousand_conversations_flows_once_the_sidecar_is_back(
    tmp_path: Path, profile: Profile, report: Report
) -> None:
    """The sidecar was down while a thousand users asked for a person (their handoffs are
    queued, as the action queues them); started again, it must open every one at the desk."""
    with FaultyDesk(silence=0) as desk, FakeRasa(RASA_TOKEN) as rasa:
        stack = Stack(tmp_path, desk.url, rasa.url, store_settings("sqlite", tmp_path, None, ""), desk_timeout=10)
        try:
            senders = queue_handoffs(stack, profile.handoffs)
            started = spawn(stack.sidecar)
            flowed = _wait_progressing(lambda: len(desk.accepted("/conversation/establish")), len(senders))
            healthy = answers(stack.sidecar)
        finally:
            stack.stop()
    establishes = desk.accepted("/conversation/establish")
    opened = _by_sender([(call.body["user_info"]["user_id"],) * 2 for call in establishes])
    figures = Figures(
        case="thousand-handoffs-backlog[sqlite]",
        tally=tally_streams({sender: [sender] for sender in senders}, opened),
        recovery=establishes[0].at - started if establishes else None,
        all_delivered=establishes[-1].at - started if flowed else None,
        extra={"handoffs": len(senders), "opened_at_desk": len(opened), "gave_up_after_stalling": not flowed,
               "health_answered_2s": healthy},
    )
    report(figures)

    assert flowed and figures.tally.lost == 0, f"{figures.line()}\n{stack.logs(5)}"
    assert healthy, "the sidecar stopped answering /health while it worked through the backlog"


def queue_handoffs(stack: Stack, count: int) -> list[str]:
    """`count` handoffs opened as the action opens them (one store write each), no sidecar running."""
    config = load_config(str(stack.config_path))
    senders = [f"backlog-{n:04d}-{uuid.uuid4().hex[:6]}" for n in range(count)]

    async def open_all() -> None:
        service = create_service(config, open_store(config.store))
        try:
            for sender in senders:
                await service.open(sender, "ana@example.com", "en", [], "I want to talk to a human")
        finally:
            await service.connector.aclose()
            await service.store.close()

    asyncio.run(open_all())
    return senders


def _each(items: list[str], work: Callable[[str], T]) -> list[T]:
    """`work` on every item from WORKERS threads; the first failure is raised."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, items))


def _wait_progressing(count: Callable[[], int], target: int) -> bool:
    """Wait while `count()` grows towards `target`: False once it stalls for STALL seconds."""
    seen, moved = count(), time.monotonic()
    while seen < target:
        time.sleep(0.2)
        now = count()
        if now > seen:
            seen, moved = now, time.monotonic()
        elif time.monotonic() - moved > STALL:
            return False
    return True


def _open(caller: ActionCaller, desk: FaultyDesk, sender: str) -> str:
    """Ask for a person as `sender`; the desk conversation, once the desk has it."""
    caller.open_handoff(sender)
    return wait_until(lambda: desk.conversation_of(sender), 60, f"the desk to open {sender}", every=0.01)


class Talk:
    """One conversation's exchange, called from many threads: agent replies and user messages
    with tokens of their own, each waited for at both ends before the next."""

    def __init__(self, desk: FaultyDesk, rasa: FakeRasa, caller: ActionCaller, sidecar_url: str,
                 conversations: dict[str, str], each: int) -> None:
        self.desk, self.rasa, self.caller, self.sidecar_url = desk, rasa, caller, sidecar_url
        self.conversations, self.each = conversations, each
        self.replies: dict[str, list[str]] = {}
        self.messages: dict[str, list[str]] = {}
        self.late: list[str] = []
        self.retried = 0
        self._lock = threading.Lock()

    def __call__(self, sender: str) -> None:
        replies, messages = self.replies.setdefault(sender, []), self.messages.setdefault(sender, [])
        for n in range(self.each):
            replies.append(f"agent-{sender}-{n}-{uuid.uuid4().hex[:8]}")
            self._post_reply(self.conversations[sender], replies[-1])
            messages.append(f"user-{sender}-{n}-{uuid.uuid4().hex[:8]}")
            self.caller.relay(sender, messages[-1])
            if not self._arrived(sender, n + 1):
                with self._lock:
                    self.late.append(sender)
                return

    def _post_reply(self, conversation_id: str, text: str, attempts: int = 50) -> None:
        """Post as a desk does: a 503 means "keep the event and try again later"."""
        for _ in range(attempts):
            status = self.desk.reply(self.sidecar_url, DESK_KEY, conversation_id, text, text)
            if status != 503:
                assert status == 200, f"the sidecar answered {status} to {text}"
                return
            with self._lock:
                self.retried += 1
            time.sleep(0.2)
        raise AssertionError(f"the sidecar answered 503 {attempts} times in a row to {text}")

    def _arrived(self, sender: str, count: int) -> bool:
        def both() -> bool:
            at_desk = self.desk.chats(self.conversations[sender])
            return len(self.rasa.agent_texts(sender)) >= count and len(at_desk) >= count

        try:
            wait_until(both, 60, f"{count} messages each way for {sender}", every=0.01)
        except AssertionError:
            return False
        return True


def _by_sender(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for sender, text in pairs:
        grouped.setdefault(sender, []).append(text)
    return grouped
