"""`rasa-handoff doctor`: check a running deployment, part by part, and say how to fix each miss.

Every mistake it looks for fails silently otherwise: the user asks for a
person and nothing happens, or the agent's replies never arrive. It reads
the same handoff.yml as the action server and the sidecar, asks each running
part over HTTP, and prints one line per check. Exit 0 only when all pass.

The checks, in order (a check that needs an earlier one is skipped, saying
which, when that one failed):

1. Rasa answers at `rasa.url`;
2. it was started with `--enable-api` (`GET /version`);
3. it accepts `rasa.token` (`GET /status`);
4. its loaded model's domain has handoff's intents, entities, slots and
   actions (`GET /domain`);
5. the action server answers and serves the handoff actions (`GET /actions`);
6. the action server uses the same store as this handoff.yml;
7. the sidecar is up, ready, and uses the same store;
8. the desk accepts its credentials (the status of `rasa-handoff status`);
9. `rasa.output_channel` is a channel of the running Rasa that can receive
   pushed messages;
10. the versions of Rasa and rasa-sdk work together, and with this package.

"Same store" is tested, not assumed: the doctor writes a random probe into
its store, and the action server and the sidecar each read it back from
theirs (`onboarding/probe.py`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
import yaml

from ..core.config import HandoffConfig
from ..core.http import answer_object
from ..core.store import open_store
from .checks import NO_PUSH_CHANNELS
from .probe import write_probe

BUNDLE_DOMAIN = Path(__file__).resolve().parent.parent / "bundle" / "domain.yml"
DOCTOR_ACTION = "action_handoff_doctor"
SUPPORTED_RASA_MAJOR = 3
SUPPORTED_SDK = ((3, 11), (4, 0))  # >= 3.11, < 4: as pyproject.toml declares


@dataclass(frozen=True)
class Check:
    name: str
    ok: Optional[bool]  # None: skipped, because a check it needs failed
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        shown = [f"  {mark}  {self.name}: {self.detail}"]
        if self.fix and self.ok is False:
            shown.append(f"        fix: {self.fix}")
        return shown


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def skipped(name: str, because: str) -> Check:
    return Check(name, None, f"not checked: {because}")


def handoff_domain() -> dict[str, list[str]]:
    """The names handoff adds to a bot's domain, per section."""
    domain = yaml.safe_load(BUNDLE_DOMAIN.read_text())
    return {
        "intents": [_name(i) for i in domain.get("intents", [])],
        "entities": [_name(e) for e in domain.get("entities", [])],
        "slots": list(domain.get("slots", {})),
        "actions": list(domain.get("actions", [])),
    }


def _name(item: Any) -> str:
    return next(iter(item)) if isinstance(item, dict) else str(item)


def missing_from_domain(loaded: dict[str, Any]) -> dict[str, list[str]]:
    """What of handoff's domain the loaded model's domain (Rasa's `GET /domain`) lacks, per section."""
    have = {
        "intents": {_name(i) for i in loaded.get("intents") or []},
        "entities": {_name(e) for e in loaded.get("entities") or []},
        "slots": set(loaded.get("slots") or {}),
        "actions": set(loaded.get("actions") or []) | set(loaded.get("forms") or {}),
    }
    wanted = handoff_domain()
    return {section: [n for n in names if n not in have[section]] for section, names in wanted.items() if any(n not in have[section] for n in names)}


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def versions_problem(rasa: Optional[str], sdk: Optional[str]) -> Optional[str]:
    """Why these Rasa and rasa-sdk versions do not work together with rasa-handoff (None: they do)."""
    if not rasa or not sdk:
        return "a version is unknown"
    rasa_v, sdk_v = _version_tuple(rasa), _version_tuple(sdk)
    if not rasa_v or rasa_v[0] != SUPPORTED_RASA_MAJOR:
        return f"Rasa {rasa} is not a Rasa {SUPPORTED_RASA_MAJOR}.x (rasa-handoff works with Rasa 3)"
    low, high = SUPPORTED_SDK
    if not (low <= sdk_v[:2] < high):
        return f"rasa-sdk {sdk} is outside the supported range >=3.11,<4"
    if sdk_v[0] != rasa_v[0]:
        return f"rasa-sdk {sdk} and Rasa {rasa} have different major versions"
    return None


