"""Assemble a Rasa project from a base bot plus the handoff domain and data, and train it.

Models are cached by the content of everything that goes into them, so a
second run with the same files starts at once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from .venv import Progress, home, rasa_environment

DEMO_BOT = Path(__file__).with_name("demo_bot")
# The action server's module for the demo bot: its own actions plus rasa-handoff's.
DEMO_BOT_ACTIONS = "handoff_connectors.demo.bot_actions"
BUNDLE = Path(__file__).parent.parent / "bundle"


def assemble(target: Path, bot: Path = DEMO_BOT) -> Path:
    """Write `target` as a Rasa project: the bot's files plus handoff's."""
    if target.exists():
        shutil.rmtree(target)
    (target / "domain").mkdir(parents=True)
    (target / "data").mkdir()
    shutil.copyfile(bot / "config.yml", target / "config.yml")
    shutil.copyfile(bot / "domain.yml", target / "domain" / "bot.yml")
    shutil.copyfile(BUNDLE / "domain.yml", target / "domain" / "handoff.yml")
    for source in sorted((bot / "data").glob("*.yml")):
        shutil.copyfile(source, target / "data" / f"bot_{source.name}")
    for source in sorted((BUNDLE / "data").glob("*.yml")):
        shutil.copyfile(source, target / "data" / f"handoff_{source.name}")
    return target


def fingerprint(project: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*.yml")):
        digest.update(str(path.relative_to(project)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train(rasa: Path, project: Path, progress: Progress = print) -> Path:
    """The trained model for `project`, training it unless it is cached."""
    models = home() / "models"
    name = f"handoff-{fingerprint(project)}"
    model = models / f"{name}.tar.gz"
    if model.exists():
        return model
    progress("Training the Rasa model (about a minute)...")
    models.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            str(rasa), "train",
            "--config", "config.yml",
            "--domain", "domain",
            "--data", "data",
            "--out", str(models),
            "--fixed-model-name", name,
        ],
        cwd=project,
        env=rasa_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0 or not model.exists():
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise RuntimeError(f"rasa train failed:\n{tail}")
    progress(f"Model ready: {model}")
    return model
