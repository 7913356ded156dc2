"""Two action servers and two sidecars behind a real nginx, on one Redis: docs/deployment.md, run.

One deployment per module, built from the documented files: handoff.yml
(with the test's own Redis prefix and a short waiting timeout), and nginx's
config rendered from the documented template. Redis is the running one on
127.0.0.1:6379 (database 15, a key prefix of this module's own, deleted
afterwards) or a `redis-server` of the test's own; without either, or
without nginx, the tests are skipped, saying which is missing.
"""

from __future__ import annotations

import uuid
from typing import Iterator, Optional

import pytest

from tests.deployment.harness import Deployment, running_deployment
from tests.deployment.nginx_proxy import find_nginx
from tests.support.redis_server import forget_prefix, unique_prefix


@pytest.fixture(scope="module")
def redis_for_deployment(redis_server_url: Optional[str]) -> Iterator[tuple[str, str]]:
    """(url, key prefix) on the session's Redis; the prefix is deleted afterwards."""
    if redis_server_url is None:
        pytest.skip("no Redis: nothing answers on 127.0.0.1:6379 and no redis-server on PATH")
    prefix = unique_prefix()
    yield redis_server_url, prefix
    forget_prefix(redis_server_url, prefix)


@pytest.fixture(scope="module")
def nginx_executable() -> str:
    executable = find_nginx()
    if executable is None:
        pytest.skip("no nginx on this machine (apt-get install --no-install-recommends nginx; .ci/run does)")
    return executable


@pytest.fixture(scope="module")
def deployment(
    redis_for_deployment: tuple[str, str], nginx_executable: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    redis_url, key_prefix = redis_for_deployment
    workdir = tmp_path_factory.mktemp("deployment")
    with running_deployment(redis_url, key_prefix, nginx_executable, workdir) as running:
        yield running


@pytest.fixture
def sender_prefix() -> str:
    """Sender ids of the test's own, so tests that share the deployment never share conversations."""
    return f"user-{uuid.uuid4().hex[:8]}"
