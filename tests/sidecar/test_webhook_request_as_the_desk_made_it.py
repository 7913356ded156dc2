"""The call a desk's `parse_webhook` is given, built by the real sidecar from the real HTTP request.

Desks that sign what they called (Twilio signs the full public URL plus the
form fields) need the URL as the desk saw it: `sidecar.public_url` when set,
else the proxy's X-Forwarded-Proto/Host, else the request itself. A tiny desk
(`echo_desk`), installed for the sidecar process through its entry point as
a separately packaged desk would be, answers with what it was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest
import yaml

from handoff_connectors.rasa_runtime.processes import Service, free_port, sidecar

HERE = Path(__file__).resolve().parent
PATH = "/echo/inbound"


def install_echo_desk(directory: Path) -> Path:
    """A distribution's metadata declaring the desk's entry point; its code stays next to this test."""
    dist_info = directory / "rasa_handoff_echo_desk-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rasa-handoff-echo-desk\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[rasa_handoff.connectors]\necho = echo_desk:EchoDesk\n")
    return directory


def start(directory: Path, public_url: Optional[str]) -> Service:
    settings = {"connector": "echo", "store": {"type": "sqlite", "path": str(directory / "handoff.sqlite")}}
    if public_url is not None:
        settings["sidecar"] = {"public_url": public_url}
    config = directory / "handoff.yml"
    config.write_text(yaml.safe_dump(settings))
    packages = install_echo_desk(directory / "site")
    env = {"PYTHONPATH": f"{packages}:{HERE}"}
    return sidecar(free_port(), config, directory / "logs", env=env).start(timeout=60)


def base(service: Service) -> str:
    return service.health_url.removesuffix("/health")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start(tmp_path_factory.mktemp("echo-plain"), None)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def behind_a_public_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start(tmp_path_factory.mktemp("echo-public"), "https://bot.example.com/handoff/")
    try:
        yield service
    finally:
        service.stop()


def test_a_direct_call_gets_the_url_it_called_with_every_query_value(plain: Service) -> None:
    seen = httpx.get(f"{base(plain)}{PATH}?a=1&a=2&empty=&sig=x%2By").json()

    assert seen["url"] == f"{base(plain)}{PATH}?a=1&a=2&empty=&sig=x%2By"
    assert seen["query"] == {"a": ["1", "2"], "empty": [""], "sig": ["x+y"]}
    assert (seen["method"], seen["path"], seen["form"]) == ("GET", PATH, {})


def test_behind_a_proxy_the_url_has_the_scheme_and_host_the_proxy_was_called_on(plain: Service) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "desk-facing.example.com"}

    seen = httpx.post(f"{base(plain)}{PATH}?id=7", headers=headers).json()

    assert seen["url"] == f"https://desk-facing.example.com{PATH}?id=7"


def test_after_a_chain_of_proxies_the_first_one_the_desk_called_counts(plain: Service) -> None:
    headers = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "edge.example.com, inner.local"}

    seen = httpx.post(f"{base(plain)}{PATH}", headers=headers).json()

    assert seen["url"] == f"https://edge.example.com{PATH}"


def test_form_fields_keep_every_value_in_order(plain: Service) -> None:
    body = "Body=hello+there&From=%2B34600111222&Body=again&Empty="

    seen = httpx.post(
        f"{base(plain)}{PATH}", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ).json()

    assert seen["form"] == {"Body": ["hello there", "again"], "From": ["+34600111222"], "Empty": [""]}


def test_a_json_body_has_no_form_fields(plain: Service) -> None:
    seen = httpx.post(f"{base(plain)}{PATH}", json={"Body": "hello"}).json()
    assert seen["form"] == {}


def test_the_configured_public_url_wins_over_the_proxy_headers(behind_a_public_url: Service) -> None:
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "spoofed.example.net"}

    seen = httpx.post(f"{base(behind_a_public_url)}{PATH}?a=1", headers=headers).json()

    assert seen["url"] == f"https://bot.example.com/handoff{PATH}?a=1"
