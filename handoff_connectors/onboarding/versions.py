"""`rasa-handoff --version`: the versions in use, for bug reports and for checking a setup.

Rasa runs in an environment of its own more often than not (its pins clash
with modern packages), so its version is read from where its distribution is
installed, never by running `rasa --version`, which takes seconds to import
TensorFlow.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional


def installed_version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _accepted_sdk() -> str:
    """The rasa-sdk versions this rasa-handoff declares it supports."""
    for requirement in metadata.requires("rasa-handoff") or []:
        name = requirement.split(";")[0].strip()
        if name.lower().replace("_", "-").startswith("rasa-sdk"):
            return name[len("rasa-sdk"):].strip() or "any"
    return "unknown"


def _rasa_in(prefix: Path) -> Optional[str]:
    """Rasa's version from the dist-info folder of the environment at `prefix`, if it has one."""
    for info in sorted(prefix.glob("lib/python3*/site-packages/rasa-[0-9]*.dist-info")):
        return info.name[len("rasa-"): -len(".dist-info")]
    return None


def _rasa_line() -> str:
    here = installed_version("rasa")
    if here:
        return f"rasa {here} (this environment)"
    on_path = shutil.which("rasa")
    if on_path:
        prefix = Path(on_path).resolve().parent.parent
        found = _rasa_in(prefix)
        if found:
            return f"rasa {found} ({on_path})"
    from ..rasa_runtime.venv import venv_dir

    found = _rasa_in(venv_dir())
    if found:
        return f"rasa {found} (the venv rasa-handoff built: {venv_dir()})"
    return "rasa: not found here (neither in this environment, on PATH, nor built by `rasa-handoff demo`)"


def version_report() -> str:
    sdk = installed_version("rasa-sdk") or "not installed"
    return "\n".join([
        f"rasa-handoff {installed_version('rasa-handoff') or 'unknown (not installed)'}",
        f"rasa-sdk {sdk} (supported: {_accepted_sdk()}; {sys.executable})",
        _rasa_line(),
    ])


class VersionAction(argparse.Action):
    """Prints the report and exits, before argparse asks for a subcommand."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(version_report())
        parser.exit()
