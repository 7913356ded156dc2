"""`rasa-handoff init` on the bots people have: one domain.yml, a domain folder, a bot that has handoff."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

from .conftest import RASA_INIT_CONFIG, RASA_INIT_CREDENTIALS, RASA_INIT_DOMAIN, RASA_INIT_ENDPOINTS, snapshot

REPO = Path(__file__).resolve().parents[2]
BUNDLE_DOMAIN = (REPO / "domain.yml").read_text()


def test_a_rasa_init_bot_gets_the_domain_merged_and_is_told_what_to_add(bot: Path, init):
    ran = init(bot)
    merged = yaml.safe_load((bot / "domain.yml").read_text())
    assert "handoff_request" in merged["intents"] and "handoff_loop" in merged["forms"]
    assert not (bot / "domain").exists()
    assert (bot / "data" / "handoff_rules.yml").read_text() == (REPO / "data" / "rules.yml").read_text()
    assert (bot / "data" / "handoff_nlu.yml").read_text() == (REPO / "data" / "nlu.yml").read_text()
    assert yaml.safe_load((bot / "handoff.yml").read_text())["connector"] == "local"
    # Rasa's files are the user's: without --apply they are only checked, and the fix is printed.
    assert (bot / "endpoints.yml").read_text() == RASA_INIT_ENDPOINTS
    assert (bot / "credentials.yml").read_text() == RASA_INIT_CREDENTIALS
    assert ran.code == 1
    assert "endpoints.yml: no action_endpoint" in ran.output and 'url: "http://localhost:5055/webhook"' in ran.output
    assert "credentials.yml: no channel Rasa can push" in ran.output and "socketio:" in ran.output
    # rasa init's config leaves both lists to Rasa's defaults, which have what handoff needs.
    assert "config.yml: has Rasa's default policies (with RulePolicy)" in ran.output


def test_apply_adds_what_rasa_lacks_and_keeps_the_users_lines(bot: Path, init):
    ran = init(bot, apply=True)
    assert ran.code == 0, ran.output
    endpoints = (bot / "endpoints.yml").read_text()
    assert endpoints.startswith(RASA_INIT_ENDPOINTS)
    assert yaml.safe_load(endpoints)["action_endpoint"]["url"] == "http://localhost:5055/webhook"
    credentials = (bot / "credentials.yml").read_text()
    assert credentials.startswith(RASA_INIT_CREDENTIALS)
    assert "socketio" in yaml.safe_load(credentials)
    assert (bot / "config.yml").read_text() == RASA_INIT_CONFIG
    assert "Then: rasa data validate && rasa train" in ran.output


def test_running_init_twice_changes_nothing(bot: Path, init):
    assert init(bot, apply=True).code == 0
    before = snapshot(bot)
    again = init(bot, apply=True)
    assert again.code == 0 and snapshot(bot) == before
    assert "domain.yml: has every handoff item" in again.output
    dry = init(bot, apply=True, dry_run=True)
    assert dry.code == 0 and "No change needed" in dry.output and "+++" not in dry.output


def test_dry_run_shows_the_diff_and_writes_nothing(bot: Path, init):
    before = snapshot(bot)
    ran = init(bot, apply=True, dry_run=True)
    assert snapshot(bot) == before
    assert ran.code == 1  # there is something to write
    assert "--- a/domain.yml\n+++ b/domain.yml" in ran.output
    assert "+  - handoff_request" in ran.output
    assert "--- /dev/null\n+++ b/data/handoff_rules.yml" in ran.output
    assert "+++ b/endpoints.yml" in ran.output and '+  url: "http://localhost:5055/webhook"' in ran.output
    # Only additions to the user's domain: no line of theirs shows as removed.
    domain_diff = ran.output.split("+++ b/domain.yml")[1].split("--- ")[0]
    assert not [line for line in domain_diff.splitlines() if line.startswith("-")]


def test_a_dry_run_never_shows_the_users_secrets(bot: Path, init):
    (bot / "endpoints.yml").write_text("tracker_store:\n  type: SQL\n  password: s3cret-tracker-pw\n")
    (bot / "credentials.yml").write_text("rest:\nrasa:\n  url: http://u:s3cret-rasa-x@localhost:5002/api\n")
    ran = init(bot, apply=True, dry_run=True)
    assert "+action_endpoint:" in ran.output and "+socketio:" in ran.output
    assert "s3cret" not in ran.output


def test_a_conflict_is_reported_and_nothing_is_written(bot: Path, init):
    (bot / "domain.yml").write_text(RASA_INIT_DOMAIN + "slots:\n  handoff_email:\n    type: bool\n    mappings: []\n")
    before = snapshot(bot)
    ran = init(bot, apply=True)
    assert ran.code == 1
    assert snapshot(bot) == before
    assert "Conflicts (nothing was written)" in ran.output and "slots.handoff_email" in ran.output


def test_a_domain_folder_gets_handoff_yml_beside_the_bots_files(bot: Path, init):
    (bot / "domain.yml").unlink()
    (bot / "domain").mkdir()
    (bot / "domain" / "bot.yml").write_text(RASA_INIT_DOMAIN)
    ran = init(bot)
    assert (bot / "domain" / "handoff.yml").read_text() == BUNDLE_DOMAIN
    assert (bot / "domain" / "bot.yml").read_text() == RASA_INIT_DOMAIN
    assert not (bot / "domain.yml").exists()
    assert "domain/handoff.yml: written" in ran.output
    before = snapshot(bot)
    assert "domain/: has every handoff item" in init(bot).output
    assert snapshot(bot) == before


def test_a_domain_folder_with_a_clashing_slot_is_reported(bot: Path, init):
    (bot / "domain.yml").unlink()
    (bot / "domain").mkdir()
    (bot / "domain" / "slots.yml").write_text("slots:\n  handoff_routing:\n    type: categorical\n    mappings: []\n")
    ran = init(bot)
    assert ran.code == 1 and "slots.handoff_routing" in ran.output
    assert not (bot / "domain" / "handoff.yml").exists()


def test_an_older_handoff_domain_in_the_folder_gets_what_it_lacks(bot: Path, init):
    (bot / "domain.yml").unlink()
    (bot / "domain").mkdir()
    older = BUNDLE_DOMAIN.replace("  - handoff_keep_waiting\n", "")
    (bot / "domain" / "handoff.yml").write_text(older)
    ran = init(bot)
    assert "domain/handoff.yml: merged intents: 1" in ran.output
    assert "handoff_keep_waiting" in yaml.safe_load((bot / "domain" / "handoff.yml").read_text())["intents"]


def test_a_handoff_domain_left_by_an_earlier_init_is_pointed_out(bot: Path, init):
    (bot / "domain").mkdir()
    (bot / "domain" / "handoff.yml").write_text(BUNDLE_DOMAIN)
    ran = init(bot)
    assert "domain/handoff.yml (from an earlier init) is not read" in ran.output
    assert "handoff_loop" in yaml.safe_load((bot / "domain.yml").read_text())["forms"]


def test_handoff_files_the_user_edited_are_kept_unless_forced(bot: Path, init):
    init(bot)
    (bot / "data" / "handoff_nlu.yml").write_text('version: "3.1"\nnlu: []\n')
    (bot / "handoff.yml").write_text("connector: webhook\n")
    ran = init(bot)
    assert "data/handoff_nlu.yml differs from this version's (your edits?): kept" in ran.output
    assert (bot / "handoff.yml").read_text() == "connector: webhook\n"
    init(bot, force=True)
    assert (bot / "data" / "handoff_nlu.yml").read_text() == (REPO / "data" / "nlu.yml").read_text()
    assert yaml.safe_load((bot / "handoff.yml").read_text())["connector"] == "local"


def test_handoff_rules_merged_into_the_bots_own_file_are_not_added_twice(bot: Path, init):
    (bot / "data" / "rules.yml").write_text((REPO / "data" / "rules.yml").read_text())
    ran = init(bot)
    assert not (bot / "data" / "handoff_rules.yml").exists()
    assert "data/handoff_rules.yml: not needed" in ran.output


def test_listed_policies_without_rule_policy_and_pipeline_without_fallback(bot: Path, init):
    config = (
        "pipeline:\n  - name: WhitespaceTokenizer\n  - name: DIETClassifier\n    epochs: 100\n"
        "policies:\n  # memorise the stories\n  - name: MemoizationPolicy\n"
    )
    (bot / "config.yml").write_text(config)
    told = init(bot)
    assert "policies needs RulePolicy; pipeline needs FallbackClassifier" in told.output
    assert (bot / "config.yml").read_text() == config
    init(bot, apply=True)
    applied = (bot / "config.yml").read_text()
    assert applied.startswith("pipeline:\n  - name: WhitespaceTokenizer\n  - name: DIETClassifier\n    epochs: 100\n")
    assert "  # memorise the stories\n" in applied
    values = yaml.safe_load(applied)
    assert values["pipeline"][-1] == {"name": "FallbackClassifier", "threshold": 0.3}
    assert [p["name"] for p in values["policies"]] == ["MemoizationPolicy", "RulePolicy"]


def test_no_fallback_classifier_is_asked_for_when_fallback_escalation_is_off(bot: Path, init):
    (bot / "config.yml").write_text("pipeline:\n  - name: DIETClassifier\npolicies:\n  - name: RulePolicy\n")
    (bot / "handoff.yml").write_text("escalation:\n  fallback:\n    mode: off\n")
    ran = init(bot)
    assert "config.yml: has RulePolicy" in ran.output and "FallbackClassifier" not in ran.output


def test_an_action_endpoint_without_url_is_reported_not_rewritten(bot: Path, init):
    (bot / "endpoints.yml").write_text("action_endpoint:\n  token: abc\n")
    ran = init(bot, apply=True)
    assert "action_endpoint has no url" in ran.output and ran.code == 1
    assert (bot / "endpoints.yml").read_text() == "action_endpoint:\n  token: abc\n"


def test_a_channel_that_takes_pushes_is_enough(bot: Path, init):
    (bot / "credentials.yml").write_text("rest:\ntelegram:\n  access_token: ${TELEGRAM_TOKEN}\n")
    ran = init(bot)
    assert "credentials.yml: telegram can receive the agent's messages" in ran.output
    assert "TELEGRAM_TOKEN" not in ran.output


def test_a_file_is_not_a_bot_folder(tmp_path: Path, init):
    (tmp_path / "domain.yml").write_text("intents: []\n")
    ran = init(tmp_path / "domain.yml")
    assert ran.code == 2 and "give your bot's folder" in ran.output


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handoff_connectors.cli", *args], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)


def test_the_command_line_takes_apply_and_dry_run(bot: Path):
    dry = run_cli("init", str(bot), "--apply", "--dry-run", cwd=bot)
    assert dry.returncode == 1 and "+++ b/credentials.yml" in dry.stdout
    assert (bot / "credentials.yml").read_text() == RASA_INIT_CREDENTIALS
    applied = run_cli("init", ".", "--apply", cwd=bot)
    assert applied.returncode == 0, applied.stdout


def test_version_names_rasa_handoff_and_rasa_sdk(tmp_path: Path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == f"rasa-handoff {metadata.version('rasa-handoff')}"
    assert lines[1].startswith(f"rasa-sdk {metadata.version('rasa-sdk')} (supported: ")
    assert lines[2].startswith("rasa")
