"""Fixtures for the fault suite: the run's profile, the FAULT lines, a real-Rasa deployment.

The real-Rasa cases reuse the session's `rasa_project` fixture (root conftest.py), so they
run on the same cached Rasa build and trained model (and are skipped with
it when HANDOFF_SKIP_E2E is set); they get a deployment of their own
because they stop Rasa and kill the sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from . import profile as profiles
from .figures import Figures, Report
from .real_rasa import FaultDeployment

_LINES: list[str] = []


@pytest.fixture(scope="session")
def profile() -> profiles.Profile:
    return profiles.current()


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Report:
    """Print a case's FAULT line now (even under capture) and again in the run's summary."""

    def emit(figures: Figures) -> None:
        line = figures.line()
        _LINES.append(line)
        with capsys.disabled():
            print(f"\n{line}", flush=True)

    return emit


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LINES:
        terminalreporter.section(f"fault figures ({profiles.current().name})")
        for line in _LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def fault_deployment(
    rasa_project: tuple[Path, Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FaultDeployment]:
    rasa, model, project = rasa_project
    deployment = FaultDeployment(rasa, model, project, tmp_path_factory.mktemp("faults-deployment"))
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(params=["sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Run on each store; Redis cases skip (saying why) where no Redis can be had."""
    if request.param == "redis":
        request.getfixturevalue("redis_store_url")
    return request.param
