"""Case 6: a poison item at the head of a queue, good ones behind it.

No item may stop a queue: a refusal is parked at once, an item whose
delivery fails in an unexpected way is parked after 5 tries, each in
`dead:<queue>` with its reason, and the items behind it go on in order.
The poisons are put in the queue directly (as a bug elsewhere, a desk or an
old version could leave them); the good messages come the normal way.
"""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from handoff_connectors.core.handoffs import TO_DESK, TO_RASA
from handoff_connectors.core.rasa_protocol import ENTITY_EVENT_ID, ENTITY_TEXT, INTENT_AGENT_MESSAGE
from handoff_connectors.core.outbox import MAX_ATTEMPTS, dead_letter_queue
from handoff_connectors.rasa_runtime.processes import free_port

from .desk import FaultyDesk
from .figures import Figures, Report, tally
from .played_rasa import ActionCaller
from .real_rasa import Agent, FaultDeployment
from .stack import Stack, sqlite_store
from .store_access import drop, parked, push
from .waiting import wait_until

GOOD = 5
# Five tries with backoff capped at 2 s take about 6 s; a refusal should take none of that.
PARK_WITHIN = 12.0


def agent_item(handoff_id: str, sender_id: str, intent: str, **entities: Any) -> dict:
    """A `to_rasa:` item as the sidecar queues an agent reply, with the given intent and entities."""
    event_id = f"poison:{uuid.uuid4().hex}"
    return {
        "id": event_id,
        "handoff_id": handoff_id,
        "sender_id": sender_id,
        "intent": intent,
        "entities": {ENTITY_EVENT_ID: event_id, ENTITY_TEXT: "poison", **entities},
        "queued_at": time.time(),
    }


# -- towards Rasa (real Rasa 3.6.21) ------------------------------------------------------


@pytest.mark.e2e
def test_an_agent_message_that_cannot_be_encoded_is_parked_and_the_replies_behind_it_arrive_in_order(
    fault_deployment: FaultDeployment, report: Report
) -> None:
    # NaN is valid for the store's JSON but not for an HTTP body: every push raises ValueError.
    def poison(handoff_id: str, sender_id: str) -> dict:
        return agent_item(handoff_id, sender_id, INTENT_AGENT_MESSAGE, score=float("nan"))

    _poisoned_towards_rasa(fault_deployment, "unencodable-entity", report, poison)


@pytest.mark.e2e
def test_an_agent_message_rasa_refuses_is_parked_and_the_replies_behind_it_arrive_in_order(
    fault_deployment: FaultDeployment, report: Report
) -> None:
    # Rasa 3.6 answers 400 "Name of the intent not provided in request body".
    _poisoned_towards_rasa(fault_deployment, "rasa-400", report,
                           lambda handoff, sender: agent_item(handoff, sender, ""))


def _poisoned_towards_rasa(
    deployment: FaultDeployment, case: str, report: Report, poison: Callable[[str, str], dict]
) -> None:
    user = deployment.new_user()
    handoff_id = deployment.connect(user)  # the webhook desk's conversation id is the handoff's
    store = {"type": "sqlite", "path": str(deployment.store_path)}
    prefix = f"after-{case}-{uuid.uuid4().hex[:6]}-"
    sent = [f"{prefix}{n}" for n in range(GOOD)]
    bad = poison(handoff_id, user.sender_id)
    push(store, TO_RASA + user.sender_id, bad)
    pushed = time.monotonic()
    try:
        with Agent(deployment, handoff_id) as agent:
            assert [agent.reply(text) for text in sent] == [200] * GOOD
        arrived = _wait_quietly(lambda: len(deployment.arrivals.of(user.sender_id, prefix)) >= GOOD, PARK_WITHIN)
    finally:
        drop(store, TO_RASA + user.sender_id, bad["id"])  # should it still block the queue, stop its retries
    arrivals = deployment.arrivals.of(user.sender_id, prefix)
    dead = parked(store).get(dead_letter_queue(TO_RASA + user.sender_id), [])
    texts, times = [text for _, text in arrivals], [at for at, _ in arrivals]
    _report_and_check(case, report, sent, texts, times, pushed, dead, bad)
    assert arrived


# -- towards the desk (real action server, the test plays Rasa) ------------------------------


