"""Merging the handoff domain into a bot's single domain.yml: the user's file stays theirs."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from handoff_connectors.onboarding.domain import SECTIONS, merge_domain

from .conftest import RASA_INIT_DOMAIN

BUNDLE = (Path(__file__).resolve().parents[2] / "domain.yml").read_text()


def bundle_names(section: str) -> list[str]:
    items = yaml.safe_load(BUNDLE)[section]
    return list(items) if isinstance(items, dict) else [i if isinstance(i, str) else next(iter(i)) for i in items]


def removed_lines(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line.startswith("-") and not line.startswith("---")
    ]


def test_every_handoff_item_is_added_and_no_line_of_the_user_changes():
    merge = merge_domain(RASA_INIT_DOMAIN, BUNDLE)
    merged = yaml.safe_load(merge.text)
    for section in SECTIONS:
        for name in bundle_names(section):
            assert name in (merged[section] if section in ("slots", "forms") else merged[section]), (section, name)
    assert merged["slots"]["handoff_state"] == yaml.safe_load(BUNDLE)["slots"]["handoff_state"]
    # Only additions: the user's comments, order, quoting and indentation are all still there.
    assert removed_lines(RASA_INIT_DOMAIN, merge.text) == []
    assert '  # The bot\'s answer to "are you a bot?"' in merge.text
    assert merged["intents"][:4] == ["greet", "goodbye", "mood_great", "bot_challenge"]
    assert list(merged)[:4] == ["version", "intents", "responses", "session_config"]
    assert not merge.conflicts


def test_new_items_follow_the_users_indentation_and_carry_their_comments():
    user = "intents:\n- greet\nslots:\n    mood:\n        type: text\n        mappings:\n        - type: from_text\n"
    merge = merge_domain(user, BUNDLE)
    lines = merge.text.splitlines()
    assert "- handoff_request" in lines  # at column 0, like "- greet"
    assert "    handoff_email:" in lines  # at column 4, like "mood:"
    assert "# Pushed by the sidecar with trigger_intent; no NLU examples on purpose" in lines
    merged = yaml.safe_load(merge.text)
    assert merged["slots"]["mood"] == {"type": "text", "mappings": [{"type": "from_text"}]}
    assert merged["slots"]["handoff_email"]["mappings"] == [{"type": "custom"}]


def test_an_empty_section_gets_the_items():
    merge = merge_domain("intents:\n  - greet\nslots:\n# none yet\nactions:\n", BUNDLE)
    merged = yaml.safe_load(merge.text)
    assert set(bundle_names("slots")) <= set(merged["slots"])
    assert merged["actions"] == bundle_names("actions")
    assert "# none yet" in merge.text


def test_a_name_with_another_meaning_is_reported_and_not_overwritten():
    user = RASA_INIT_DOMAIN + "slots:\n  handoff_state:\n    type: bool\n    mappings:\n    - type: from_text\n"
    merge = merge_domain(user, BUNDLE)
    assert len(merge.conflicts) == 1
    conflict = merge.conflicts[0]
    assert "slots.handoff_state" in conflict and "Rename yours" in conflict and "type: text" in conflict
    assert yaml.safe_load(merge.text)["slots"]["handoff_state"]["type"] == "bool"


def test_a_different_handoff_loop_form_is_a_conflict():
    user = "forms:\n  handoff_loop:\n    required_slots:\n      - email\n"
    merge = merge_domain(user, BUNDLE)
    assert any("forms.handoff_loop" in c for c in merge.conflicts)


def test_a_section_in_flow_style_is_reported_with_the_items_to_add():
    merge = merge_domain("intents: [greet]\n", BUNDLE)
    assert any("`intents` is written in a form init cannot extend" in c and "handoff_request" in c
               for c in merge.conflicts)
    assert "handoff_request" not in yaml.safe_load(merge.text)["intents"]


def test_merging_twice_changes_nothing():
    once = merge_domain(RASA_INIT_DOMAIN, BUNDLE)
    twice = merge_domain(once.text, BUNDLE)
    assert twice.text == once.text and twice.added == [] and twice.conflicts == []


def test_intents_written_with_options_count_as_present():
    user = "intents:\n  - handoff_request:\n      use_entities: []\n"
    merge = merge_domain(user, BUNDLE)
    assert "intents: handoff_request" not in merge.added
    assert yaml.safe_load(merge.text)["intents"][0] == {"handoff_request": {"use_entities": []}}


def test_windows_line_endings_are_kept():
    merge = merge_domain(RASA_INIT_DOMAIN.replace("\n", "\r\n"), BUNDLE)
    assert "\r\n" in merge.text and "\n" not in merge.text.replace("\r\n", "")


def test_the_users_own_action_session_start_is_pointed_out_once():
    user = "actions:\n  - action_session_start\n"
    first = merge_domain(user, BUNDLE)
    assert any("HandoffSessionStart" in note for note in first.notes)
    assert merge_domain(first.text, BUNDLE).notes == []
