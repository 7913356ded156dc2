"""The doctor's rules that need no running deployment: handoff's domain, versions, where the parts are.

The checks against running parts, with each fault introduced, are in
tests/e2e/test_doctor.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from handoff_connectors.core.config import parse_config
from handoff_connectors.onboarding.doctor import (
    BUNDLE_DOMAIN,
    action_server_from_endpoints,
    default_sidecar_url,
    handoff_domain,
    missing_from_domain,
    versions_problem,
)


def rasa_domain_answer() -> dict:
    """The shipped domain, as Rasa's GET /domain shows a model trained on it (intents as objects)."""
    shipped = yaml.safe_load(BUNDLE_DOMAIN.read_text())
    return {
        "intents": [{name: {"use_entities": True}} for name in shipped["intents"]] + [{"greet": {}}],
        "entities": shipped["entities"],
        "slots": shipped["slots"],
        "actions": [a for a in shipped["actions"] if a != "handoff_loop"] + ["utter_greet"],
        "forms": shipped["forms"],
    }


def test_a_domain_with_everything_of_handoff_misses_nothing():
    assert missing_from_domain(rasa_domain_answer()) == {}


def test_what_a_domain_lacks_is_listed_per_section():
    domain = rasa_domain_answer()
    domain["intents"] = [i for i in domain["intents"] if "EXTERNAL_handoff_agent_message" not in i]
    domain["slots"] = {k: v for k, v in domain["slots"].items() if k != "handoff_email"}
    domain["forms"] = {}
    assert missing_from_domain(domain) == {
        "intents": ["EXTERNAL_handoff_agent_message"],
        "slots": ["handoff_email"],
        "actions": ["handoff_loop"],
    }


def test_a_bot_without_handoff_lacks_all_of_it():
    plain = {"intents": ["greet"], "entities": [], "slots": {}, "actions": ["utter_greet"], "forms": {}}
    assert missing_from_domain(plain) == handoff_domain()


def test_supported_versions_work_together():
    assert versions_problem("3.6.21", "3.11.2") is None
    assert versions_problem("3.6.21", "3.21.1") is None


def test_versions_outside_the_range_are_explained():
    assert "outside the supported range" in versions_problem("3.6.21", "3.6.2")
    assert "outside the supported range" in versions_problem("3.6.21", "4.0.0")
    assert "not a Rasa 3.x" in versions_problem("2.8.34", "3.11.2")
    assert versions_problem(None, "3.11.2") == "a version is unknown"


def test_the_action_server_is_found_in_endpoints_yml(tmp_path: Path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text('action_endpoint:\n  url: "http://actions:5055/webhook"\n')
    assert action_server_from_endpoints(endpoints) == "http://actions:5055"
    endpoints.write_text("# action_endpoint:\n#  url: http://localhost:5055/webhook\n")
    assert action_server_from_endpoints(endpoints) is None
    assert action_server_from_endpoints(tmp_path / "missing.yml") is None


def test_the_sidecar_listening_on_every_interface_is_asked_on_loopback():
    assert default_sidecar_url(parse_config({"sidecar": {"host": "0.0.0.0", "port": 6000}})) == "http://127.0.0.1:6000"
    assert default_sidecar_url(parse_config({})) == "http://127.0.0.1:5056"


def test_parts_that_answer_200_but_not_as_rasa_are_failures_not_crashes(tmp_path: Path):
    """Rasa, the action server and the sidecar all replaced by a server that answers HTML."""
    import asyncio

    from handoff_connectors.onboarding.doctor import Doctor
    from handoff_connectors.testing import RecordingServer

    with RecordingServer(lambda request: (200, "<html>Hello from Rasa: not JSON</html>")) as impostor:
        config = parse_config({"rasa": {"url": impostor.url}, "store": {"path": str(tmp_path / "h.sqlite")}})
        checks = {c.name: c for c in asyncio.run(Doctor(config, impostor.url, impostor.url).run())}
    assert checks["Rasa reachable"].ok is True
    assert checks["handoff in the model's domain"].ok is False
    assert checks["action server"].ok is False and "does not serve" in checks["action server"].detail
    assert checks["sidecar"].ok is False
