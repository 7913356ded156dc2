"""The benchmark bot: the demo bot, rasa-handoff's domain, and one intent and action of ours.

`EXTERNAL_benchmark_ping`, pushed with trigger_intent, runs
`action_benchmark_ping`, which utters one message: the agent-to-user
benchmark's baseline (Rasa running a custom action on an external intent,
with no handoff in between). Its files stay here, apart from the shipped
ones, and are added to the project `rasa_runtime.project.assemble` builds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from handoff_connectors.rasa_runtime.project import assemble

HERE = Path(__file__).parent
PING_INTENT = "EXTERNAL_benchmark_ping"
PING_ACTION = "action_benchmark_ping"
NOOP_ACTION = "action_benchmark_noop"
# The ping action utters this entity's value, so a benchmark can tell its messages apart.
MARKER_ENTITY = "benchmark_marker"


def assemble_project(target: Path) -> Path:
    """The demo bot with handoff (as the e2e suite builds it), plus the benchmark's domain and rule."""
    assemble(target)
    shutil.copyfile(HERE / "domain.yml", target / "domain" / "benchmark.yml")
    for source in sorted((HERE / "data").glob("*.yml")):
        shutil.copyfile(source, target / "data" / f"benchmark_{source.name}")
    return target
