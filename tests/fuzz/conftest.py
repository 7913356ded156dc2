"""One real sidecar per connector per module, a fake Rasa behind it, one pooled client in front.

Starting a sidecar takes a second or two and a route gets a thousand cases,
so everything here lives for the module; each route's run then checks the
process is still alive and answering /health.
"""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from handoff_connectors.intercom.tests.fake_intercom import Admin, FakeIntercom
from tests.support.reference_desk import ReferenceDesk

from .deployment import Sidecar, base_config, start_sidecar
from .fakes import FakeRasa
from .wire import Target

DESK_KEY = "fuzz-desk-key-5c1e07"
INBOX_TOKEN = "fuzz-inbox-token-93ab1f"
INTERCOM_TOKEN = "dG9rOmZ1enotaW50ZXJjb20tdG9rZW4"
INTERCOM_SECRET = "fuzz-client-secret-7d2e44"
# The people of tests/connectors/intercom/fixtures, whose notifications the fuzz starts from.
INTERCOM_BOT = Admin("8100001", "Acme Bot", "bot@acme.example")
INTERCOM_AGENTS = (
    Admin("8100002", "Marta Ruiz", "marta@acme.example", team_ids=[6100007]),
    Admin("8100003", "Jonas Weber", "jonas@acme.example", team_ids=[6100009]),
)


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as rasa:
        yield rasa


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # Generous: a 4 MiB body through the HTML reader takes a moment on a slow CI machine.
    with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=4)) as pooled:
        yield pooled


def stopped_cleanly(sidecar: Sidecar) -> None:
    """Stop the sidecar; a traceback anywhere in its log (background work too) fails the module."""
    if sidecar.alive():
        print(f"\n{sidecar.config_path.parent.name}: sidecar CPU {sidecar.cpu_seconds():.1f} s")
    sidecar.service.stop()
    log = sidecar.log()
    assert "Traceback" not in log, f"the sidecar logged a traceback:\n{log[-6000:]}"


@pytest.fixture(scope="module")
def webhook_sidecar(tmp_path_factory: pytest.TempPathFactory, fake_rasa: FakeRasa) -> Iterator[Sidecar]:
    workdir = tmp_path_factory.mktemp("fuzz-webhook")
    with ReferenceDesk(api_key=DESK_KEY) as desk:
        config = base_config("webhook", fake_rasa.url, workdir)
        config["connectors"]["webhook"] = {"url": desk.url, "api_key": DESK_KEY, "bot_id": "fuzz-bot"}
        sidecar = start_sidecar(workdir, config)
        try:
            yield sidecar
        finally:
            stopped_cleanly(sidecar)


@pytest.fixture(scope="module")
def webhook_target(webhook_sidecar: Sidecar, client: httpx.Client, fake_rasa: FakeRasa) -> Target:
    return Target(webhook_sidecar, client, fake_rasa)


@pytest.fixture(scope="module")
def fake_intercom() -> Iterator[FakeIntercom]:
    """The spec-checking fake workspace (its spec violations are not checked here: fuzzed ids make some)."""
    workspace = FakeIntercom(INTERCOM_TOKEN, INTERCOM_SECRET, INTERCOM_BOT, list(INTERCOM_AGENTS),
                             teams={"billing": "6100007", "support": "6100009"})
    with workspace:
        yield workspace


@pytest.fixture(scope="module")
def intercom_sidecar(
    tmp_path_factory: pytest.TempPathFactory, fake_rasa: FakeRasa, fake_intercom: FakeIntercom
) -> Iterator[Sidecar]:
    """Messenger mode: user notifications go to the bot too, so that parser and relay get fuzzed as well."""
    workdir = tmp_path_factory.mktemp("fuzz-intercom")
    config = base_config("intercom", fake_rasa.url, workdir)
    config["connectors"]["intercom"] = {
        "mode": "messenger",
        "access_token": INTERCOM_TOKEN,
        "client_secret": INTERCOM_SECRET,
        "admin_id": INTERCOM_BOT.id,
        "base_url": fake_intercom.url,
        "default_team": "6100009",
    }
    sidecar = start_sidecar(workdir, config)
    try:
        yield sidecar
    finally:
        stopped_cleanly(sidecar)


@pytest.fixture(scope="module")
def intercom_target(intercom_sidecar: Sidecar, client: httpx.Client, fake_rasa: FakeRasa) -> Target:
    return Target(intercom_sidecar, client, fake_rasa)


@pytest.fixture(scope="module")
def local_sidecar(tmp_path_factory: pytest.TempPathFactory, fake_rasa: FakeRasa) -> Iterator[Sidecar]:
    """The local agent inbox, with the demo chat (pointed at the fake Rasa) on the same sidecar."""
    workdir = tmp_path_factory.mktemp("fuzz-local")
    config = base_config("local", fake_rasa.url, workdir)
    config["connectors"]["local"] = {"token": INBOX_TOKEN}
    sidecar = start_sidecar(workdir, config, demo_chat=True)
    try:
        yield sidecar
    finally:
        stopped_cleanly(sidecar)


@pytest.fixture(scope="module")
def local_target(local_sidecar: Sidecar, client: httpx.Client, fake_rasa: FakeRasa) -> Target:
    return Target(local_sidecar, client, fake_rasa)
