"""`rasa-handoff init --apply` on the bot `rasa init` makes, then the real Rasa 3.6.21 on it.

The bot's files come from Rasa's own scaffold (`create_initial_project`,
which is all `rasa init --no-prompt` writes; it would also train a model this
test throws away, a minute on two cores). Then, as a user would: init with
--apply, `rasa data validate`, `rasa train`, and a conversation through the
action server, the sidecar and the local agent inbox. Rasa runs with the
endpoints.yml and credentials.yml init wrote, with only the test's ports put
in and a callback channel added so the test can read the bot's messages.
The model is cached by its files' content, like the e2e suite's.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import yaml

from handoff_connectors.onboarding import run_init
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import free_port
from handoff_connectors.rasa_runtime.project import fingerprint
from handoff_connectors.rasa_runtime.venv import ensure_rasa, home, rasa_environment
from tests.support.http_recorder import RecordingServer

pytestmark = pytest.mark.e2e

INBOX_TOKEN = "init-e2e-inbox-token-3c9d"
RASA_TOKEN = "init-e2e-rasa-token-81fa"
AGENT = "Ana"
# The one warning Rasa's validator gives on the handoff files, documented in the README.
EXPECTED_WARNING = re.compile(r"The intent 'EXTERNAL_handoff_\w+' is listed in the domain file, but is not found")


def rasa_command(rasa: Path, *args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(rasa), *args], cwd=cwd, env=rasa_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def rasa() -> Path:
    if os.environ.get("HANDOFF_SKIP_E2E"):
        pytest.skip("HANDOFF_SKIP_E2E is set: the real-Rasa tests are skipped")
    return ensure_rasa(progress=lambda line: print(line, flush=True))


@pytest.fixture(scope="module")
def bot(rasa: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rasa-init") / "bot"
    python = rasa.parent / "python"
    scaffold = "import sys; from rasa.cli.scaffold import create_initial_project; create_initial_project(sys.argv[1])"
    made = subprocess.run([str(python), "-c", scaffold, str(folder)], env=rasa_environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert made.returncode == 0 and (folder / "domain.yml").is_file(), made.stdout[-2000:]
    lines: list[str] = []
    code = run_init(folder, apply=True, out=lines.append)
    assert code == 0, "\n".join(lines)
    return folder


@pytest.fixture(scope="module")
def model(rasa: Path, bot: Path) -> Path:
    models = home() / "models"
    name = f"rasa-init-bot-{fingerprint(bot)}"
    if not (models / f"{name}.tar.gz").exists():
        for older in models.glob("rasa-init-bot-*.tar.gz"):  # 30 MB each: keep only the current one
            older.unlink()
        print("Training the rasa init bot with handoff (about a minute)...", flush=True)
        trained = rasa_command(rasa, "train", "--out", str(models), "--fixed-model-name", name, cwd=bot, timeout=900)
        assert trained.returncode == 0, trained.stdout[-3000:]
    return models / f"{name}.tar.gz"


def test_init_leaves_a_bot_that_rasa_validates(rasa: Path, bot: Path):
    result = rasa_command(rasa, "data", "validate", cwd=bot, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    warnings = [line for line in result.stdout.splitlines() if "UserWarning" in line]
    assert [w for w in warnings if not EXPECTED_WARNING.search(w)] == [], "\n".join(warnings)


def test_init_wrote_what_rasa_needs_to_reach_the_actions_and_push_messages(bot: Path):
    assert yaml.safe_load((bot / "endpoints.yml").read_text())["action_endpoint"]["url"].endswith(":5055/webhook")
    assert "socketio" in yaml.safe_load((bot / "credentials.yml").read_text())


class Running:
    """The action server, the sidecar (local inbox) and Rasa, for the bot init made."""

    def __init__(self, rasa: Path, model: Path, bot: Path, workdir: Path) -> None:
        self.rasa, self.model, self.bot, self.workdir = rasa, model, bot, workdir
        self.ports = {"rasa": free_port(), "actions": free_port(), "sidecar": free_port()}
        self.user_channel = RecordingServer()
        self.services: list[processes.Service] = []

    def start(self) -> "Running":
        self.user_channel.__enter__()
        config, env = self._handoff_config(), {"HANDOFF_INBOX_TOKEN": INBOX_TOKEN}
        logs = self.workdir / "logs"
        self.services.append(processes.action_server(self.ports["actions"], config, logs, env=env).start())
        self.services.append(processes.sidecar(self.ports["sidecar"], config, logs, env=env).start())
        self._rasa_files()
        self.services.append(processes.rasa_server(
            self.rasa, self.model, self.workdir, self.ports["rasa"], logs, token=RASA_TOKEN
        ).start(timeout=240))
        return self

    def _handoff_config(self) -> Path:
        """The handoff.yml init wrote, with this test's ports, store and Rasa token."""
        config = yaml.safe_load((self.bot / "handoff.yml").read_text())
        config["rasa"].update(url=f"http://127.0.0.1:{self.ports['rasa']}", token=RASA_TOKEN)
        config["sidecar"]["port"] = self.ports["sidecar"]
        config["store"]["path"] = str(self.workdir / "handoff.sqlite")
        path = self.workdir / "handoff.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _rasa_files(self) -> None:
        endpoints = (self.bot / "endpoints.yml").read_text().replace(":5055/", f":{self.ports['actions']}/")
        (self.workdir / "endpoints.yml").write_text(endpoints)
        credentials = (self.bot / "credentials.yml").read_text()
        (self.workdir / "credentials.yml").write_text(f"{credentials}\ncallback:\n  url: {self.user_channel.url}/bot\n")

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.user_channel.__exit__(None, None, None)

    # -- the user and the agent ---------------------------------------------------

    def say(self, sender: str, text: str, expect: int = 1) -> list[str]:
        seen = len(self.bot_texts(sender))
        response = httpx.post(f"http://127.0.0.1:{self.ports['rasa']}/webhooks/callback/webhook",
                              json={"sender": sender, "message": text}, timeout=60)
        response.raise_for_status()
        self.user_channel.wait_for(lambda _: len(self.bot_texts(sender)) >= seen + expect, timeout=30)
        return self.bot_texts(sender)[seen:]

    def bot_texts(self, sender: str) -> list[str]:
        return [r.json().get("text") or "" for r in self.user_channel.matching("/bot")
                if r.json().get("recipient_id") == sender]

    def inbox(self, method: str, path: str, **body) -> dict:
        response = httpx.request(method, f"http://127.0.0.1:{self.ports['sidecar']}/inbox/api{path}",
                                 json=body or None, headers={"Authorization": f"Bearer {INBOX_TOKEN}"}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def inbox_conversation(self, sender: str) -> dict:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [c for c in self.inbox("GET", "/conversations")["conversations"] if c["sender_id"] == sender]
            if found:
                return found[-1]
            time.sleep(0.2)
        raise AssertionError(f"no inbox conversation for {sender}")


@pytest.fixture(scope="module")
def running(rasa: Path, model: Path, bot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    deployment = Running(rasa, model, bot, tmp_path_factory.mktemp("init-deployment")).start()
    try:
        yield deployment
    finally:
        deployment.stop()


def wait_until(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def test_a_conversation_is_handed_to_an_agent_and_back(running: Running):
    sender = "init-e2e-user"
    running.inbox("POST", "/presence", agent=AGENT, available=True)
    assert running.say(sender, "hello") == ["Hey! How are you?"]  # the bot rasa init made still answers
    assert "email" in running.say(sender, "I want to talk to a human")[0].lower()
    assert running.say(sender, "ana.user@example.com") == ["Let's send you to an available agent."]
    conversation = running.inbox_conversation(sender)["id"]
    running.inbox("POST", f"/conversations/{conversation}/join", agent=AGENT)
    running.inbox("POST", f"/conversations/{conversation}/reply", agent=AGENT, text="Hi, Ana here.")
    wait_until(lambda: "Hi, Ana here." in running.bot_texts(sender), "the agent's reply in the chat")
    running.say(sender, "my parcel is late", expect=0)
    wait_until(lambda: "my parcel is late" in str(running.inbox_conversation(sender)), "the user's message in the inbox")
    assert running.say(sender, "end chat")[0].startswith("You have ended the chat")
    assert running.say(sender, "hello") == ["Hey! How are you?"]
