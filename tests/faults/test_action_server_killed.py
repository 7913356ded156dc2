"""Case 4: the action server is SIGKILLed while user messages are being relayed through it.

The test plays Rasa for several conversations at once, each sending its
user messages back to back, so calls are in flight when the kill lands.
A message the action server answered 200 for is in the store and must reach
the desk once, in order. A call that failed is Rasa's to redo (a user
message whose action failed); the caller here redoes it once the action
server is back. Such a message may reach the desk twice, when the kill fell
between the action's store write and its answer: that is the caller's
at-least-once window, counted apart and not held against the engine.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from handoff_connectors.rasa_runtime.processes import free_port

from .desk import FaultyDesk
from .figures import EMPTY, Figures, Report, Tally, tally
from .played_rasa import ActionCaller
from .profile import Profile
from .stack import Stack, sigkill, sqlite_store
from .streams import Stream
from .waiting import wait_until

# Back to back (a call takes a few ms): some call is nearly always in flight.
BACK_TO_BACK = 0.02
LEAD, TAIL = 1.0, 1.0


def test_relayed_messages_survive_an_action_server_kill_and_failed_calls_are_the_callers_to_redo(
    tmp_path: Path, profile: Profile, report: Report
) -> None:
    with FaultyDesk(silence=0) as desk:
        stack = Stack(tmp_path, desk.url, f"http://127.0.0.1:{free_port()}", sqlite_store(tmp_path))
        try:
            stack.start()
            with ActionCaller(stack.actions_url, timeout=5) as caller:
                streams, restarting, ready = _relay_through_a_kill(stack, caller, desk, profile)
            total = sum(len(stream.sent) for stream in streams.values())
            wait_until(lambda: _delivered(desk, streams) >= total, 60, f"{total} chats at the desk")
            time.sleep(1.0)  # room for a late duplicate
        finally:
            stack.stop()
    chats = [chat for sender in streams for chat in desk.chats(desk.conversation_of(sender))]
    received = {sender: _texts(desk, sender) for sender in streams}
    failed = {token for stream in streams.values() for token in stream.failed}
    # Held by the fault: the calls that failed, redone once the new process runs.
    redone = sorted(chat.at for chat in chats if chat.body["body"] in failed and chat.at >= restarting)
    counts = _split_duplicates(streams, received)
    figures = Figures(
        case="action-server-sigkill",
        tally=counts.total,
        # The callers may get through a moment before our readiness probe sees it up: that counts as 0.
        recovery=max(0.0, redone[0] - ready) if redone else None,
        all_delivered=max(chat.at for chat in chats) - ready,
        extra={"conversations": len(streams), "failed_calls": counts.failed_calls,
               "failed_messages": counts.failed_messages, "redo_duplicates": counts.redo_duplicates,
               "outage": profile.outage},
    )
    report(figures)

    assert counts.failed_messages, "no call failed: the kill missed the stream"
    assert (figures.tally.lost, figures.tally.reordered) == (0, 0), figures.line()
    assert counts.answered_duplicates == 0, f"a message answered 200 at once arrived twice: {figures.line()}"


def _relay_through_a_kill(
    stack: Stack, caller: ActionCaller, desk: FaultyDesk, profile: Profile
) -> tuple[dict[str, Stream], float, float]:
    """Stream from several conversations; SIGKILL, stay down `outage`, restart.

    Returns (streams, restart began at, up again at).
    """
    senders = [f"actions-kill-{uuid.uuid4().hex[:8]}" for _ in range(profile.streams)]
    for sender in senders:
        caller.open_handoff(sender)
    wait_until(lambda: all(desk.conversation_of(s) for s in senders), 20, "the desk to open every conversation")

    def back() -> None:
        wait_until(caller.health, profile.outage + 60, "the action server to come back", every=0.05)

    streams = {
        sender: Stream(lambda text, s=sender: caller.relay(s, text), BACK_TO_BACK, f"{sender}-", recover=back).start()
        for sender in senders
    }
    try:
        time.sleep(LEAD)
        sigkill(stack.actions)
        time.sleep(profile.outage)
        restarting = time.monotonic()
        ready = stack.restart(stack.actions)
        time.sleep(TAIL)
    finally:
        for stream in streams.values():
            stream.stop()
    broken = [stream.error for stream in streams.values() if stream.error is not None]
    assert not broken, f"a stream gave up: {broken!r}\n{stack.logs()}"
    return streams, restarting, ready


def _texts(desk: FaultyDesk, sender: str) -> list[str]:
    """What the desk accepted in `sender`'s conversation, in order."""
    return [chat.body["body"] for chat in desk.chats(desk.conversation_of(sender))]


def _delivered(desk: FaultyDesk, streams: dict[str, Stream]) -> int:
    """Distinct messages of the streams the desk accepted so far."""
    return sum(len(set(_texts(desk, sender))) for sender in streams)


@dataclass(frozen=True)
class KillCounts:
    total: Tally
    failed_calls: int
    failed_messages: int
    # Duplicates of messages whose call failed (the caller's redo) and of ones answered 200 (the engine's).
    redo_duplicates: int
    answered_duplicates: int


def _split_duplicates(streams: dict[str, Stream], received: dict[str, list[str]]) -> KillCounts:
    """The tally, plus duplicates split into the redo window's and the engine's own."""
    total = sum((tally(stream.sent, received[sender]) for sender, stream in streams.items()), start=EMPTY)
    failed = {token for stream in streams.values() for token in stream.failed}
    twice = [token for tokens in received.values() for token in set(tokens) if tokens.count(token) > 1]
    return KillCounts(
        total=total,
        failed_calls=sum(len(stream.failed) for stream in streams.values()),
        failed_messages=len(failed),
        redo_duplicates=sum(1 for token in twice if token in failed),
        answered_duplicates=sum(1 for token in twice if token not in failed),
    )
