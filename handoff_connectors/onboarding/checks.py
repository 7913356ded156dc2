"""Check the bot's config.yml, endpoints.yml and credentials.yml for what a handoff needs.

Each of these, when missing, fails silently much later (the handoff rules
never fire, Rasa never calls the actions, the agent's replies never reach the
user), so init looks at them now. They are the user's deployment files: init
only says what to add unless given `--apply`, and then adds only what is
absent; a setting that is there but unusable is reported for the user to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml
from yaml.nodes import Node, SequenceNode

from . import yamltext

ACTION_URL = "http://localhost:5055/webhook"
# Channels Rasa cannot push into: `rest` answers only in the HTTP response of
# the user's own message, and `rasa` is Rasa X's, not the user's chat.
NO_PUSH_CHANNELS = {"rest", "rasa"}
RULE_POLICY = ["- name: RulePolicy"]
FALLBACK_CLASSIFIER = ["- name: FallbackClassifier", "  threshold: 0.3"]
SOCKETIO = [
    "# Added by rasa-handoff init: a channel Rasa can push the agent's messages into.",
    "socketio:",
    "  user_message_evt: user_uttered",
    "  bot_message_evt: bot_uttered",
    "  session_persistence: true",
]
ACTION_ENDPOINT = ["action_endpoint:", f'  url: "{ACTION_URL}"']


@dataclass
class Finding:
    """One file's verdict: fine, or what is missing and (when init may add it) the file with it added."""

    file: str
    ok: bool
    message: str
    new_text: Optional[str] = None
    snippet: tuple[str, ...] = ()
    added: str = ""


def _read(path: Path) -> tuple[Optional[str], Optional[str]]:
    """(text, None), (None, None) when absent, or (None, error) when it is no YAML."""
    if not path.is_file():
        return None, None
    text = path.read_text(encoding="utf-8")
    try:
        yamltext.compose(text)
    except yaml.YAMLError as error:
        return None, f"{path.name} is not valid YAML ({str(error).splitlines()[0]}); fix it and run init again."
    return text, None


def _names(section: Any) -> list[str]:
    return [item.get("name", "") for item in section or [] if isinstance(item, dict)]


def fallback_escalation_on(handoff_yml: Optional[str]) -> bool:
    """Whether handoff.yml escalates on misunderstood turns (its default mode, offer, does)."""
    try:
        config = yaml.safe_load(handoff_yml or "") or {}
    except yaml.YAMLError:
        return True
    fallback = ((config.get("escalation") or {}).get("fallback") or {}) if isinstance(config, dict) else {}
    mode = fallback.get("mode", "offer")
    # YAML 1.1 reads a bare `off` as false.
    return mode is not False and str(mode).lower() != "off"


def check_config(bot: Path, handoff_yml: Optional[str]) -> Finding:
    text, error = _read(bot / "config.yml")
    if error:
        return Finding("config.yml", False, error)
    if text is None:
        return Finding("config.yml", False, "config.yml not found: run init in your bot's folder (`rasa init` makes one).")
    values = yaml.safe_load(text) or {}
    sections = yamltext.top_level(yamltext.compose(text))
    edit, wanted, said = yamltext.TextEdit.of(text), [], []
    problem = _need_component(edit, sections.get("policies"), _names(values.get("policies")), "RulePolicy", RULE_POLICY)
    if problem:
        wanted.append(problem)
    else:
        said.append("RulePolicy" if values.get("policies") else "Rasa's default policies (with RulePolicy)")
    if fallback_escalation_on(handoff_yml):
        problem = _need_component(
            edit, sections.get("pipeline"), _names(values.get("pipeline")), "FallbackClassifier", FALLBACK_CLASSIFIER
        )
        if problem:
            wanted.append(problem)
        else:
            said.append("FallbackClassifier" if values.get("pipeline") else "Rasa's default pipeline (with FallbackClassifier)")
    if not wanted:
        return Finding("config.yml", True, "has " + " and ".join(said))
    return _config_finding(text, edit, wanted)


