"""`rasa data validate` on the shipped domain and data, alone and merged into a bot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from handoff_connectors.rasa_runtime.project import DEMO_BOT
from handoff_connectors.rasa_runtime.venv import rasa_environment

REPO = Path(__file__).resolve().parents[2]
# The one warning we expect and document: intents pushed by the sidecar have no NLU examples.
EXPECTED_WARNING = re.compile(r"The intent 'EXTERNAL_handoff_\w+' is listed in the domain file, but is not found in the NLU training data")


# The demo bot's responses used by its form and its validation action, which
# Rasa's validator does not see (they are the bot's, not the shipped files').
DEMO_BOT_RESPONSES = re.compile(r"The utterance '(utter_ask_order_number|utter_invalid_order_number)' is not used")


def validate(rasa: Path, cwd: Path, domain: str, data: str) -> list[str]:
    result = subprocess.run(
        [str(rasa), "data", "validate", "--domain", domain, "--data", data, "--fail-on-warnings"],
        cwd=cwd, env=rasa_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    warnings = [
        line for line in result.stdout.splitlines() if "UserWarning" in line and not DEMO_BOT_RESPONSES.search(line)
    ]
    unexpected = [line for line in warnings if not EXPECTED_WARNING.search(line)]
    assert not unexpected, "\n".join(unexpected)
    external = [i for i in yaml.safe_load((REPO / "domain.yml").read_text())["intents"] if i.startswith("EXTERNAL_")]
    assert len(warnings) == len(external), result.stdout[-3000:]
    return warnings


@pytest.mark.e2e
def test_shipped_domain_and_data_validate_alone(rasa_project, tmp_path: Path):
    rasa, _, _ = rasa_project
    shutil.copyfile(DEMO_BOT / "config.yml", tmp_path / "config.yml")
    shutil.copyfile(REPO / "domain.yml", tmp_path / "domain.yml")
    shutil.copytree(REPO / "data", tmp_path / "data")
    validate(rasa, tmp_path, "domain.yml", "data")


@pytest.mark.e2e
def test_merged_into_a_bot_they_validate(rasa_project):
    rasa, _, project = rasa_project
    validate(rasa, project, "domain", "data")
