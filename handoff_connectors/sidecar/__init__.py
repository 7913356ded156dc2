"""The sidecar: receives the desks' webhooks and pushes them into Rasa."""

from .app import create_app

__all__ = ["create_app"]
