"""A bot as `rasa init` (Rasa 3.6.21) writes it, for the init tests, and a way to run init.

The files are the ones `rasa init --no-prompt` writes, trimmed to what init
reads: the same layout, comments, mixed indentation and commented-out
sections. tests/e2e/test_init_on_rasa_init_bot.py runs init on the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from handoff_connectors.onboarding import run_init

RASA_INIT_DOMAIN = """\
version: "3.1"

intents:
  - greet
  - goodbye
  - mood_great
  - bot_challenge

responses:
  utter_greet:
  - text: "Hey! How are you?"

  # The bot's answer to "are you a bot?"
  utter_iamabot:
  - text: "I am a bot, powered by Rasa."

session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
"""

RASA_INIT_CONFIG = """\
recipe: default.v1
language: en

pipeline:
# # No configuration for the NLU pipeline was provided. The following default pipeline was used to train your model.
#   - name: WhitespaceTokenizer
#   - name: FallbackClassifier
#     threshold: 0.3

policies:
# # No configuration for policies was provided. The following default policies were used to train your model.
#   - name: MemoizationPolicy
#   - name: RulePolicy
assistant_id: placid-fruit
"""

RASA_INIT_ENDPOINTS = """\
# This file contains the different endpoints your bot can use.

#action_endpoint:
#  url: "http://localhost:5055/webhook"

#tracker_store:
#    type: redis
"""

RASA_INIT_CREDENTIALS = """\
# This file contains the credentials for the voice & chat platforms
# which your bot is using.

rest:
#  # you don't need to provide anything here - this channel doesn't
#  # require any credentials

#socketio:
#  user_message_evt: <event name of user message>
"""


@dataclass
class Ran:
    code: int
    output: str


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    folder = tmp_path / "bot"
    (folder / "data").mkdir(parents=True)
    (folder / "domain.yml").write_text(RASA_INIT_DOMAIN)
    (folder / "config.yml").write_text(RASA_INIT_CONFIG)
    (folder / "endpoints.yml").write_text(RASA_INIT_ENDPOINTS)
    (folder / "credentials.yml").write_text(RASA_INIT_CREDENTIALS)
    (folder / "data" / "nlu.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hey\n')
    return folder


@pytest.fixture
def init():
    """init(bot, **options) -> Ran(exit code, everything it printed)."""

    def run(folder: Path, **options) -> Ran:
        lines: list[str] = []
        code = run_init(folder, out=lines.append, **options)
        return Ran(code, "\n".join(lines))

    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the folder and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
