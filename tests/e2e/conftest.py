"""The end-to-end suite's `user`: a new person chatting with the session's deployment.

The deployment itself (`deployment`, `rasa_project`) is in the root
conftest.py, shared with each desk's own end-to-end tests.
"""

from __future__ import annotations

import pytest

from .harness import Deployment


@pytest.fixture
def user(deployment: Deployment):
    return deployment.new_user()
