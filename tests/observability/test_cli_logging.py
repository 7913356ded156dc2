"""The rasa-handoff command's --log-format and --log-level, and the secrets it masks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import yaml

from handoff_connectors import cli
from handoff_connectors.rasa_runtime import processes
from handoff_connectors.rasa_runtime.processes import free_port

RASA_TOKEN = "cli-rasa-token-0e4f1a"
INBOX_TOKEN = "cli-inbox-token-77b2c9"


def local_config(directory: Path) -> Path:
    path = directory / "handoff.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "connector": "local",
                "rasa": {"url": f"http://127.0.0.1:{free_port()}", "token": RASA_TOKEN},
                "store": {"path": str(directory / "handoff.sqlite")},
                "connectors": {"local": {"token": INBOX_TOKEN}},
            }
        )
    )
    return path


def test_the_sidecar_with_log_format_json_writes_only_json_lines_sanics_included(tmp_path: Path):
    service = processes.sidecar(free_port(), local_config(tmp_path), tmp_path / "logs")
    # The global options go before the subcommand: python -m handoff_connectors.cli --log-format json sidecar ...
    service.command = [*service.command[:3], "--log-format", "json", *service.command[3:]]
    service.start(timeout=60)
    try:
        assert httpx.get(service.health_url, timeout=5).status_code == 200
    finally:
        service.stop()

    lines = [line for line in service.log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # each line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(entry["logger"].startswith("sanic.") for entry in entries)
    text = service.log_path.read_text()
    assert RASA_TOKEN not in text and INBOX_TOKEN not in text


@pytest.mark.usefixtures("restore_logging")
def test_every_secret_of_the_loaded_config_is_masked_in_later_lines(tmp_path: Path, capsys):
    assert cli.main(["--log-format", "json", "status", "--config", str(local_config(tmp_path))]) == 0
    capsys.readouterr()

    logging.getLogger("handoff_connectors.core.rasa").warning("calling ?token=%s with %s", RASA_TOKEN, INBOX_TOKEN)
    (line,) = [json.loads(each) for each in capsys.readouterr().err.splitlines() if each.startswith("{")]
    assert line["message"] == "calling ?token=*** with ***"


def test_an_unknown_log_format_in_the_environment_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("HANDOFF_LOG_FORMAT", "yaml")
    with pytest.raises(SystemExit) as exit:
        cli.main(["check-config"])
    assert exit.value.code == 2
    assert "--log-format (or $HANDOFF_LOG_FORMAT) must be one of text, json" in capsys.readouterr().err
