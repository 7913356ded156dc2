"""Case 2: the desk fails (503s, then silence past connectors.webhook.timeout) during a stream of user messages.

The real action server queues each message; the test plays Rasa, posting
/webhook as Rasa does (the action's answer does not depend on the desk, so a
real Rasa would add nothing here but a slower stream). The sidecar must
hold every message through both kinds of failure and deliver them all to
the desk, once, in order, once it answers again.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from handoff_connectors.rasa_runtime.processes import free_port

from .desk import FaultyDesk, Mode
from .figures import Figures, Report, tally
from .played_rasa import ActionCaller
from .profile import Profile
from .stack import DESK_TIMEOUT, Stack, sqlite_store
from .streams import Stream
from .waiting import wait_until

LEAD, TAIL = 1.0, 1.0


def test_user_messages_sent_while_the_desk_fails_or_stays_silent_reach_it_once_in_order(
    tmp_path: Path, profile: Profile, report: Report
) -> None:
    with FaultyDesk(silence=DESK_TIMEOUT + 1.0) as desk:
        stack = Stack(tmp_path, desk.url, f"http://127.0.0.1:{free_port()}", sqlite_store(tmp_path))
        try:
            stack.start()
            sender, sent, back = _stream_through_an_outage(stack, desk, profile)
            conversation_id = desk.conversation_of(sender)
            wait_until(lambda: len(desk.chats(conversation_id)) >= len(sent), 60, f"{len(sent)} chats at the desk")
            time.sleep(2 * DESK_TIMEOUT)  # a late duplicate would show up by now
        finally:
            stack.stop()
    chats = desk.chats(conversation_id)
    after = [chat.at for chat in chats if chat.at >= back]
    figures = Figures(
        case="desk-503-then-silent",
        tally=tally(sent, [chat.body["body"] for chat in chats]),
        recovery=after[0] - back if after else None,
        all_delivered=chats[-1].at - back,
        extra={"outage": profile.outage, "answered_503": desk.outcomes.get("503", 0),
               "timed_out": desk.outcomes.get("silent", 0), "held": len(after)},
    )
    report(figures)

    assert desk.outcomes.get("503") and desk.outcomes.get("silent"), f"the outage missed the stream: {desk.outcomes}"
    assert after, "no message was held back by the outage"
    assert (figures.tally.lost, figures.tally.reordered, figures.tally.duplicated) == (0, 0, 0), figures.line()


def _stream_through_an_outage(stack: Stack, desk: FaultyDesk, profile: Profile) -> tuple[str, list[str], float]:
    """Open a handoff, stream user messages through 503s then silence; (sender, sent, desk back at)."""
    sender = f"desk-outage-{uuid.uuid4().hex[:8]}"
    with ActionCaller(stack.actions_url) as caller:
        caller.open_handoff(sender)
        wait_until(lambda: desk.conversation_of(sender), 20, f"the desk to open {sender}")
        stream = Stream(lambda text: caller.relay(sender, text), profile.interval, f"{sender}-").start()
        try:
            time.sleep(LEAD)
            desk.mode = Mode.FAILING
            time.sleep(profile.outage / 2)
            desk.mode = Mode.SILENT
            time.sleep(profile.outage / 2)
            back = time.monotonic()
            desk.mode = Mode.UP
            time.sleep(TAIL)
        finally:
            desk.mode = Mode.UP
            stream.stop()
    assert stream.error is None, f"the user's stream broke: {stream.error!r}\n{stack.logs()}"
    return sender, stream.sent, back
