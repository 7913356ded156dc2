"""Build (once) and find the virtual environment that runs Rasa 3.6.21.

Rasa 3.6.21 declares Python < 3.11 but runs on 3.11 with a few pins (see
`rasa-3.6.21-requirements.txt`). The venv lives in the user's cache
(`$RASA_HANDOFF_HOME`, default `~/.cache/rasa-handoff`) and is reused while
the requirements it was built from are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

RASA_VERSION = "3.6.21"
RASA_SDK_VERSION = "3.6.2"
REQUIREMENTS = Path(__file__).with_name(f"rasa-{RASA_VERSION}-requirements.txt")

Progress = Callable[[str], None]


def home() -> Path:
    return Path(os.environ.get("RASA_HANDOFF_HOME") or Path.home() / ".cache" / "rasa-handoff")


def venv_dir() -> Path:
    return home() / f"rasa-{RASA_VERSION}"


def rasa_executable() -> Path:
    return venv_dir() / "bin" / "rasa"


def _fingerprint() -> str:
    recipe = f"{RASA_VERSION} {RASA_SDK_VERSION} {sys.version_info[:2]}\n{REQUIREMENTS.read_text()}"
    return hashlib.sha256(recipe.encode()).hexdigest()


def _marker() -> Path:
    return venv_dir() / ".rasa-handoff-ready"


def is_ready() -> bool:
    marker = _marker()
    return marker.exists() and marker.read_text().strip() == _fingerprint() and rasa_executable().exists()


def ensure_rasa(progress: Progress = print) -> Path:
    """The `rasa` executable, building its venv first if needed (a few minutes)."""
    if is_ready():
        return rasa_executable()
    target = venv_dir()
    progress(f"Building Rasa {RASA_VERSION} in {target} (first time only, a few minutes)...")
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        ("creating the virtual environment", [sys.executable, "-m", "venv", str(target)]),
        (
            f"installing rasa {RASA_VERSION} and rasa-sdk {RASA_SDK_VERSION}",
            [_pip(), "install", "--no-deps", "--ignore-requires-python",
             f"rasa=={RASA_VERSION}", f"rasa-sdk=={RASA_SDK_VERSION}"],
        ),
        ("installing Rasa's requirements (TensorFlow is the big one)", [_pip(), "install", "-r", str(REQUIREMENTS)]),
    ]
    for number, (what, command) in enumerate(steps, start=1):
        progress(f"  [{number}/{len(steps)}] {what}")
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-20:])
            raise RuntimeError(f"Building the Rasa venv failed while {what}:\n{tail}")
    _marker().write_text(_fingerprint())
    progress(f"Rasa {RASA_VERSION} is ready.")
    return rasa_executable()


def rasa_environment() -> dict[str, str]:
    """The environment every Rasa command runs with: no telemetry, no error
    reports to Rasa's servers (this Rasa talks to this machine only), quiet TensorFlow."""
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


def _pip() -> str:
    return str(venv_dir() / "bin" / "pip")


if __name__ == "__main__":
    print(ensure_rasa())
