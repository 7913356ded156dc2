"""Case 1: Rasa is stopped (SIGTERM) while an agent keeps replying, then started again.

Real Rasa 3.6.21: the replies pile up in the sidecar's `to_rasa:` queue
while Rasa is gone and must all reach the user's channel (the callback
receiver) once, in order, after it is back.
"""

from __future__ import annotations

import time
import uuid

import pytest

from .figures import Figures, Report, tally
from .profile import Profile
from .real_rasa import Agent, FaultDeployment
from .streams import Stream
from .waiting import sleep_until

pytestmark = pytest.mark.e2e

# Traffic before the fault and after the recovery.
LEAD, TAIL = 1.5, 1.5
# After the last reply arrived, how long a late duplicate still has to show up.
QUIET = 2.0


def test_agent_replies_sent_while_rasa_is_stopped_reach_the_user_once_in_order(
    fault_deployment: FaultDeployment, profile: Profile, report: Report
) -> None:
    deployment = fault_deployment
    user = deployment.new_user()
    agent = Agent(deployment, deployment.connect(user))
    prefix = f"rasa-outage-{uuid.uuid4().hex[:6]}-"

    def send(text: str) -> None:
        status = agent.reply(text)
        assert status == 200, f"the sidecar answered {status} to {text}"

    stream = Stream(send, profile.reply_interval, prefix).start()
    try:
        time.sleep(LEAD)
        stopping = time.monotonic()
        deployment.stop_rasa()
        stopped = time.monotonic()
        sleep_until(stopping + profile.outage)
        deployment.start_rasa()
        ready = time.monotonic()
        time.sleep(TAIL)
    finally:
        stream.stop()
        agent.close()
        if "rasa" not in deployment.services:
            deployment.start_rasa()  # the other cases need it
    assert stream.error is None, f"the agent's stream broke: {stream.error!r}"

    deployment.wait_arrived(user, prefix, len(stream.sent), timeout=60 + len(stream.sent))
    time.sleep(QUIET)
    arrivals = deployment.arrivals.of(user.sender_id, prefix)
    held = [at for at, _ in arrivals if at >= stopped]
    figures = Figures(
        case="rasa-stopped",
        tally=tally(stream.sent, [text for _, text in arrivals]),
        # Rasa may take a retry a moment before our readiness probe sees it up: that counts as 0.
        recovery=max(0.0, held[0] - ready) if held else None,
        all_delivered=arrivals[-1][0] - ready,
        extra={"outage": profile.outage, "sigterm_exit": stopped - stopping,
               "rasa_down_until_ready": ready - stopping, "held": len(held)},
    )
    report(figures)

    assert held, "no reply was held back by the outage: the fault missed the stream"
    assert (figures.tally.lost, figures.tally.reordered, figures.tally.duplicated) == (0, 0, 0), figures.line()
