"""The real `rasa-handoff sidecar` process for the fuzz tests, and what they look at in it.

Why a subprocess and not the app in-process: a request that kills the
process, wedges its loop or prints a traceback only shows as such in the
real thing. Handoffs are opened the way the action server does it (the
handoff service on the same sqlite store), so the sidecar's pump hands them
to the desk and they are live when the fuzzing starts.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import httpx
import yaml

from handoff_connectors.core.config import load_config
from handoff_connectors.core.store import open_store
from handoff_connectors.registry import create_service
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port

# Long enough that no handoff of a run times out (a timeout closes it and changes the answers).
LONG_TIMEOUT = 3600


class LogWatch:
    """What the sidecar logged since the last look: a traceback is pinned on the call that caused it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def fresh(self) -> str:
        with open(self._path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        return data.decode("utf-8", "replace")


@dataclass
class Sidecar:
    """A running sidecar: its URL, its log and its config (for opening handoffs beside it)."""

    service: Service
    url: str
    config_path: Path

    def alive(self) -> bool:
        return self.service.process is not None and self.service.process.poll() is None

    def log(self) -> str:
        return self.service.log_path.read_text(encoding="utf-8", errors="replace")

    def cpu_seconds(self) -> float:
        """CPU time the process used so far (user + system): a run's cost, whatever else loads the machine."""
        fields = Path(f"/proc/{self.service.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def watch(self) -> LogWatch:
        return LogWatch(self.service.log_path)

    def healthy(self, client: httpx.Client) -> bool:
        """Alive and answering /health with 200: what every route's run must leave behind."""
        if not self.alive():
            return False
        try:
            return client.get(self.url + "/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False


def base_config(connector: str, rasa_url: str, workdir: Path) -> dict[str, Any]:
    """A handoff.yml for `connector` against the fake Rasa, with a sqlite store in `workdir`."""
    return {
        "connector": connector,
        "rasa": {"url": rasa_url, "timeout": 10},
        "store": {"type": "sqlite", "path": str(workdir / "handoff.sqlite")},
        "sidecar": {"poll_interval": 0.1, "max_retry_delay": 1, "status_check_interval": 5},
        "timeouts": {"waiting": LONG_TIMEOUT, "session": LONG_TIMEOUT},
        "connectors": {},
    }


def start_sidecar(
    workdir: Path, config: dict[str, Any], env: Optional[dict[str, str]] = None, demo_chat: bool = False
) -> Sidecar:
    """`python -m handoff_connectors.cli sidecar` on a free port, ready when /health answers."""
    config_path = workdir / "handoff.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    service = processes.sidecar(port, config_path, workdir / "logs", env=env, demo_chat=demo_chat)
    service.start(timeout=60)
    return Sidecar(service=service, url=f"http://127.0.0.1:{port}", config_path=config_path)


async def _open(config_path: Path, sender_id: str, timeout: float) -> str:
    config = load_config(str(config_path))
    service = create_service(config, open_store(config.store))
    try:
        handoff = await service.open(sender_id, "fuzz@example.com", "en", [], "I want a person")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = await service.record(handoff.handoff_id)
            if record is not None and record.desk_conversation_id:
                return record.desk_conversation_id
            await asyncio.sleep(0.05)
        raise AssertionError(f"the handoff of {sender_id} never reached the desk")
    finally:
        await service.connector.aclose()
        await service.store.close()


def open_handoff(sidecar: Sidecar, sender_id: str, timeout: float = 20.0) -> str:
    """A live handoff for `sender_id`, started at the desk by the sidecar; its desk conversation id."""
    return asyncio.run(_open(sidecar.config_path, sender_id, timeout))
