"""Each benchmark's `--smoke` run completes and prints its figure lines.

The benchmarks run as users run them (`python -m benchmarks.<name> --smoke`,
a subprocess each). Only that they finished and printed their figures is
checked: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from handoff_connectors.core.config import StoreSettings

REPO = Path(__file__).resolve().parents[2]
FIGURE = r"p50 +[\d.]+ ms +p99 +[\d.]+ ms +[\d.]+ /s"
RATIO = r"p50 +[\d.]+ x +p99 +[\d.]+ x +[\d.]+ x"
GOAL = r"p50 +[\d.]+ ms +p99 +[\d.]+ ms +goal p\d\d < [\d.]+ ms: (pass|MISS)"


def run_smoke(name: str, *options: str, timeout: float = 300) -> str:
    """The benchmark's output; fails with everything it printed when it did not finish cleanly."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--smoke", *options],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_printed(output: str, *lines: str) -> None:
    missing = [line for line in lines if not re.search(rf"^ +{line}", output, re.MULTILINE)]
    assert not missing, f"lines missing: {missing}\n{output}"


def test_relay_smoke() -> None:
    output = run_smoke("relay")
    assert_printed(
        output,
        rf"c=1 +no-op action +{FIGURE}",
        rf"c=1 +handoff_loop relay +{FIGURE}",
        rf"c=1 +ratio relay/no-op +{RATIO}",
        rf"c=50 +no-op action +{FIGURE}",
        rf"c=50 +handoff_loop relay +{FIGURE}",
        rf"c=50 +ratio relay/no-op +{RATIO}",
        r"delivered to the desk +\d+ of \d+ relayed messages",
        r"delivered to the desk twice +\d+ messages",
    )


def test_sidecar_smoke() -> None:
    output = run_smoke("sidecar")
    assert_printed(
        output,
        r"idle [\d.]+ s CPU +sidecar [\d.]+ % +forwarder [\d.]+ %",
        r"flood bare forwarder +accepted +[\d.]+ /s +delivered +[\d.]+ /s",
        r"flood sidecar +accepted +[\d.]+ /s +delivered +[\d.]+ /s",
        r"flood ratio sidecar/forwarder +accepted +[\d.]+ x +delivered +[\d.]+ x",
        r"flood sidecar undelivered after [\d.]+ s +\d+ of \d+",
        r"flood sidecar all delivered +\S",
        r"flood sidecar delivered twice +\d+ events",
        r"flood sidecar log: lease/lock lines +\d+",
        rf"steady 16/s bare forwarder +{FIGURE}",
        rf"steady 16/s sidecar +{FIGURE}",
        rf"steady 16/s ratio sidecar/forwarder +{RATIO}",
        r"steady 16/s CPU +sidecar [\d.]+ % +forwarder [\d.]+ %",
    )


def _store_lines(output: str) -> None:
    assert_printed(
        output,
        r"200 live +\S",
        rf"200 tick fire_due_timers\(\) +{GOAL}",
        rf"200 tick Timers.due\(\) +{GOAL}",
        rf"200 lookup active\(\) +{GOAL}",
        rf"200 open +{GOAL}",
    )


def test_store_smoke() -> None:
    _store_lines(run_smoke("store"))


def _redis_reachable() -> bool:
    """A Redis on 6379 or a redis-server to start, as benchmarks/backends.py looks for them.

    (This package is imported as `benchmarks` by pytest, which hides the top-level
    one in this process: the benchmarks run as subprocesses and nothing imports them here.)
    """
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            if connection.recv(64).startswith(b"+PONG"):
                return True
    except OSError:
        pass
    return shutil.which("redis-server") is not None


def test_store_smoke_on_redis() -> None:
    try:
        StoreSettings.model_validate({"type": "redis", "url": "redis://127.0.0.1:6379/0"})
    except ValueError:
        pytest.skip("this engine has no redis store (store.type: redis is refused)")
    if not _redis_reachable():
        pytest.skip("no Redis on 127.0.0.1:6379 and no redis-server to start one")
    _store_lines(run_smoke("store", "--store", "redis"))


@pytest.mark.e2e
def test_agent_to_user_smoke() -> None:
    if os.environ.get("HANDOFF_SKIP_E2E"):
        pytest.skip("HANDOFF_SKIP_E2E is set: the real-Rasa benchmark is skipped")
    # The first run of the whole suite may build Rasa's venv and train the model here (cached afterwards).
    output = run_smoke("agent_to_user", timeout=1800)
    assert_printed(
        output,
        rf"trigger_intent \+ ping action +{FIGURE}",
        rf"agent webhook to user +{FIGURE}",
        rf"ratio agent/trigger_intent +{RATIO}",
    )
