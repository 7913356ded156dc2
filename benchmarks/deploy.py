"""The processes a benchmark measures, and what they used while it ran.

The sidecar, the action server and the fakes are real subprocesses on
loopback ports, started with `handoff_connectors.rasa_runtime.processes` (as
the demo and the end-to-end suite start them), each logging to a file in the
run's work directory. CPU time is read from /proc, so no extra package is
needed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import yaml

from handoff_connectors.core.config import ConfigError, HandoffConfig, parse_config
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port

REPO = Path(__file__).resolve().parents[1]
# The action server's module for every benchmark: the demo bot's and rasa-handoff's actions plus two of ours.
BENCH_ACTIONS = "benchmarks.bench_actions"
DESK_KEY = "bench-desk-key-3c9d41"
# Long enough that no waiting or session timeout fires during a run and adds work to what is measured.
NO_TIMEOUT = 7 * 24 * 3600


class SetupFailed(Exception):
    """The deployment could not be brought up; the message says what to look at."""


def environment() -> dict[str, str]:
    """Subprocess environment in which `benchmarks` imports (the repository first on the path)."""
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), inherited]))}


def url_of(service: Service) -> str:
    return service.health_url.removesuffix("/health")


def fake(role: str, log_dir: Path, *options: str) -> Service:
    """One of benchmarks.fakes, started and answering."""
    port = free_port()
    return Service(
        name=f"fake {role}",
        command=[sys.executable, "-m", "benchmarks.fakes", role, "--port", str(port), *options],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log_dir / f"fake-{role}.log",
        cwd=REPO,
        env=environment(),
    ).start(timeout=60)


def write_config(
    path: Path, desk_url: str, rasa_url: str, store: dict[str, Any], rasa_token: Optional[str] = None
) -> HandoffConfig:
    """handoff.yml for the run (webhook connector, no timeouts firing), checked as the processes will check it."""
    rasa: dict[str, Any] = {"url": rasa_url, "timeout": 30}
    if rasa_token:
        rasa["token"] = rasa_token
    raw = {
        "connector": "webhook",
        "transcript_rounds": 3,
        "timeouts": {"waiting": NO_TIMEOUT, "session": NO_TIMEOUT},
        "rasa": rasa,
        "store": store,
        "connectors": {"webhook": {"url": desk_url, "api_key": DESK_KEY, "bot_id": "benchmark"}},
    }
    try:
        config = parse_config(raw, str(path))
    except ConfigError as error:
        raise SetupFailed(f"this engine refuses the benchmark's handoff.yml: {error}") from None
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return config


def sidecar(config_path: Path, log_dir: Path) -> Service:
    port = free_port()
    return processes.sidecar(port, config_path, log_dir, env=environment()).start(timeout=60)


def action_server(config_path: Path, log_dir: Path) -> Service:
    port = free_port()
    service = processes.action_server(port, config_path, log_dir, env=environment(), actions=BENCH_ACTIONS)
    service.cwd = REPO
    return service.start(timeout=90)


def stop(services: list[Service]) -> None:
    """Stop in reverse order of start, every one even if another fails."""
    for service in reversed(services):
        try:
            service.stop()
        except Exception as error:  # stopping the rest matters more
            print(f"note: stopping {service.name} failed: {error}", flush=True)


def fetch_json(url: str, **params: Any) -> Any:
    """A fake's `/_received`: small, local, read between rounds (never inside a timed section)."""
    response = httpx.get(url, params=params, timeout=60)
    response.raise_for_status()
    return response.json()


class CpuMeter:
    """CPU time of one process (user + system, from /proc/<pid>/stat) over a stretch of wall time."""

    _TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu = self._wall = 0.0
        self.restart()

    def _cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            # Fields after the command name (which may hold spaces); utime and stime are 14th and 15th.
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._TICKS

    def restart(self) -> None:
        self._cpu, self._wall = self._cpu_seconds(), time.monotonic()

    def percent(self) -> float:
        """CPU used since the last restart, in percent of one core."""
        wall = time.monotonic() - self._wall
        return 100 * (self._cpu_seconds() - self._cpu) / wall if wall > 0 else float("nan")


class LogWatch:
    """Counts the lines a log gained since the watch was (re)started that match a pattern."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self.restart()

    def restart(self) -> None:
        self._offset = self.path.stat().st_size if self.path.exists() else 0

    def matching(self, pattern: str) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            text = log.read().decode(errors="replace")
        expression = re.compile(pattern, re.IGNORECASE)
        return sum(1 for line in text.splitlines() if expression.search(line))


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A fresh directory for the run's store, configs and logs; kept when asked or when the run failed."""
    path = Path(tempfile.mkdtemp(prefix="rasa-handoff-bench-"))
    failed = True
    try:
        yield path
        failed = False
    finally:
        if keep or failed:
            print(f"work directory (logs, store): {path}", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
