"""The deployment docs/deployment.md describes, as objects the tests drive.

Kept apart from conftest.py so the tests can import what they need (the
constants, the Deployment type) without importing a conftest.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import Service, free_port
from tests.deployment.fake_rasa import FakeRasa
from tests.deployment.nginx_proxy import EXAMPLES, Nginx, ProxyPorts, placeholder_values
from tests.support.http_recorder import Recorded
from tests.support.reference_desk import ReferenceDesk

REPO = Path(__file__).resolve().parents[2]
RASA_TOKEN = "deployment-rasa-token-5c81e0"
DESK_KEY = "deployment-desk-key-7a2f94"
# Short enough for the timer test to see a waiting timeout fire; long enough
# that the other tests' handoffs, answered at once, never reach it.
WAITING_SECONDS = 3.0
REPLICAS = 2
# How long the desk keeps posting a reply the sidecars did not take.
AGENT_RETRIES_WITHIN = 10.0


class StampedDesk(ReferenceDesk):
    """The reference desk, also noting when it accepted each call (for the delivery times)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.accepted: list[tuple[float, str, dict]] = []
        super().__init__(*args, **kwargs)

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        status, payload = super()._handle(request)
        if status == 200:
            # Appended before the recording server notifies its waiters; a list append is atomic.
            self.accepted.append((time.monotonic(), request.path, request.json()))
        return status, payload

    def chats(self) -> dict[str, list[tuple[float, dict]]]:
        """The /chat calls accepted so far, by conversation, in arrival order, with their times."""
        by_conversation: dict[str, list[tuple[float, dict]]] = defaultdict(list)
        for at, path, body in list(self.accepted):
            if path == "/chat":
                by_conversation[body["conversation_id"]].append((at, body))
        return by_conversation

    def establish_for(self, sender_id: str) -> Optional[dict]:
        for _, path, body in list(self.accepted):
            if path == "/conversation/establish" and body["user_info"]["user_id"] == sender_id:
                return body
        return None


@dataclass
class Deployment:
    """Everything the tests talk to, and the processes behind it."""

    rasa: FakeRasa
    desk: StampedDesk
    action_servers: list[Service]
    sidecars: list[Service]
    nginx: Nginx
    domain: dict[str, Any]

    @property
    def actions_url(self) -> str:
        """Rasa's action_endpoint, without the /webhook path."""
        return f"http://127.0.0.1:{self.nginx.ports.actions}"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx.ports.public}"

    def agent_says(self, public: httpx.Client, conversation_id: str, text: str, message_id: str) -> int:
        """The desk posts an agent's reply to nginx's public side; the number of posts it took.

        Like a desk, it posts the same reply again until answered 200: the
        sidecars recognise it by its message_id, so a repeat is never shown twice.
        """
        reply = {"conversation_id": conversation_id, "timestamp": int(time.time() * 1000), "body": text,
                 "message_id": message_id}
        headers = {"Authorization": f"Bearer {DESK_KEY}"}
        deadline = time.monotonic() + AGENT_RETRIES_WITHIN
        posts = 0
        while True:
            posts += 1
            response = public.post("/v1/human/message/receive", json=reply, headers=headers)
            if response.status_code == 200:
                return posts
            if time.monotonic() > deadline:
                raise AssertionError(f"the sidecars answered {response.status_code} to {text!r}: {response.text}")
            time.sleep(0.2)

    def wait_for_establish(self, sender_id: str, within: float = 10.0) -> dict:
        try:
            self.desk.server.wait_for(lambda _: self.desk.establish_for(sender_id) is not None, within)
        except AssertionError:
            raise AssertionError(f"the desk never heard of {sender_id}'s handoff\n{self.logs_tail()}") from None
        return self.desk.establish_for(sender_id)

    def sidecar_metrics(self, index: int) -> dict[tuple[str, tuple], float]:
        """One sidecar's /metrics, read from the instance itself (never through the proxy)."""
        text = httpx.get(_base(self.sidecars[index]) + "/metrics", timeout=5).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def kill_sidecar(self, index: int) -> None:
        """SIGKILL: no chance to release its queues, as when a machine dies."""
        os.kill(self.sidecars[index].process.pid, signal.SIGKILL)
        self.sidecars[index].process.wait(10)

    def restart_dead_sidecars(self) -> None:
        for sidecar in self.sidecars:
            if sidecar.process.poll() is not None:
                sidecar.start(timeout=60)

    def logs_tail(self) -> str:
        services = [*self.action_servers, *self.sidecars]
        return "\n".join(f"--- {service.log_path}\n{service.log_tail(15)}" for service in services)


