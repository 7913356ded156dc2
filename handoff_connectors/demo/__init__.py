"""The demo: a real Rasa with a small bot, the local desk, and a chat page for the user."""
