"""Names shared with domain.yml and data/."""

LOOP = "handoff_loop"
LATE_EVENT_ACTION = "action_handoff_late_event"

INTENT_REQUEST = "handoff_request"
INTENT_END = "handoff_end"

SLOT_EMAIL = "handoff_email"
SLOT_STATE = "handoff_state"
SLOT_LANGUAGE = "handoff_language"
SLOT_QUESTION = "handoff_question"
SLOT_EMAIL_ATTEMPTS = "handoff_email_attempts"

STATE_ASKING_EMAIL = "asking_email"
STATE_CONNECTED = "connected"
