"""The rasa-handoff command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.http_recorder import RecordingServer

REPO = Path(__file__).resolve().parents[2]


def rasa_handoff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "handoff_connectors.cli", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
    )


def webhook_config(directory: Path, desk_url: str) -> Path:
    config = directory / "handoff.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "connector": "webhook",
                "store": {"path": str(directory / "s.sqlite")},
                "connectors": {"webhook": {"url": desk_url, "api_key": "k"}},
            }
        )
    )
    return config


def test_init_adds_the_handoff_files_to_a_bot_and_keeps_what_exists(tmp_path: Path):
    bot = tmp_path / "bot"
    (bot / "data").mkdir(parents=True)
    (bot / "handoff.yml").write_text("connector: local\n")
    result = rasa_handoff("init", str(bot), cwd=tmp_path)
    # 1: the handoff files are in, but this bot has no config.yml yet (init says so).
    assert result.returncode == 1 and "config.yml not found" in result.stdout, result.stdout
    assert (bot / "domain.yml").read_text() == (REPO / "domain.yml").read_text()
    assert (bot / "data" / "handoff_nlu.yml").read_text() == (REPO / "data" / "nlu.yml").read_text()
    assert (bot / "data" / "handoff_rules.yml").read_text() == (REPO / "data" / "rules.yml").read_text()
    assert (bot / "handoff.yml").read_text() == "connector: local\n"
    assert "kept" in result.stdout and "handoff.yml" in result.stdout

    forced = rasa_handoff("init", str(bot), "--force", cwd=tmp_path)
    assert forced.returncode == 1 and "config.yml not found" in forced.stdout
    example = yaml.safe_load((bot / "handoff.yml").read_text())
    assert example["connector"] == "local" and "connectors" in example


def test_the_example_config_is_valid(tmp_path: Path):
    example = REPO / "handoff_connectors" / "bundle" / "handoff.example.yml"
    result = rasa_handoff("check-config", "--config", str(example), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ok: connector local")


def test_check_config_names_the_field_and_hides_the_value(tmp_path: Path):
    config = tmp_path / "handoff.yml"
    config.write_text("connector: webhook\nconnectors:\n  webhook:\n    url: ftp://desk\n    api_key: sk-very-secret-1\n")
    result = rasa_handoff("check-config", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "connectors.webhook.url: must be an http:// or https:// URL" in result.stdout
    assert "sk-very-secret-1" not in result.stdout


def status_lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    return dict(line.split(None, 1) for line in result.stdout.strip().splitlines() if not line.startswith("20"))


def test_status_reports_every_connector(tmp_path: Path):
    with RecordingServer(lambda request: (200, {"ok": True})) as desk:
        config = webhook_config(tmp_path, desk.url)
        settings = yaml.safe_load(config.read_text())
        settings["connectors"]["local"] = {"token": "inbox-token"}
        config.write_text(yaml.safe_dump(settings))
        result = rasa_handoff("status", "--config", str(config), cwd=tmp_path)
    lines = status_lines(result)
    assert lines["webhook"] == "Available (in use)"
    assert lines["local"] == "Available"
    assert lines["intercom"] == "Not configured"
    assert result.returncode == 0


def test_a_desk_without_a_section_that_is_not_in_use_is_not_configured(tmp_path: Path):
    with RecordingServer(lambda request: (200, {"ok": True})) as desk:
        config = webhook_config(tmp_path, desk.url)
        result = rasa_handoff("status", "--config", str(config), cwd=tmp_path)
    lines = status_lines(result)
    # Even the local inbox, which needs no setting to run, is not checked when nobody set it up.
    assert lines["local"] == lines["intercom"] == "Not configured"
    assert lines["webhook"] == "Available (in use)"
    assert result.returncode == 0


def test_status_fails_when_the_desk_refuses_our_credentials(tmp_path: Path):
    with RecordingServer(lambda request: (401, {"error": "bad key"})) as desk:
        config = webhook_config(tmp_path, desk.url)
        result = rasa_handoff("status", "--config", str(config), cwd=tmp_path)
    assert "webhook    Unavailable (in use)" in result.stdout
    assert result.returncode == 1


def test_dead_letters_are_listed_shown_replayed_and_dropped(tmp_path: Path):
    import asyncio

    from handoff_connectors.core.outbox import park
    from handoff_connectors.core.store import SqliteStore

    config = webhook_config(tmp_path, "http://127.0.0.1:9")

    async def park_two() -> None:
        store = SqliteStore(str(tmp_path / "s.sqlite"))
        for item_id, text in (("m1", "Thanks! \ud83d"), ("m2", "second")):
            await store.push("to_desk:h1", {"id": item_id, "op": "send", "message": {"text": text}})
            await park(store, "to_desk:h1", {"id": item_id, "op": "send", "message": {"text": text}},
                       "webhook refused send: POST /chat answered 422")
        await store.close()

    asyncio.run(park_two())

    listed = rasa_handoff("dead-letters", "--config", str(config), "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout
    assert "m1" in listed.stdout and "m2" in listed.stdout
    assert "POST /chat answered 422" in listed.stdout
    assert "to_desk:h1" in listed.stdout

    shown = rasa_handoff("dead-letters", "--config", str(config), "show", "m1", cwd=tmp_path)
    assert shown.returncode == 0 and '"reason": "webhook refused send: POST /chat answered 422"' in shown.stdout

    replayed = rasa_handoff("dead-letters", "--config", str(config), "replay", "m1", cwd=tmp_path)
    assert replayed.stdout.strip() == "replayed onto to_desk:h1: m1"
    assert rasa_handoff("dead-letters", "--config", str(config), "drop", "m2", cwd=tmp_path).stdout.strip() == "dropped: m2"
    missing = rasa_handoff("dead-letters", "--config", str(config), "drop", "m2", cwd=tmp_path)
    assert missing.returncode == 1 and "no parked item 'm2'" in missing.stdout

    async def state() -> tuple[list[dict], list[str]]:
        store = SqliteStore(str(tmp_path / "s.sqlite"))
        try:
            return await store.items("to_desk:h1"), await store.queues("dead:")
        finally:
            await store.close()

    live, dead = asyncio.run(state())
    assert [item["id"] for item in live] == ["m1"]
    assert "parked" not in live[0] and live[0]["message"]["text"] == "Thanks! \ud83d"
    assert dead == []
    assert "No parked items." in rasa_handoff("dead-letters", "--config", str(config), "list", cwd=tmp_path).stdout
