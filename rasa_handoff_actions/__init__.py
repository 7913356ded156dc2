"""Rasa custom actions for human handoff.

Run them with the rasa-sdk action server:

    python -m rasa_sdk --actions rasa_handoff_actions

or, when the bot has actions of its own, import this package once from them
(`import rasa_handoff_actions  # noqa: F401`): rasa-sdk registers every action
class that is imported. handoff.yml is checked here, when the action server
starts, so a bad config stops it with the field and the reason.
"""

from .runtime import check_config_at_start

check_config_at_start()

from .calm import HandoffFromCalm  # noqa: E402
from .doctor import HandoffDoctor  # noqa: E402
from .fallback import HandoffFallback  # noqa: E402
from .forms import escalate_on_invalid_answers  # noqa: E402
from .handoff_loop import HandoffLoop  # noqa: E402
from .late_event import HandoffLateEvent  # noqa: E402
from .session_start import HandoffSessionStart  # noqa: E402

__all__ = [
    "escalate_on_invalid_answers",
    "HandoffDoctor", "HandoffFromCalm", "HandoffFallback", "HandoffLoop", "HandoffLateEvent", "HandoffSessionStart"]
