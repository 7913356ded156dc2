"""`rasa-handoff doctor` against the real deployment, then with each fault introduced in turn.

The deployment is the session's (real Rasa 3.6.21 with --enable-api and a
token, the real action server and sidecar on one sqlite store, the reference
desk). A fault is introduced the way it happens: the doctor is run with the
handoff.yml a user would have written wrong (a Rasa URL, token, output
channel or desk key that does not match what runs), or against a process
started wrong (a Rasa without --enable-api, an action server without the
handoff actions, a sidecar on another store). Each run must fail exactly the
check that the fault breaks, with its fix, and exit 1; the intact one exits 0.
"""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import free_port

from .harness import Deployment

pytestmark = pytest.mark.e2e

CHECKS = [
    "Rasa reachable", "Rasa HTTP API", "Rasa token", "handoff in the model's domain", "action server",
    "action server's store", "sidecar", "desk (webhook)", "output channel", "versions",
]


@dataclasses.dataclass
class Outcome:
    code: int
    lines: list[str]

    def verdicts(self) -> dict[str, str]:
        """check name -> ok / FAIL / skip."""
        found = {}
        for line in self.lines:
            stripped = line.strip()
            for mark in ("ok  ", "FAIL", "skip"):
                if stripped.startswith(mark):
                    name = stripped[len(mark):].strip().split(":", 1)[0]
                    found[name] = mark.strip()
        return found

    def failing(self) -> list[str]:
        return [name for name, verdict in self.verdicts().items() if verdict != "ok"]

    def fix_of(self, check: str) -> str:
        for index, line in enumerate(self.lines):
            if line.strip().startswith("FAIL") and f"{check}:" in line:
                return self.lines[index + 1].strip()
        raise AssertionError(f"no failed {check!r} in:\n" + "\n".join(self.lines))


