"""Names shared with domain.yml and data/."""

LOOP = "handoff_loop"
LATE_EVENT_ACTION = "action_handoff_late_event"
FALLBACK_ACTION = "action_handoff_fallback"
# Not in the domain: only `rasa-handoff doctor` runs it (rasa_handoff_actions/doctor.py).
DOCTOR_ACTION = "action_handoff_doctor"
# Rasa Pro (CALM): a flow hands off by calling it (rasa_handoff_actions/calm.py).
CALM_ACTION = "action_handoff_from_calm"

INTENT_REQUEST = "handoff_request"
INTENT_END = "handoff_end"
INTENT_KEEP_WAITING = "handoff_keep_waiting"

SLOT_EMAIL = "handoff_email"
SLOT_STATE = "handoff_state"
SLOT_LANGUAGE = "handoff_language"
SLOT_QUESTION = "handoff_question"
SLOT_EMAIL_ATTEMPTS = "handoff_email_attempts"
SLOT_ROUTING = "handoff_routing"
SLOT_NOTE = "handoff_note"
SLOT_INVALID_ANSWERS = "handoff_invalid_answers"

STATE_ASKING_EMAIL = "asking_email"
STATE_CONNECTED = "connected"
STATE_ASKED_TO_WAIT = "asked_to_wait"