def test_a_user_message_the_desk_refuses_is_parked_at_once_and_the_next_ones_arrive_in_order(
    tmp_path: Path, report: Report
) -> None:
    with FaultyDesk(silence=0) as desk, one_live_handoff(tmp_path, desk) as (stack, caller, sender, conversation_id):
        desk.refuse = lambda path, body: path == "/chat" and body.get("body") == "POISON"
        prefix = f"after-refusal-{uuid.uuid4().hex[:6]}-"
        sent = [f"{prefix}{n}" for n in range(GOOD)]
        caller.relay(sender, "POISON")
        relayed = time.monotonic()
        for text in sent:
            caller.relay(sender, text)
        _wait_quietly(lambda: len(desk.chats(conversation_id)) >= GOOD, PARK_WITHIN)
        dead = parked(stack.store).get(dead_letter_queue(TO_DESK + conversation_id), [])
    chats = desk.chats(conversation_id)
    _report_and_check("desk-refuses-one", report, sent, [c.body["body"] for c in chats], [c.at for c in chats],
                      relayed, dead, None)
    assert "refused" in dead[0]["parked"]["reason"]


def test_an_operation_that_breaks_delivery_every_time_is_parked_after_five_tries(
    tmp_path: Path, report: Report
) -> None:
    with FaultyDesk(silence=0) as desk, one_live_handoff(tmp_path, desk) as (stack, caller, sender, conversation_id):
        # A send without message_id or sent_at: building the message raises TypeError every time.
        bad = {"id": f"poison:{uuid.uuid4().hex}", "handoff_id": conversation_id, "op": "send",
               "message": {"text": "poison"}, "queued_at": time.time()}
        push(stack.store, TO_DESK + conversation_id, bad)
        pushed = time.monotonic()
        prefix = f"after-broken-op-{uuid.uuid4().hex[:6]}-"
        sent = [f"{prefix}{n}" for n in range(GOOD)]
        for text in sent:
            caller.relay(sender, text)
        _wait_quietly(lambda: len(desk.chats(conversation_id)) >= GOOD, PARK_WITHIN)
        dead = parked(stack.store).get(dead_letter_queue(TO_DESK + conversation_id), [])
    chats = desk.chats(conversation_id)
    _report_and_check("desk-op-raises", report, sent, [c.body["body"] for c in chats], [c.at for c in chats],
                      pushed, dead, bad)
    assert f"failed {MAX_ATTEMPTS} times" in dead[0]["parked"]["reason"]


@contextmanager
def one_live_handoff(workdir: Path, desk: FaultyDesk) -> Iterator[tuple[Stack, ActionCaller, str, str]]:
    """An action server and a sidecar on sqlite with one live handoff: (stack, caller, sender, conversation)."""
    stack = Stack(workdir, desk.url, f"http://127.0.0.1:{free_port()}", sqlite_store(workdir))
    try:
        stack.start()
        with ActionCaller(stack.actions_url) as caller:
            sender = f"poison-{uuid.uuid4().hex[:8]}"
            caller.open_handoff(sender)
            conversation_id = wait_until(lambda: desk.conversation_of(sender), 20, f"the desk to open {sender}")
            yield stack, caller, sender, conversation_id
    finally:
        stack.stop()


def _wait_quietly(done: Callable[[], bool], timeout: float) -> bool:
    """Wait for `done` up to `timeout`, then one more second for strays; whether it came true."""
    try:
        wait_until(done, timeout, "the good messages")
    except AssertionError:
        return False
    time.sleep(1.0)
    return True


def _report_and_check(
    case: str, report: Report, sent: list[str], received: list[str], times: list[float], poisoned_at: float,
    dead: list[dict], bad: Optional[dict],
) -> None:
    """Print the case's line (recovery: from the poison entering its queue to the first good delivery)."""
    good = [at for at, text in zip(times, received) if text in sent]
    figures = Figures(
        case=f"poison[{case}]",
        tally=tally(sent, [text for text in received if text != "POISON"]),
        recovery=good[0] - poisoned_at if good else None,
        all_delivered=good[-1] - poisoned_at if good else None,
        extra={"parked": len(dead), "reason": repr(dead[0]["parked"]["reason"][:80]) if dead else "none"},
    )
    report(figures)
    assert (figures.tally.lost, figures.tally.reordered, figures.tally.duplicated) == (0, 0, 0), figures.line()
    assert len(dead) == 1, f"expected the poison alone in the dead letters, found {dead}"
    if bad is not None:
        assert dead[0]["id"] == bad["id"]
