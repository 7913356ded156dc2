"""The action-server tests on the oldest and the newest rasa-sdk the package accepts.

pyproject says `rasa-sdk>=3.11,<4`; the suite's own venv gets whatever pip
picks (the newest). Here tests/actions runs again, in a subprocess, in a venv
of each edge release line: the real action server and sidecar run there on
that rasa-sdk (and the Sanic it brings). Each venv is built once (about a
minute) and cached in ~/.cache/rasa-handoff/compat while pyproject.toml and
Python stay the same; the package is installed editable, so the cached venv
always runs the checkout's code. Without a reachable package index and no
cached venv, the test is skipped, saying so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from handoff_connectors.rasa_runtime.venv import home

REPO = Path(__file__).resolve().parents[2]
# The oldest and the newest release lines of the supported range (keep in step with pyproject).
EDGES = {"oldest": ("3.11", "rasa-sdk>=3.11,<3.12"), "newest": ("3.21", "rasa-sdk>=3.21,<3.22")}
# What tests/actions needs beyond the package: its runner, nothing of the browser or fuzz suites.
TEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.23"]


def venv_for(line: str, requirement: str) -> Path:
    recipe = f"{requirement} {sys.version_info[:2]} {TEST_TOOLS}\n{(REPO / 'pyproject.toml').read_text()}"
    return home() / "compat" / f"rasa-sdk-{line}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def run(command: list[str], timeout: float, cwd: Path = REPO) -> subprocess.CompletedProcess:
    # Without the suite's own venv in the environment, so nothing of it leaks into the other.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def index_reachable(requirement: str, scratch: Path) -> bool:
    probe = run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(scratch), requirement], 120)
    return probe.returncode == 0


def ensure_venv(line: str, requirement: str, scratch: Path) -> Path:
    """The venv's python; an exception (Skipped or a failed assert) when it cannot be built."""
    target = venv_for(line, requirement)
    python = target / "bin" / "python"
    if (target / ".ready").exists():
        return python
    if not index_reachable(requirement, scratch):
        pytest.skip(f"no package index reachable to install {requirement} (and no cached venv at {target})")
    for older in target.parent.glob(f"rasa-sdk-{line}-*"):  # venvs of an older pyproject are of no more use
        shutil.rmtree(older, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    for what, command in (
        ("creating the venv", [sys.executable, "-m", "venv", str(target)]),
        ("installing", [str(python), "-m", "pip", "install", "-q", "-e", str(REPO), requirement, *TEST_TOOLS]),
    ):
        done = run(command, 900)
        assert done.returncode == 0, f"{what} for {requirement} failed:\n{done.stdout[-3000:]}"
    (target / ".ready").write_text(requirement)
    return python


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Both venvs built at once: pip mostly waits on the network, so two builds take the time of one."""
    scratch = tmp_path_factory.mktemp("compat")
    with ThreadPoolExecutor(max_workers=len(EDGES)) as pool:
        building = {edge: pool.submit(ensure_venv, line, requirement, scratch / edge)
                    for edge, (line, requirement) in EDGES.items()}
        wait(building.values())
    return building


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_action_server_tests_pass_on_the_edge_rasa_sdk(edge: str, venvs: dict[str, Future]):
    line, requirement = EDGES[edge]
    python = venvs[edge].result()  # re-raises the build's skip or failure in this test
    version = run([str(python), "-c", "import rasa_sdk; print(rasa_sdk.__version__)"], 60).stdout.strip()
    assert version.startswith(f"{line}."), f"{requirement} installed rasa-sdk {version!r}"
    result = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/actions"], 900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print(f"rasa-sdk {version}: {summary}")
    assert result.returncode == 0, f"tests/actions on rasa-sdk {version}:\n{result.stdout[-6000:]}"
    assert " passed" in summary and "skipped" not in summary, summary
