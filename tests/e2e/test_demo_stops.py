"""`rasa-handoff demo` as a user runs it: however it is stopped, nothing is left running.

The demo's children run in sessions of their own, so neither a closed
terminal nor a broken pipe reaches them: the demo itself must stop them.
Each case starts the real demo (Rasa included) and then ends it one way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handoff_connectors.rasa_runtime.processes import free_port, port_is_free

RUNNING = b"The demo is running."


def start(ports: list[int], stdout=subprocess.PIPE) -> subprocess.Popen:
    rasa, actions, sidecar = ports
    return subprocess.Popen(
        [sys.executable, "-m", "handoff_connectors.cli", "demo",
         "--rasa-port", str(rasa), "--actions-port", str(actions), "--sidecar-port", str(sidecar)],
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )


def wait_running(demo: subprocess.Popen, timeout: float = 300.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while RUNNING not in seen:
        assert time.monotonic() < deadline, f"the demo never came up:\n{seen.decode(errors='replace')[-2000:]}"
        line = demo.stdout.readline()
        assert line or demo.poll() is None, f"the demo exited:\n{seen.decode(errors='replace')[-2000:]}"
        seen += line
    return seen


def wait_all_free(ports: list[int], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(port_is_free(port) for port in ports):
        assert time.monotonic() < deadline, f"still listening: {[p for p in ports if not port_is_free(p)]}"
        time.sleep(0.2)


@pytest.fixture
def ports(rasa_project) -> list[int]:
    # rasa_project: the session's Rasa build and model, so the demo starts from the cache.
    return [free_port(), free_port(), free_port()]


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "broken pipe"])
def test_the_demo_stops_everything_it_started(ports: list[int], tmp_path: Path, how: str):
    demo = start(ports)
    try:
        wait_running(demo)
        assert not any(port_is_free(port) for port in ports)
        if how == "broken pipe":
            demo.stdout.close()  # `rasa-handoff demo | tee log` and tee was stopped
            demo.send_signal(signal.SIGINT)  # ...by the Ctrl-C that reached the whole pipeline
        else:
            demo.send_signal(getattr(signal, how))
        assert demo.wait(60) == 0
        wait_all_free(ports)
    finally:
        if demo.poll() is None:
            demo.kill()


def test_a_second_demo_names_the_port_that_is_taken_and_by_what(tmp_path: Path):
    ports = [free_port(), free_port(), free_port()]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[2]))
        squatter.listen()
        completed = subprocess.run(
            [sys.executable, "-m", "handoff_connectors.cli", "demo",
             "--rasa-port", str(ports[0]), "--actions-port", str(ports[1]), "--sidecar-port", str(ports[2])],
            capture_output=True, text=True, timeout=60,
        )
    assert completed.returncode == 1
    assert f"port {ports[2]} for the sidecar is taken by pid {os.getpid()}" in completed.stdout
    assert "--sidecar-port" in completed.stdout
