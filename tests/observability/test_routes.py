"""/metrics and /ready on a real Sanic app, over real HTTP."""

from __future__ import annotations

import socket
import time
from typing import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handoff_connectors.observability.logs import add_secrets
from handoff_connectors.observability.metrics import DepthSnapshot, Metrics
from handoff_connectors.observability.routes import Check, attach_observability, ready_checks
from handoff_connectors.rasa_runtime.processes import free_port
from tests.observability.conftest import new_app
from tests.support.http_recorder import RecordingServer

STORE_SECRET = "store-password-5c81e0"


@pytest.fixture
def rasa():
    """A stand-in for Rasa's `GET /`, answering 200 ("Hello from Rasa") unless told otherwise."""
    with RecordingServer(lambda request: (200, "Hello from Rasa: 3.6.21")) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def store_answers() -> None:
    return None


async def store_is_broken() -> None:
    raise ConnectionError(f"could not reach the store with password {STORE_SECRET}")


async def test_metrics_are_served_as_prometheus_text(serve, http, rasa):
    metrics = Metrics(process_metrics=False)
    metrics.handoff_started("webhook")
    metrics.set_depth_source(lambda: {"to_rasa:user-1": 3})
    app = new_app()
    attach_observability(app, metrics, ready_checks(store_answers, rasa.url, http))
    url = await serve(app)

    response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == metrics.render()[1]
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert families["rasa_handoff_handoffs_started"].samples[0].labels == {"desk": "webhook"}
    depth = {sample.labels["queue_kind"]: sample.value for sample in families["rasa_handoff_queue_depth"].samples}
    assert depth["to_rasa"] == 3


async def test_metrics_reads_the_store_depths_afresh_at_each_scrape(serve, http, rasa):
    metrics = Metrics(process_metrics=False)
    in_store = {"to_desk": 1}

    async def store_depths() -> dict[str, int]:
        return dict(in_store)

    depths = DepthSnapshot(store_depths)
    metrics.set_depth_source(depths)
    app = new_app()
    attach_observability(app, metrics, ready_checks(store_answers, rasa.url, http), before_scrape=depths.refresh)
    url = await serve(app)

    first = await http.get(f"{url}/metrics")
    in_store.update({"to_desk": 5, "dead": 2})
    second = await http.get(f"{url}/metrics")
    assert 'rasa_handoff_queue_depth{queue_kind="to_desk"} 1.0' in first.text
    assert 'rasa_handoff_queue_depth{queue_kind="to_desk"} 5.0' in second.text
    assert "rasa_handoff_parked_items 2.0" in second.text


async def test_metrics_still_answers_when_refreshing_the_depths_fails(serve, http, rasa):
    metrics = Metrics(process_metrics=False)
    metrics.handoff_started("local")

    async def store_down() -> dict[str, int]:
        raise ConnectionError("store down")

    depths = DepthSnapshot(store_down)
    metrics.set_depth_source(depths)
    app = new_app()
    attach_observability(app, metrics, ready_checks(store_answers, rasa.url, http), before_scrape=depths.refresh)
    url = await serve(app)

    response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    assert 'rasa_handoff_handoffs_started_total{desk="local"} 1.0' in response.text


async def test_ready_when_the_store_and_rasa_answer(serve, http, rasa):
    app = new_app()
    attach_observability(app, Metrics(process_metrics=False), ready_checks(store_answers, rasa.url, http))
    url = await serve(app)

    response = await http.get(f"{url}/ready")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"store": {"ok": True}, "rasa": {"ok": True}}}
    assert [request.path for request in rasa.requests] == ["/"]


async def test_not_ready_when_the_store_ping_raises_and_the_reason_hides_secrets(serve, http, rasa):
    add_secrets([STORE_SECRET])
    app = new_app()
    attach_observability(app, Metrics(process_metrics=False), ready_checks(store_is_broken, rasa.url, http))
    url = await serve(app)

    response = await http.get(f"{url}/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["rasa"] == {"ok": True}
    assert body["checks"]["store"]["ok"] is False
    assert body["checks"]["store"]["detail"] == "ConnectionError: could not reach the store with password ***"
    assert STORE_SECRET not in response.text


async def test_not_ready_when_nothing_listens_at_the_rasa_url(serve, http):
    down = f"http://127.0.0.1:{free_port()}"
    app = new_app()
    attach_observability(app, Metrics(process_metrics=False), ready_checks(store_answers, down, http))
    url = await serve(app)

    response = await http.get(f"{url}/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["store"] == {"ok": True}
    assert body["checks"]["rasa"]["ok"] is False
    assert body["checks"]["rasa"]["detail"].startswith("ConnectError")


async def test_not_ready_when_rasa_answers_with_a_server_error(serve, http):
    with RecordingServer(lambda request: (502, {"error": "bad gateway"})) as failing:
        app = new_app()
        attach_observability(app, Metrics(process_metrics=False), ready_checks(store_answers, failing.url, http))
        url = await serve(app)
        response = await http.get(f"{url}/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["rasa"] == {"ok": False, "detail": "Rasa answered 502"}


async def test_a_rasa_that_hangs_fails_the_check_within_its_time_limit(serve, http):
    # A socket that listens and never answers: the connection opens, no response ever comes.
    with socket.create_server(("127.0.0.1", 0)) as hanging:
        app = new_app()
        checks = ready_checks(store_answers, f"http://127.0.0.1:{hanging.getsockname()[1]}", http, timeout=0.3)
        attach_observability(app, Metrics(process_metrics=False), checks)
        url = await serve(app)
        started = time.monotonic()
        response = await http.get(f"{url}/ready")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["rasa"] == {"ok": False, "detail": "no answer within 0.3 s"}
    assert elapsed < 1.5


async def test_a_ready_check_that_itself_fails_answers_503_not_500(serve, http):
    async def broken_check():
        raise RuntimeError("the check has a bug")

    app = new_app()
    attach_observability(app, Metrics(process_metrics=False), broken_check)
    url = await serve(app)

    response = await http.get(f"{url}/ready")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "checks": {"ready_check": {"ok": False, "detail": "RuntimeError: the check has a bug"}},
    }


async def test_any_failing_check_of_a_custom_ready_check_is_named(serve, http):
    async def custom():
        return {"store": Check(True), "desk": Check(False, "Unavailable")}

    app = new_app()
    attach_observability(app, Metrics(process_metrics=False), custom)
    url = await serve(app)

    response = await http.get(f"{url}/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"store": {"ok": True}, "desk": {"ok": False, "detail": "Unavailable"}}
