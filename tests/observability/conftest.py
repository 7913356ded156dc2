"""Fixtures for the observability tests: logging put back as it was, Sanic apps served over real HTTP."""

from __future__ import annotations

import logging
import uuid
from typing import AsyncIterator, Awaitable, Callable

import pytest
from sanic import Sanic

from handoff_connectors.observability.logs import HANDOFF_LOGGERS
from handoff_connectors.rasa_runtime.processes import free_port

ServeApp = Callable[[Sanic], Awaitable[str]]


@pytest.fixture
def restore_logging():
    """configure_logging changes process-wide loggers; each test gets them back untouched."""
    names = ["", *HANDOFF_LOGGERS, "httpx", "httpcore"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def new_app() -> Sanic:
    app = Sanic(f"observability_test_{uuid.uuid4().hex[:10]}", configure_logging=False)
    # Sanic rewrites its request handler at the first start ("touchup"); a second app
    # started in the same process would rewrite the rewritten one and fail.
    app.config.TOUCHUP = False
    app.config.MOTD = False
    return app


@pytest.fixture
async def serve() -> AsyncIterator[ServeApp]:
    """Start a Sanic app on a free loopback port in this event loop; its base URL."""
    running = []

    async def start(app: Sanic) -> str:
        port = free_port()
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        await server.before_start()
        await server.after_start()
        running.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in running:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