def _base(service: Service) -> str:
    return service.health_url.removesuffix("/health")


def address(service: Service) -> str:
    return _base(service).removeprefix("http://")


def documented_config(path: Path, key_prefix: str) -> Path:
    """docs' handoff.yml, with the test's own Redis prefix and a short waiting timeout."""
    config = yaml.safe_load((EXAMPLES / "handoff.yml").read_text(encoding="utf-8"))
    config["store"]["key_prefix"] = key_prefix
    config["timeouts"]["waiting"] = WAITING_SECONDS
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def environment(redis_url: str, rasa: FakeRasa, desk: ReferenceDesk) -> dict[str, str]:
    """What the documented handoff.yml reads from the environment, and JSON logs."""
    return {
        "HANDOFF_REDIS_URL": redis_url,
        "RASA_URL": rasa.url,
        "RASA_TOKEN": RASA_TOKEN,
        "DESK_URL": desk.url,
        "DESK_API_KEY": DESK_KEY,
        "HANDOFF_LOG_FORMAT": "json",
    }


def sidecar_service(index: int, config: Path, logs: Path, env: dict[str, str]) -> Service:
    """`rasa-handoff --log-format json sidecar ... --host 127.0.0.1`, as the Procfile runs it."""
    service = processes.sidecar(free_port(), config, logs / f"sidecar-{index}", env)
    # The global option goes before the subcommand; the documented config listens on 0.0.0.0.
    service.command = [*service.command[:3], "--log-format", "json", *service.command[3:], "--host", "127.0.0.1"]
    return service


def replicas(config: Path, env: dict[str, str], logs: Path) -> tuple[list[Service], list[Service]]:
    """The action servers and the sidecars, not started yet."""
    action_servers = [
        processes.action_server(free_port(), config, logs / f"actions-{index}", env) for index in range(1, REPLICAS + 1)
    ]
    sidecars = [sidecar_service(index, config, logs, env) for index in range(1, REPLICAS + 1)]
    return action_servers, sidecars


def proxy_in_front(executable: str, prefix: Path, action_servers: list[Service], sidecars: list[Service]) -> Nginx:
    """nginx on the documented config for these instances, checked with `nginx -t`, not started yet."""
    ports = ProxyPorts(actions=free_port(), public=free_port())
    values = placeholder_values(
        ports, [address(each) for each in action_servers], [address(each) for each in sidecars],
        prefix / "logs" / "rasa-handoff.access.log",
    )
    nginx = Nginx(executable, prefix, values, ports)
    checked = nginx.check_config()
    assert checked.returncode == 0, f"nginx -t refused the documented config:\n{checked.stderr}"
    return nginx


def start_all(services: list[Service]) -> None:
    """Start the services side by side: each waits for its own /health."""
    with concurrent.futures.ThreadPoolExecutor(len(services)) as pool:
        for future in [pool.submit(service.start, 60) for service in services]:
            future.result()


def bot_domain() -> dict[str, Any]:
    """The handoff domain Rasa sends with every action call."""
    return yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))


@contextmanager
def running_deployment(redis_url: str, key_prefix: str, nginx_executable: str, workdir: Path) -> Iterator[Deployment]:
    """A fake Rasa, the desk, two of each on `redis_url` and nginx in front; all stopped afterwards."""
    with FakeRasa(RASA_TOKEN) as rasa, StampedDesk(api_key=DESK_KEY) as desk:
        config = documented_config(workdir / "handoff.yml", key_prefix)
        action_servers, sidecars = replicas(config, environment(redis_url, rasa, desk), workdir / "logs")
        nginx = proxy_in_front(nginx_executable, workdir / "nginx", action_servers, sidecars)
        try:
            start_all([*action_servers, *sidecars])
            nginx.start()
            desk.sidecar_url = f"http://127.0.0.1:{nginx.ports.public}"
            yield Deployment(rasa, desk, action_servers, sidecars, nginx, bot_domain())
        finally:
            nginx.stop()
            for service in [*sidecars, *action_servers]:
                service.stop()
