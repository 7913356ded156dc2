"""`rasa-handoff demo`: a complete handoff on this machine, no account anywhere.

Starts a real Rasa 3.6.21 with the demo bot (handoff domain and data
included), the action server, and the sidecar with the local agent inbox and
a chat page. Prints the two URLs and the inbox token.

The children run in sessions of their own (so a Ctrl-C reaches them only
through us, in order), which means nothing else stops them: Ctrl-C, SIGTERM,
SIGHUP (the terminal closed) and a broken output pipe (`demo | tee` ended)
all lead to the same `finally` that stops every one of them.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from ..rasa_runtime import processes
from ..rasa_runtime.project import DEMO_BOT_ACTIONS, assemble, train
from ..rasa_runtime.venv import ensure_rasa, home


@dataclass(frozen=True)
class DemoPorts:
    rasa: int = 5005
    actions: int = 5055
    sidecar: int = 5056


@dataclass
class Demo:
    """The running demo's processes and where to reach them."""

    ports: DemoPorts
    token: str
    workdir: Path
    services: list[processes.Service]

    @property
    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sidecar}/chat"

    @property
    def inbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sidecar}/inbox?token={self.token}"

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def start_demo(ports: DemoPorts, workdir: Path, progress: Callable[[str], None] = print) -> Demo:
    for name, port in (("Rasa", ports.rasa), ("action server", ports.actions), ("sidecar", ports.sidecar)):
        if not processes.port_is_free(port):
            holder = processes.who_listens(port)
            by = f" by {holder}" if holder else ""
            raise RuntimeError(
                f"port {port} for the {name} is taken{by}; stop it, or choose another port with --{_flag(name)}-port"
            )
    rasa = ensure_rasa(progress)
    project = assemble(workdir / "bot")
    model = train(rasa, project, progress)
    token = os.environ.get("HANDOFF_INBOX_TOKEN") or secrets.token_urlsafe(18)
    config_path = workdir / "handoff.yml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "connector": "local",
                "rasa": {"url": f"http://127.0.0.1:{ports.rasa}"},
                "store": {"path": str(project / "handoff.sqlite")},
                "sidecar": {"port": ports.sidecar},
                # The demo bot's pay_bill intent is a planned escalation.
                "escalation": {
                    "planned": [
                        {"intent": "pay_bill", "routing": "billing", "message_to_agent": "Customer wants to pay a bill"}
                    ],
                    "fallback": {"mode": "offer", "after": 2},
                },
                # The token reaches the processes through their environment only.
                "connectors": {"local": {"token": "${HANDOFF_INBOX_TOKEN}"}},
            }
        )
    )
    processes.write_rasa_endpoints(
        project, ports.actions, f"callback:\n  url: http://127.0.0.1:{ports.sidecar}/demo/bot\n"
    )
    env = {"HANDOFF_INBOX_TOKEN": token}
    logs = workdir / "logs"
    demo = Demo(ports, token, workdir, [])
    try:
        progress("Starting the action server...")
        demo.services.append(processes.action_server(ports.actions, config_path, logs, env=env, actions=DEMO_BOT_ACTIONS).start())
        progress("Starting the sidecar with the agent inbox...")
        demo.services.append(processes.sidecar(ports.sidecar, config_path, logs, env=env, demo_chat=True).start())
        progress("Starting Rasa (loading the model takes about 20 s)...")
        demo.services.append(processes.rasa_server(rasa, model, project, ports.rasa, logs).start(timeout=300))
    except BaseException:
        demo.stop()
        raise
    return demo


def _flag(name: str) -> str:
    return {"Rasa": "rasa", "action server": "actions", "sidecar": "sidecar"}[name]


class _Stop(Exception):
    """A signal asked the demo to stop."""


def _stop_on_signals() -> None:
    def stop(signum: int, frame: object) -> None:
        # One stop is enough: ignore the rest so the cleanup runs to its end.
        for each in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(each, signal.SIG_IGN)
        raise _Stop(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def _say(text: str) -> None:
    """Print, unless the output is gone (a closed terminal or pipe must not stop the cleanup)."""
    try:
        print(text, flush=True)
    except (BrokenPipeError, OSError):
        # Later prints, and the interpreter's flush at exit, must not fail either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_demo(ports: DemoPorts) -> int:
    workdir = home() / "demo"
    _stop_on_signals()
    demo: Demo | None = None
    try:
        demo = start_demo(ports, workdir, progress=_say)
        _say(
            "\nThe demo is running.\n"
            f"  Chat (the user):        {demo.chat_url}\n"
            f"  Agent inbox (the desk): {demo.inbox_url}\n"
            f"  Inbox token:            {demo.token}\n"
            f"  Logs:                   {workdir / 'logs'}\n"
            "Ask the bot for a human in the chat, then answer from the inbox. Ctrl-C stops everything."
        )
        _watch(demo, workdir)
    except RuntimeError as error:
        _say(f"rasa-handoff demo: {error}")
        return 1
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        if demo is not None:
            _say("Stopping...")
            demo.stop()
            _say("Stopped.")
    return 0


def _watch(demo: Demo, workdir: Path) -> None:
    """Until a signal, or until a child dies (then everything stops)."""
    while True:
        time.sleep(1.0)
        dead = [s.name for s in demo.services if s.process and s.process.poll() is not None]
        if dead:
            _say(f"{', '.join(dead)} stopped unexpectedly; see {workdir / 'logs'}. Shutting down.")
            return
