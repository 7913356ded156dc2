"""Start and stop the processes of a handoff deployment on this machine.

Each runs as a real subprocess on a loopback port, logs to a file, and is
ready when its health URL answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx

from .venv import rasa_environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    log_path: Path
    cwd: Optional[Path] = None
    env: dict[str, str] = field(default_factory=dict)
    process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 120.0) -> "Service":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}:\n{self.log_tail()}")
            try:
                if httpx.get(self.health_url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def rasa_server(
    rasa: Path, model: Path, project: Path, port: int, log_dir: Path, token: Optional[str] = None
) -> Service:
    command = [
        str(rasa), "run",
        "--model", str(model),
        "--enable-api",
        "--port", str(port),
        "--interface", "127.0.0.1",
        "--credentials", str(project / "credentials.yml"),
        "--endpoints", str(project / "endpoints.yml"),
    ]
    if token:
        command += ["--auth-token", token]
    return Service(
        name="rasa",
        command=command,
        health_url=f"http://127.0.0.1:{port}/",
        log_path=log_dir / "rasa.log",
        cwd=project,
        env=rasa_environment(),
    )


def action_server(
    port: int,
    config: Path,
    log_dir: Path,
    env: Optional[dict[str, str]] = None,
    actions: str = "rasa_handoff_actions",
) -> Service:
    return Service(
        name="action server",
        command=[sys.executable, "-m", "rasa_sdk", "--actions", actions, "--port", str(port)],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log_dir / "actions.log",
        env={**(env or {}), "HANDOFF_CONFIG": str(config)},
    )


def sidecar(
    port: int, config: Path, log_dir: Path, env: Optional[dict[str, str]] = None, demo_chat: bool = False
) -> Service:
    command = [sys.executable, "-m", "handoff_connectors.cli", "sidecar", "--config", str(config), "--port", str(port)]
    if demo_chat:
        command.append("--demo-chat")
    return Service(
        name="sidecar",
        command=command,
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log_dir / "sidecar.log",
        env=env or {},
    )


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def who_listens(port: int) -> Optional[str]:
    """Which process listens on `port` ("pid 123: rasa run ..."), where Linux's /proc tells."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            sockets = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in sockets for inode in inodes):
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = "?"
            return f"pid {proc.name}: {command[:120]}"
    return None


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "0100007F:13A5", state 0A = LISTEN, inode in column 10
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def write_rasa_endpoints(project: Path, action_port: int, credentials: str) -> None:
    """endpoints.yml (actions, a persistent tracker store) and credentials.yml."""
    (project / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        "tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: trackers.db\n"
    )
    (project / "credentials.yml").write_text(credentials)