class Doctor:
    """Runs the checks against the deployment that `config` describes."""

    def __init__(
        self,
        config: HandoffConfig,
        action_server: str,
        sidecar: str,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.rasa = config.rasa.url.rstrip("/")
        self.action_server = action_server.rstrip("/")
        self.sidecar = sidecar.rstrip("/")
        self.timeout = timeout
        self.facts: dict[str, Any] = {}

    async def run(self) -> list[Check]:
        async with httpx.AsyncClient(timeout=self.timeout) as self.http:
            probe = await self._write_probe()
            rasa_up = await self._rasa_reachable()
            api = await self._rasa_api() if rasa_up.ok else skipped("Rasa HTTP API", "Rasa does not answer")
            token = await self._rasa_token() if api.ok else skipped("Rasa token", "Rasa's HTTP API did not answer")
            domain = await self._rasa_domain() if token.ok else skipped("handoff in the model's domain", "Rasa's API is not usable")
            actions = await self._action_server()
            action_store = (
                await self._action_server_store(probe) if actions.ok else skipped("action server's store", "the action server is not serving the handoff actions")
            )
            sidecar = await self._sidecar(probe)
            desk = await self._desk()
            channel = await self._output_channel() if rasa_up.ok else skipped("output channel", "Rasa does not answer")
            versions = self._versions() if api.ok and action_store.ok else skipped(
                "versions", "Rasa's version or the action server's rasa-sdk version is unknown"
            )
        return [rasa_up, api, token, domain, actions, action_store, sidecar, desk, channel, versions]

    # -- the store ---------------------------------------------------------------

    async def _write_probe(self) -> Optional[str]:
        store = open_store(self.config.store)
        try:
            return await write_probe(store)
        except Exception as error:  # reported by the store checks, which then cannot match
            self.facts["store_error"] = f"{type(error).__name__}"
            return None
        finally:
            await store.close()

    def _same_store(self, name: str, probe: Optional[str], seen: Any, who: str) -> Check:
        if probe is None:
            return failed(
                name, f"this handoff.yml's store ({self.config.store.type}) could not be written ({self.facts.get('store_error')})",
                "check `store:` in handoff.yml and that the store (sqlite file's folder, or Redis) is reachable from here",
            )
        if seen == probe:
            return passed(name, f"{who} uses the same {self.config.store.type} store as this handoff.yml")
        return failed(
            name, f"{who} uses another store than this handoff.yml (it did not see the probe just written)",
            f"start {who} with this handoff.yml (HANDOFF_CONFIG), and point `store:` of every process at one store "
            "(on several machines: `store: {type: redis, url: ...}`)",
        )

    # -- Rasa --------------------------------------------------------------------

    async def _get(self, url: str, **params: Any) -> Optional[httpx.Response]:
        try:
            return await self.http.get(url, params=params or None, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            self.facts["last_error"] = type(error).__name__
            return None

    def _token(self) -> dict[str, str]:
        token = self.config.rasa.token
        return {"token": token.get_secret_value()} if token else {}

    async def _rasa_reachable(self) -> Check:
        name = "Rasa reachable"
        response = await self._get(self.rasa + "/")
        if response is None or response.status_code >= 500:
            why = self.facts.get("last_error") or f"it answered {response.status_code}"
            return failed(name, f"no answer from {self.rasa} ({why})", "start Rasa (`rasa run --enable-api ...`) or set `rasa.url` in handoff.yml to where it runs")
        if "rasa" not in response.text.lower():
            return failed(name, f"{self.rasa} answers, but not as Rasa", "set `rasa.url` to Rasa's address (port 5005 by default)")
        return passed(name, f"{self.rasa} answers ({response.text.strip()[:60]})")

    async def _rasa_api(self) -> Check:
        name = "Rasa HTTP API"
        response = await self._get(self.rasa + "/version")
        if response is None or response.status_code != 200:
            return failed(
                name, "Rasa's HTTP API is off (GET /version is not served)",
                "start Rasa with `--enable-api` (and `--auth-token`): the sidecar pushes the agent's messages through it",
            )
        self.facts["rasa_version"] = answer_object(response).get("version")
        return passed(name, f"on (Rasa {self.facts['rasa_version']})")

    async def _rasa_token(self) -> Check:
        name = "Rasa token"
        response = await self._get(self.rasa + "/status", **self._token())
        if response is not None and response.status_code == 200:
            return passed(name, "accepted" if self.config.rasa.token else "none needed (Rasa runs without --auth-token)")
        if response is not None and response.status_code in (401, 403):
            given = "the token in `rasa.token`" if self.config.rasa.token else "no token (`rasa.token` is not set)"
            return failed(name, f"Rasa refused {given}", "set `rasa.token` to the value of Rasa's `--auth-token`")
        if response is not None and response.status_code == 409:
            return passed(name, "accepted (no model is loaded yet)")
        status = response.status_code if response is not None else self.facts.get("last_error")
        return failed(name, f"GET /status answered {status}", "see Rasa's log")

    async def _rasa_domain(self) -> Check:
        name = "handoff in the model's domain"
        response = await self._get(self.rasa + "/domain", **self._token())
        if response is None or response.status_code == 409:
            return failed(name, "Rasa has no model loaded", "train the bot (`rasa train`) and start Rasa with that model")
        if response.status_code != 200:
            return failed(name, f"GET /domain answered {response.status_code}", "see Rasa's log")
        missing = missing_from_domain(answer_object(response))
        if missing:
            listed = "; ".join(f"{section}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}" for section, names in missing.items())
            return failed(
                name, f"the loaded model lacks handoff's {listed}",
                "run `rasa-handoff init <bot dir>`, then `rasa train`, and restart Rasa with the new model",
            )
        return passed(name, "the loaded model has every handoff intent, entity, slot and action")

    async def _output_channel(self) -> Check:
        name = "output channel"
        channel = self.config.rasa.output_channel
        if channel == "latest":
            return passed(name, "`latest`: each message goes to the channel the user last wrote on (which must not be `rest`)")
        if channel in NO_PUSH_CHANNELS:
            return failed(
                name, f"`{channel}` cannot receive pushed messages (it only answers the user's own request)",
                "set `rasa.output_channel` to the channel your users chat on (socketio, callback, telegram, ...) or `latest`",
            )
        response = await self._get(f"{self.rasa}/webhooks/{channel}/")
        if response is not None and response.status_code == 200:
            return passed(name, f"`{channel}` is a channel of the running Rasa")
        return failed(
            name, f"the running Rasa has no `{channel}` channel (GET /webhooks/{channel}/ is not served)",
            f"add `{channel}:` to Rasa's credentials.yml and restart Rasa, or set `rasa.output_channel` to a channel it has",
        )

    # -- the action server and the sidecar ---------------------------------------------

    async def _action_server(self) -> Check:
        name = "action server"
        response = await self._get(self.action_server + "/actions")
        if response is None or response.status_code != 200:
            why = self.facts.get("last_error") or f"GET /actions answered {response.status_code}"
            return failed(
                name, f"no answer from {self.action_server} ({why})",
                "start it (`python -m rasa_sdk --actions rasa_handoff_actions`) or pass --action-server / --endpoints",
            )
        try:
            listed = response.json()
        except ValueError:
            listed = None  # not rasa-sdk's list of actions: as if it served none
        served = {entry.get("name") for entry in listed if isinstance(entry, dict)} if isinstance(listed, list) else set()
        missing = [a for a in handoff_domain()["actions"] if a not in served]
        if missing:
            return failed(
                name, f"{self.action_server} does not serve {', '.join(missing)}",
                "start the action server with `--actions rasa_handoff_actions`, or `import rasa_handoff_actions` in your actions package",
            )
        return passed(name, f"{self.action_server} serves the handoff actions")

    async def _action_server_store(self, probe: Optional[str]) -> Check:
        name = "action server's store"
        body = {
            "next_action": DOCTOR_ACTION,
            "sender_id": f"rasa-handoff-doctor-{uuid.uuid4().hex[:8]}",
            "tracker": {"sender_id": "rasa-handoff-doctor", "slots": {}, "latest_message": {}, "events": [],
                        "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None},
            "domain": {},
            "version": self.facts.get("rasa_version") or "3.6.21",
        }
        try:
            response = await self.http.post(self.action_server + "/webhook", json=body)
        except httpx.HTTPError as error:
            return failed(name, f"the action server did not answer ({type(error).__name__})", "see its log")
        found = _doctor_answer(response)
        if found is None:
            return failed(
                name, f"the action server did not run {DOCTOR_ACTION} (answered {response.status_code})",
                "upgrade rasa-handoff in the action server's environment to this version",
            )
        self.facts["rasa_sdk"] = found.get("rasa_sdk")
        return self._same_store(name, probe, found.get("store_probe"), "the action server")

    async def _sidecar(self, probe: Optional[str]) -> Check:
        name = "sidecar"
        ready = await self._get(self.sidecar + "/ready")
        if ready is None:
            return failed(
                name, f"no answer from {self.sidecar} ({self.facts.get('last_error')})",
                "start it (`rasa-handoff sidecar`) or pass --sidecar with its URL",
            )
        if ready.status_code != 200:
            failing = [k for k, v in (answer_object(ready).get("checks") or {}).items() if not (v or {}).get("ok")]
            return failed(name, f"{self.sidecar} is not ready ({', '.join(failing) or ready.status_code})", "see the sidecar's log and GET /ready")
        seen = await self._get(self.sidecar + "/doctor/probe")
        if seen is None or seen.status_code != 200:
            return failed(name, f"{self.sidecar} has no /doctor/probe", "upgrade rasa-handoff in the sidecar's environment to this version")
        return self._same_store(name, probe, answer_object(seen).get("store_probe"), "the sidecar")

    # -- the desk and the versions ---------------------------------------------------

    async def _desk(self) -> Check:
        from ..registry import connector_statuses

        name = f"desk ({self.config.connector})"
        store = open_store(self.config.store)
        try:
            status = (await connector_statuses(self.config, store))[self.config.connector]
        finally:
            await store.close()
        if status.value == "Available":
            return passed(name, "Available: the desk accepts the credentials")
        return failed(
            name, f"{status.value}: the desk refused the credentials or did not answer",
            f"check `connectors.{self.config.connector}` in handoff.yml against the desk's setup page (`rasa-handoff status` re-checks)",
        )

    def _versions(self) -> Check:
        name = "versions"
        rasa, sdk = self.facts.get("rasa_version"), self.facts.get("rasa_sdk")
        problem = versions_problem(rasa, sdk)
        if problem:
            return failed(name, problem, "install a rasa-sdk >=3.11,<4 in the action server's environment, with Rasa 3")
        return passed(name, f"Rasa {rasa} with rasa-sdk {sdk}")


def _doctor_answer(response: httpx.Response) -> Optional[dict]:
    if response.status_code != 200:
        return None
    for message in answer_object(response).get("responses") or []:
        custom = (message or {}).get("custom") or {}
        if isinstance(custom.get("handoff_doctor"), dict):
            return custom["handoff_doctor"]
    return None


def action_server_from_endpoints(path: Path) -> Optional[str]:
    """The action server's base URL from Rasa's endpoints.yml (`action_endpoint.url` without /webhook)."""
    try:
        endpoints = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    url = ((endpoints.get("action_endpoint") or {}) if isinstance(endpoints, dict) else {}).get("url")
    if not isinstance(url, str):
        return None
    return url[: -len("/webhook")] if url.rstrip("/").endswith("/webhook") else url


def default_sidecar_url(config: HandoffConfig) -> str:
    host = config.sidecar.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{config.sidecar.port}"


def run_doctor(config: HandoffConfig, action_server: str, sidecar: str, print_line: Callable[[str], Any] = print) -> int:
    checks = asyncio.run(Doctor(config, action_server, sidecar).run())
    print_line(f"rasa-handoff doctor: {len(checks)} checks (connector: {config.connector})")
    for check in checks:
        for line in check.lines():
            print_line(line)
    failed_ = sum(1 for c in checks if c.ok is False)
    unchecked = sum(1 for c in checks if c.ok is None)
    if not failed_ and not unchecked:
        print_line("all checks passed")
        return 0
    print_line(f"{failed_} failed, {unchecked} not checked: fix the first failure and run the doctor again")
    return 1

