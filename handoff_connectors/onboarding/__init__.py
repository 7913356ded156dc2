"""Adding handoff to a user's bot: `rasa-handoff init` and `rasa-handoff --version`.

Kept apart from the runtime (core, desks, sidecar): this code edits the
user's files, once, from the command line, and never runs in the action
server or the sidecar.
"""

from .init import run_init

__all__ = ["run_init"]
