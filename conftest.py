"""Fixtures for every test folder (tests/ and each desk's tests/).

`store_factory` opens stores on one set of data (each call is what another
process would open), on sqlite in the test's directory or on Redis under a
key prefix of the test's own, and closes them all afterwards: every store
test runs on sqlite and on Redis.

`deployment` is the session's one real-Rasa deployment (tests/e2e/harness.py),
shared by the end-to-end suite and each desk's own end-to-end tests, so the
run starts Rasa once. The first run builds Rasa's venv (several minutes) and
trains the model (about a minute); later runs reuse both from
~/.cache/rasa-handoff. HANDOFF_SKIP_E2E=1 skips them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

import pytest

from tests.support.redis_server import (
    StoreFactory,
    forget_prefix,
    redis_factory,
    redis_url,
    sqlite_factory,
    unique_prefix,
)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[Optional[str]]:
    """The session's Redis URL, or None when neither a running Redis nor redis-server is found."""
    yield from redis_url()


@pytest.fixture
def redis_store_url(redis_server_url: Optional[str]) -> str:
    if redis_server_url is None:
        pytest.skip("no Redis: nothing on 127.0.0.1:6379 and no redis-server on PATH")
    return redis_server_url


@pytest.fixture(params=["sqlite", "redis"])
async def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    if request.param == "sqlite":
        factory = sqlite_factory(tmp_path)
    else:
        factory = redis_factory(request.getfixturevalue("redis_store_url"), unique_prefix())
    try:
        yield factory
    finally:
        await factory.close_all()
        if factory.kind == "redis":
            forget_prefix(factory.settings["url"], factory.settings["key_prefix"])


@pytest.fixture(scope="session")
def rasa_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Rasa's venv, the assembled demo bot and its trained model: (rasa, model, project)."""
    if os.environ.get("HANDOFF_SKIP_E2E"):
        pytest.skip("HANDOFF_SKIP_E2E is set: the real-Rasa suite is skipped")
    from handoff_connectors.rasa_runtime.project import assemble, train
    from handoff_connectors.rasa_runtime.venv import ensure_rasa

    rasa = ensure_rasa(progress=lambda line: print(line, flush=True))
    project = assemble(tmp_path_factory.mktemp("rasa-project") / "bot")
    model = train(rasa, project, progress=lambda line: print(line, flush=True))
    return rasa, model, project


@pytest.fixture(scope="session")
def deployment(rasa_project: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory):
    """Real Rasa, the action server and the sidecar, started once for the session."""
    from tests.e2e.harness import Deployment

    rasa, model, project = rasa_project
    running = Deployment(rasa, model, project, tmp_path_factory.mktemp("deployment")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _deployment_as_configured(request: pytest.FixtureRequest) -> None:
    """A test on the shared deployment outside a `reconfigured` block gets the default handoff.yml.

    Module fixtures (a desk's `reconfigured` block) are set up before this runs.
    """
    if "deployment" in request.fixturenames:
        from tests.e2e.harness import Deployment

        running = request.getfixturevalue("deployment")
        if isinstance(running, Deployment):  # tests/deployment/ has a `deployment` of its own
            running.as_configured()
