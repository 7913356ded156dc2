"""The action server and the sidecar as deployed, on one store, started and killed at will.

Why our own handoff.yml: the faults need short desk timeouts and a low
retry cap, so a recovery is measured against the engine rather than
against a 30-second backoff, and a store of the test's choosing (sqlite or
Redis) shared by both processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import httpx
import yaml

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port

DESK_KEY = "faults-desk-key-6c0d2e"
RASA_TOKEN = "faults-rasa-token-91b4"
# The sidecar's retry cap and the desk timeout: short, so recovery shows the engine's own delay.
MAX_RETRY_DELAY = 1.0
DESK_TIMEOUT = 1.0


def handoff_config(desk_url: str, rasa_url: str, store: dict[str, Any], desk_timeout: float) -> dict[str, Any]:
    return {
        "connector": "webhook",
        "rasa": {"url": rasa_url, "token": RASA_TOKEN, "timeout": 30},
        "store": store,
        "sidecar": {"max_retry_delay": MAX_RETRY_DELAY, "poll_interval": 0.1},
        "connectors": {"webhook": {"url": desk_url, "api_key": DESK_KEY, "bot_id": "faults-bot",
                                   "timeout": desk_timeout}},
    }


def spawn(service: Service) -> float:
    """Start `service` without waiting until it answers (when its answering is what is measured).

    Returns when it was started (time.monotonic()); `service.stop()` stops it as usual.
    """
    service.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(service.log_path, "ab") as log:
        service.process = subprocess.Popen(
            service.command, cwd=service.cwd, env={**os.environ, **service.env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return time.monotonic()


def answers(service: Service, within: float = 2.0) -> bool:
    """Whether `service`'s health URL answers within `within` seconds."""
    try:
        return httpx.get(service.health_url, timeout=within).status_code == 200
    except httpx.HTTPError:
        return False


def sigkill(service: Service) -> None:
    """Kill the process at once, as a crash or the OOM killer would: no cleanup runs."""
    if service.process is not None and service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(10)


class Stack:
    """One action server and one sidecar; `stop()` belongs in a finally."""

    def __init__(
        self, workdir: Path, desk_url: str, rasa_url: str, store: dict[str, Any], desk_timeout: float = DESK_TIMEOUT
    ) -> None:
        self.store = store
        self.config_path = workdir / "handoff.yml"
        config = handoff_config(desk_url, rasa_url, store, desk_timeout)
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        logs = workdir / "logs"
        self.actions: Service = processes.action_server(free_port(), self.config_path, logs)
        self.sidecar: Service = processes.sidecar(free_port(), self.config_path, logs)

    def start(self) -> "Stack":
        self.sidecar.start(timeout=60)
        self.actions.start(timeout=60)
        return self

    def stop(self) -> None:
        for service in (self.actions, self.sidecar):
            service.stop()

    @property
    def actions_url(self) -> str:
        return self.actions.health_url.removesuffix("/health")

    @property
    def sidecar_url(self) -> str:
        return self.sidecar.health_url.removesuffix("/health")

    def restart(self, service: Service) -> float:
        """Start a stopped or killed `service` again; when it answered (time.monotonic())."""
        service.start(timeout=60)
        return time.monotonic()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {s.name}:\n{s.log_tail(lines)}" for s in (self.actions, self.sidecar))


def sqlite_store(workdir: Path) -> dict[str, Any]:
    return {"type": "sqlite", "path": str(workdir / "handoff.sqlite")}


def redis_store(url: str, prefix: str) -> dict[str, Any]:
    return {"type": "redis", "url": url, "key_prefix": prefix}


def store_settings(kind: str, workdir: Path, redis_url: Optional[str], prefix: str) -> dict[str, Any]:
    if kind == "redis":
        assert redis_url is not None
        return redis_store(redis_url, prefix)
    return sqlite_store(workdir)