def _need_component(
    edit: yamltext.TextEdit, found: Optional[tuple[Node, Node]], names: list[str], component: str, lines: list[str]
) -> Optional[str]:
    """None when the list has the component (or is left to Rasa's defaults); else what is missing, added to edit."""
    if found is None or found[1].tag == "tag:yaml.org,2002:null" or component in names:
        return None
    key, section = found
    where = f"{key.value} needs {component}"
    if not isinstance(section, SequenceNode) or section.flow_style:
        return where + " (the list is not in block style: add it yourself)"
    edit.insert_after(yamltext.last_line(section), yamltext.shifted(lines, yamltext.child_column(section)))
    return where


def _config_finding(text: str, edit: yamltext.TextEdit, wanted: list[str]) -> Finding:
    why = (
        "; ".join(wanted)
        + " (RulePolicy runs the handoff rules; FallbackClassifier gives misunderstood turns the "
        "nlu_fallback intent that fallback escalation counts; `escalation.fallback.mode: off` in handoff.yml "
        "does without it)"
    )
    manual = any("yourself" in item for item in wanted)
    snippet = tuple(
        line for item, lines in (("RulePolicy", RULE_POLICY), ("FallbackClassifier", FALLBACK_CLASSIFIER))
        if any(item in w for w in wanted) for line in lines
    )
    new_text = None if manual else edit.text(yamltext.newline_of(text))
    added = " and ".join(name for name in ("RulePolicy", "FallbackClassifier") if any(name in w for w in wanted))
    return Finding("config.yml", False, why, new_text, snippet, added)


def check_endpoints(bot: Path) -> Finding:
    text, error = _read(bot / "endpoints.yml")
    if error:
        return Finding("endpoints.yml", False, error)
    endpoint = ((yaml.safe_load(text) or {}) if text else {}).get("action_endpoint")
    if isinstance(endpoint, dict) and endpoint.get("url"):
        return Finding("endpoints.yml", True, f"action_endpoint is {endpoint['url']}")
    if text is not None and "action_endpoint" in yamltext.top_level(yamltext.compose(text)):
        return Finding(
            "endpoints.yml", False,
            f"action_endpoint has no url: set `url: \"{ACTION_URL}\"` under it (your action server's /webhook).",
        )
    why = "no action_endpoint, so Rasa cannot call the handoff actions (the URL of your action server's /webhook)"
    return Finding(
        "endpoints.yml", False, why, _appended(text, ACTION_ENDPOINT), tuple(ACTION_ENDPOINT), f"action_endpoint ({ACTION_URL})"
    )


def check_credentials(bot: Path) -> Finding:
    text, error = _read(bot / "credentials.yml")
    if error:
        return Finding("credentials.yml", False, error)
    channels = (yaml.safe_load(text) or {}) if text else {}
    pushable = sorted(name for name in channels if name not in NO_PUSH_CHANNELS) if isinstance(channels, dict) else []
    if pushable:
        return Finding("credentials.yml", True, f"{', '.join(pushable)} can receive the agent's messages")
    why = (
        "no channel Rasa can push the agent's messages into (`rest` only answers the user's own requests): "
        "add the one your users chat on (socketio, callback, telegram, slack, facebook, twilio, ...), e.g. socketio"
    )
    return Finding("credentials.yml", False, why, _appended(text, SOCKETIO), tuple(SOCKETIO[1:]), "the socketio channel")


def _appended(text: Optional[str], lines: list[str]) -> str:
    edit = yamltext.TextEdit.of(text or "")
    edit.append(lines)
    return edit.text(yamltext.newline_of(text or ""))


def check_bot(bot: Path, handoff_yml: Optional[str]) -> list[Finding]:
    return [check_config(bot, handoff_yml), check_endpoints(bot), check_credentials(bot)]
