"""A desk packaged on its own, installed into a fresh venv, carrying a real-Rasa conversation.

The example connector (tests/example_connector) is installed the way a user
installs any desk: `pip install` into an environment that has rasa-handoff,
here a new venv that sees this checkout's .venv through a .pth file, so it
takes seconds and no download. Its entry point is then listed beside the
built-in desks, its own tests pass there on the kit alone (no conftest or
test helper of this repository), and the action server and the sidecar run
with that venv's Python, so `connector: example` is found only because the
package is installed. Nothing in this repository names the example desk.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from handoff_connectors.rasa_runtime.project import DEMO_BOT_ACTIONS
from handoff_connectors.registry import connector_names
from handoff_connectors.testing import RecordingServer

from .harness import User

EXAMPLE = Path(__file__).resolve().parents[1] / "example_connector"
API_TOKEN = "e2e-example-token-6a02"
WEBHOOK_SECRET = "e2e-example-secret-c81f"
RASA_TOKEN = "e2e-example-rasa-token-3e"

ASK_EMAIL = "Before I connect you with a person, what is your email address?"
CONNECTING = "Let's send you to an available agent."
AGENT_ENDED = "The agent has ended the chat. I'm back if you need anything else."
USER_ENDED = "You have ended the chat with the agent. I'm back if you need anything else."

# The fake desk is the example's own test code: found where its tests find it.
sys.path.insert(0, str(EXAMPLE / "tests"))
sys.path.insert(0, str(EXAMPLE))
from example_fake_desk import ExampleDesk  # noqa: E402


@dataclasses.dataclass
class ExampleVenv:
    python: Path
    source: Path

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.python), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def example_venv(tmp_path_factory: pytest.TempPathFactory) -> ExampleVenv:
    root = tmp_path_factory.mktemp("example-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # This checkout's environment (rasa-handoff installed editable, rasa-sdk, pip, setuptools), .pth files included.
    (Path(purelib) / "_rasa_handoff_base.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    )
    # Built from a copy: pip writes build/ and *.egg-info beside the sources.
    source = root / "example_connector"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    venv = ExampleVenv(python, source)
    installed = venv.run("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def test_the_installed_example_is_listed_beside_the_built_in_desks(example_venv: ExampleVenv):
    listed = example_venv.run(
        "-c",
        "import json; from importlib.metadata import entry_points;"
        "print(json.dumps(sorted(e.name for e in entry_points(group='rasa_handoff.connectors'))))",
        cwd=example_venv.source.parent,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == sorted(["example", *connector_names()])
    found = example_venv.run(
        "-c", "from handoff_connectors.registry import connector_class; print(connector_class('example').__module__)",
        cwd=example_venv.source.parent,
    )
    assert found.stdout.strip() == "rasa_handoff_example.connector", found.stderr


def test_the_examples_own_tests_pass_on_the_kit_alone(example_venv: ExampleVenv):
    # Its own pyproject is the config, and no conftest of this repository is above it.
    ran = example_venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pyproject.toml", cwd=example_venv.source)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout and "failed" not in ran.stdout


class ExampleDeployment:
    """Real Rasa, the action server and the sidecar (both on the venv's Python), the example desk."""

    def __init__(self, venv: ExampleVenv, rasa: Path, model: Path, workdir: Path) -> None:
        self.venv, self.rasa_exe, self.model, self.workdir = venv, rasa, model, workdir
        self.desk = ExampleDesk(API_TOKEN, WEBHOOK_SECRET)
        self.user_channel = RecordingServer()
        self.rasa_port, self.action_port, self.sidecar_port = free_port(), free_port(), free_port()
        self.services: list[Service] = []

    def start(self) -> "ExampleDeployment":
        self.desk.__enter__()
        self.user_channel.__enter__()
        config, logs, rasa_dir = self.workdir / "handoff.yml", self.workdir / "logs", self.workdir / "rasa"
        config.write_text(yaml.safe_dump(self._config()))
        rasa_dir.mkdir()
        processes.write_rasa_endpoints(rasa_dir, self.action_port, f"callback:\n  url: {self.user_channel.url}/bot\nrest:\n")
        python = str(self.venv.python)
        for service in (
            processes.action_server(self.action_port, config, logs, actions=DEMO_BOT_ACTIONS),
            processes.sidecar(self.sidecar_port, config, logs),
        ):
            # The same processes the suite always runs, on the Python that has the example installed.
            self.services.append(dataclasses.replace(service, command=[python, *service.command[1:]]).start())
        rasa = processes.rasa_server(self.rasa_exe, self.model, rasa_dir, self.rasa_port, logs, token=RASA_TOKEN)
        self.services.append(rasa.start(timeout=240))
        self.desk.sidecar_url = f"http://127.0.0.1:{self.sidecar_port}"
        return self

    def _config(self) -> dict:
        return {
            "connector": "example",
            "rasa": {"url": f"http://127.0.0.1:{self.rasa_port}", "token": RASA_TOKEN, "timeout": 60},
            "store": {"path": str(self.workdir / "handoff.sqlite")},
            "sidecar": {"max_retry_delay": 2},
            "connectors": {"example": {"url": self.desk.url, "api_token": API_TOKEN, "webhook_secret": WEBHOOK_SECRET, "queue": "support"}},
        }

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.user_channel.__exit__(None, None, None)
        self.desk.__exit__(None, None, None)

    # What harness.User needs of a deployment.
    def bot_messages(self, sender_id: str) -> list[dict]:
        return [r.json() for r in self.user_channel.matching("/bot") if r.json().get("recipient_id") == sender_id]

    def new_user(self, name: str) -> User:
        return User(self, f"{name}-{uuid.uuid4().hex[:10]}")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def example_deployment(example_venv: ExampleVenv, rasa_project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleDeployment]:
    rasa, model, _ = rasa_project
    deployment = ExampleDeployment(example_venv, rasa, model, tmp_path_factory.mktemp("example-deployment"))
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def connect(deployment: ExampleDeployment, user: User, email: str) -> str:
    assert user.say("I want to talk to a human") == [ASK_EMAIL]
    assert user.say(email) == [CONNECTING]
    return deployment.desk.wait_for_conversation(email)


@pytest.mark.e2e
def test_a_conversation_goes_to_the_example_desk_and_back(example_deployment: ExampleDeployment):
    desk, user = example_deployment.desk, example_deployment.new_user("ana")
    assert user.say("where is my order") == ["Orders ship within two working days. For anything else, ask for a human."]
    conversation = connect(example_deployment, user, "ana@example.com")

    opened = desk.conversations[conversation]
    assert opened["customer"] == {"id": user.sender_id, "email": "ana@example.com", "language": "en"}
    assert opened["question"] == "I want to talk to a human"
    assert opened["queue"] == "support"
    assert {"from": "user", "text": "where is my order"} in opened["transcript"]

    # The agent types, then answers: both reach the user, in order.
    assert desk.agent_types(conversation).status_code == 200
    user.next_messages(1)
    assert user.messages()[-1]["custom"] == {"handoff": {"agent": "Sam", "event": "typing", "typing": True}}
    assert desk.agent_says(conversation, "Hi Ana, I'm Sam. Let me look.").status_code == 200
    assert desk.agent_says(conversation, "It ships tomorrow.").status_code == 200
    assert user.next_messages(2) == ["Hi Ana, I'm Sam. Let me look.", "It ships tomorrow."]

    # The user's messages go to the desk; the bot says nothing of its own.
    user.say("thanks! and the invoice?", expect=0)
    assert desk.wait_for_messages(conversation, 1) == ["thanks! and the invoice?"]
    user.assert_quiet()

    # The agent closes: the user is told, and the bot answers again.
    assert desk.agent_closes(conversation).status_code == 200
    assert user.next_messages(1) == [AGENT_ENDED]
    assert user.say("what are your opening hours") == ["We're open Monday to Friday, 9:00 to 18:00."]
    assert desk.violations == []


@pytest.mark.e2e
def test_the_user_ends_the_chat_and_the_example_desk_is_told(example_deployment: ExampleDeployment):
    desk, user = example_deployment.desk, example_deployment.new_user("luc")
    conversation = connect(example_deployment, user, "luc@example.com")
    assert user.say("end chat") == [USER_ENDED]
    assert desk.wait_for_close(conversation) == "user_closed"
    # A late reply from the desk is answered 200 (the desk stops retrying) and reaches nobody.
    assert desk.agent_says(conversation, "Are you still there?").status_code == 200
    user.assert_quiet()
    assert desk.violations == []