class Doctor:
    def __init__(self, deployment: Deployment, workdir: Path) -> None:
        self.deployment = deployment
        self.workdir = workdir
        self.config = yaml.safe_load(deployment.config_path.read_text())

    def run(self, action_server: str | None = None, sidecar: str | None = None, **changes: Any) -> Outcome:
        config = copy.deepcopy(self.config)
        for dotted, value in changes.items():
            section, key = dotted.split("__")
            config.setdefault(section, {})[key] = value
        path = self.workdir / f"handoff-{len(list(self.workdir.glob('handoff-*.yml')))}.yml"
        path.write_text(yaml.safe_dump(config))
        command = [
            sys.executable, "-m", "handoff_connectors.cli", "doctor", "--config", str(path),
            "--action-server", action_server or f"http://127.0.0.1:{self.deployment.action_port}",
            "--sidecar", sidecar or f"http://127.0.0.1:{self.deployment.sidecar_port}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return Outcome(done.returncode, done.stdout.splitlines())


@pytest.fixture(scope="module")
def doctor(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Doctor:
    deployment.as_configured()  # a desk module before this one may have left its handoff.yml running
    return Doctor(deployment, tmp_path_factory.mktemp("doctor"))


@pytest.fixture(scope="module")
def rasa_without_api(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Rasa, on the same model, started as people forget to: without --enable-api."""
    port = free_port()
    logs = tmp_path_factory.mktemp("rasa-no-api")
    service = processes.rasa_server(deployment.rasa_exe, deployment.model, deployment.project, port, logs)
    service = dataclasses.replace(service, command=[part for part in service.command if part != "--enable-api"])
    service.start(timeout=240)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def test_a_healthy_deployment_passes_every_check(doctor: Doctor):
    outcome = doctor.run()
    assert outcome.verdicts() == {name: "ok" for name in CHECKS}, "\n".join(outcome.lines)
    assert outcome.code == 0
    assert outcome.lines[-1] == "all checks passed"


def test_rasa_down_fails_reachability_and_skips_what_needs_it(doctor: Doctor):
    outcome = doctor.run(rasa__url=f"http://127.0.0.1:{free_port()}")
    assert outcome.code == 1
    verdicts = outcome.verdicts()
    assert verdicts["Rasa reachable"] == "FAIL"
    assert verdicts["Rasa HTTP API"] == verdicts["Rasa token"] == verdicts["output channel"] == "skip"
    assert verdicts["action server"] == verdicts["sidecar"] == "ok"
    assert "rasa.url" in outcome.fix_of("Rasa reachable")


def test_rasa_without_enable_api_is_named(doctor: Doctor, rasa_without_api: str):
    outcome = doctor.run(rasa__url=rasa_without_api)
    assert outcome.code == 1
    assert outcome.verdicts()["Rasa reachable"] == "ok"
    assert outcome.verdicts()["Rasa HTTP API"] == "FAIL"
    assert "--enable-api" in outcome.fix_of("Rasa HTTP API")


def test_a_wrong_rasa_token_is_named_without_showing_it(doctor: Doctor):
    outcome = doctor.run(rasa__token="not-the-token-5b1e")
    assert outcome.code == 1
    assert outcome.failing() == ["Rasa token", "handoff in the model's domain"]
    assert outcome.verdicts()["handoff in the model's domain"] == "skip"
    assert "--auth-token" in outcome.fix_of("Rasa token")
    assert "not-the-token-5b1e" not in "\n".join(outcome.lines)


def test_an_action_server_without_the_handoff_actions_is_named(doctor: Doctor, deployment: Deployment, tmp_path: Path):
    port = free_port()
    service = processes.action_server(port, deployment.config_path, tmp_path, actions="tests.e2e.plain_actions")
    service.start()
    try:
        outcome = doctor.run(action_server=f"http://127.0.0.1:{port}")
    finally:
        service.stop()
    assert outcome.code == 1
    assert outcome.verdicts()["action server"] == "FAIL"
    assert outcome.verdicts()["action server's store"] == "skip"
    assert "rasa_handoff_actions" in outcome.fix_of("action server")


def test_an_action_server_that_is_not_running_is_named(doctor: Doctor):
    outcome = doctor.run(action_server=f"http://127.0.0.1:{free_port()}")
    assert outcome.code == 1
    assert outcome.verdicts()["action server"] == "FAIL"
    assert "python -m rasa_sdk" in outcome.fix_of("action server")


def test_a_sidecar_on_another_store_is_named(doctor: Doctor, deployment: Deployment, tmp_path: Path):
    config = yaml.safe_load(deployment.config_path.read_text())
    config["store"] = {"path": str(tmp_path / "another.sqlite")}
    other_config = tmp_path / "other.yml"
    other_config.write_text(yaml.safe_dump(config))
    port = free_port()
    service = processes.sidecar(port, other_config, tmp_path).start()
    try:
        outcome = doctor.run(sidecar=f"http://127.0.0.1:{port}")
    finally:
        service.stop()
    assert outcome.code == 1
    assert outcome.failing() == ["sidecar"]
    assert "one store" in outcome.fix_of("sidecar")


def test_a_sidecar_that_is_not_running_is_named(doctor: Doctor):
    outcome = doctor.run(sidecar=f"http://127.0.0.1:{free_port()}")
    assert outcome.failing() == ["sidecar"] and outcome.code == 1
    assert "rasa-handoff sidecar" in outcome.fix_of("sidecar")


def test_a_desk_that_does_not_answer_is_named_without_showing_its_key(doctor: Doctor):
    # The reference desk checks no key on its status call (the GPTBots protocol has none):
    # the desk's status fault here is an address that does not answer.
    config = copy.deepcopy(doctor.config["connectors"]["webhook"])
    config["url"] = f"http://127.0.0.1:{free_port()}"
    config["api_key"] = "another-key-0000"
    outcome = doctor.run(connectors__webhook=config)
    assert outcome.code == 1
    assert outcome.failing() == ["desk (webhook)"]
    assert "connectors.webhook" in outcome.fix_of("desk (webhook)")
    assert "another-key-0000" not in "\n".join(outcome.lines)


@pytest.mark.parametrize("channel", ["rest", "telegram"])
def test_an_output_channel_that_cannot_receive_pushes_is_named(doctor: Doctor, channel: str):
    outcome = doctor.run(rasa__output_channel=channel)
    assert outcome.code == 1
    assert outcome.failing() == ["output channel"]
    assert "rasa.output_channel" in outcome.fix_of("output channel") or "credentials.yml" in outcome.fix_of("output channel")


def test_the_callback_channel_the_deployment_uses_passes(doctor: Doctor):
    outcome = doctor.run(rasa__output_channel="callback")
    assert outcome.verdicts()["output channel"] == "ok", "\n".join(outcome.lines)


def test_a_model_without_handoff_fails_the_domain_check(doctor: Doctor, deployment: Deployment):
    """Rasa running with no model loaded (DELETE /model): GET /domain has nothing of handoff."""
    base = f"http://127.0.0.1:{deployment.rasa_port}"
    token = {"token": "e2e-rasa-token-77d1"}
    assert httpx.delete(f"{base}/model", params=token, timeout=60).status_code == 204
    try:
        outcome = doctor.run()
    finally:
        loaded = httpx.put(f"{base}/model", params=token, json={"model_file": str(deployment.model)}, timeout=240)
        assert loaded.status_code == 204, loaded.text
    assert outcome.code == 1
    assert outcome.failing() == ["handoff in the model's domain"]
    assert "rasa train" in outcome.fix_of("handoff in the model's domain")
