"""A real Rasa Open Source 3.6.21 beside the plugin: its venv, a model, its processes.

Used by the demo (`rasa-handoff demo`) and the end-to-end tests. Rasa runs in
its own virtual environment and meets the plugin over HTTP, as in production.
"""
