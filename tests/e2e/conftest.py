"""Fixtures for the end-to-end suite: one real Rasa deployment per test session.

The first run builds Rasa's venv (several minutes) and trains the model
(about a minute); later runs reuse both from ~/.cache/rasa-handoff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handoff_connectors.rasa_runtime.project import assemble, train
from handoff_connectors.rasa_runtime.venv import ensure_rasa

from .harness import Deployment


@pytest.fixture(scope="session")
def rasa_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    if os.environ.get("HANDOFF_SKIP_E2E"):
        pytest.skip("HANDOFF_SKIP_E2E is set: the real-Rasa suite is skipped")
    rasa = ensure_rasa(progress=lambda line: print(line, flush=True))
    project = assemble(tmp_path_factory.mktemp("rasa-project") / "bot")
    model = train(rasa, project, progress=lambda line: print(line, flush=True))
    return rasa, model, project


@pytest.fixture(scope="session")
def deployment(rasa_project, tmp_path_factory: pytest.TempPathFactory):
    rasa, model, project = rasa_project
    running = Deployment(rasa, model, project, tmp_path_factory.mktemp("deployment")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def user(deployment: Deployment):
    return deployment.new_user()


pytestmark = pytest.mark.e2e
