"""What users get: the sdist and the wheel built from the checkout, installed into a venv of their own.

The suite itself runs on an editable install, which finds every file of the
checkout whether or not the package declares it. Here the sdist is built,
the wheel is built from that sdist (as `python -m build` does), and the wheel
is installed into a venv that has never seen the checkout; then the commands
a new user types run in a folder outside it. A module, template or data file
missing from either archive fails here.

Cached: the dists by the content of the files that go into them, the venv by
pyproject.toml (its dependencies); the wheel is reinstalled into that venv on
every run, so a module dropped from the package disappears from it too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from handoff_connectors.rasa_runtime.venv import home

REPO = Path(__file__).resolve().parents[2]
# Files that do not go into the dists: a change there needs no rebuild.
NOT_PACKAGED = ("tests/", "benchmarks/", "docs/", ".ci/")


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # Nothing of the suite's venv or the checkout reaches the installed package through the environment.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "HANDOFF_CONFIG")}
    return subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def source_fingerprint() -> str:
    """The content of every file of the checkout that may go into the dists (git's view, ignored files left out)."""
    listed = run(["git", "ls-files", "-co", "--exclude-standard"], REPO, 60)
    if listed.returncode != 0:
        pytest.skip(f"git cannot list the checkout's files: {listed.stdout.strip()[:200]}")
    digest = hashlib.sha256()
    for name in sorted(listed.stdout.splitlines()):
        path = REPO / name
        if not name.startswith(NOT_PACKAGED) and path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{'wheel': ..., 'sdist': ...}, built from the checkout as it is now."""
    if run([sys.executable, "-c", "import build"], REPO, 60).returncode != 0:
        pytest.skip("the `build` package is missing: pip install -e '.[test]'")
    out = home() / "packaging" / f"dist-{source_fingerprint()}"
    if not (out / ".ready").exists():
        for older in out.parent.glob("dist-*"):  # one build kept: the cache does not grow with every edit
            shutil.rmtree(older, ignore_errors=True)
        built = run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], tmp_path_factory.mktemp("build"))
        if built.returncode != 0 and "Could not find a version that satisfies" in built.stdout:
            pytest.skip("no package index reachable for the isolated build (setuptools)")
        assert built.returncode == 0, built.stdout[-4000:]
        (out / ".ready").write_text("built")
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module")
def installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a venv (no system site-packages) with the wheel and its dependencies."""
    recipe = f"{sys.version_info[:2]}\n{(REPO / 'pyproject.toml').read_text()}"
    venv = home() / "packaging" / f"venv-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    python = venv / "bin" / "python"
    scratch = tmp_path_factory.mktemp("pip")
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        assert run([sys.executable, "-m", "venv", str(venv)], scratch).returncode == 0
        first = run([str(python), "-m", "pip", "install", "-q", str(dists["wheel"])], scratch, 900)
        if first.returncode != 0 and "Could not find a version that satisfies" in first.stdout:
            pytest.skip("no package index reachable to install the wheel's dependencies")
        assert first.returncode == 0, first.stdout[-4000:]
        (venv / ".ready").write_text("deps installed")
    again = run([str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(dists["wheel"])],
                scratch, 300)
    assert again.returncode == 0, again.stdout[-4000:]
    return venv / "bin"


def checkout_modules(wheel_names: set[str]) -> set[str]:
    """Every module of the checkout's folders that the wheel has a package of, by its path in the wheel."""
    packages = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    modules = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py") if (REPO / package).is_dir() else []:
            relative = path.relative_to(REPO)
            if "tests" not in relative.parts and "__pycache__" not in relative.parts:
                modules.add(relative.as_posix())
    return modules


def test_the_wheel_has_every_module_and_the_bundle_as_plain_files(dists: dict[str, Path]):
    import zipfile

    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        # The bundle is symlinked into the checkout; the wheel must hold the files themselves.
        bundle = {name: wheel.read(name) for name in names if name.startswith("handoff_connectors/bundle/")}
    expected = checkout_modules(names)
    assert "handoff_connectors/onboarding/init.py" in expected  # the walk found the checkout's modules
    missing = sorted(expected - names)
    assert not missing, f"modules of the checkout missing from {dists['wheel'].name}: {missing}"
    assert bundle["handoff_connectors/bundle/domain.yml"] == (REPO / "domain.yml").read_bytes()
    assert bundle["handoff_connectors/bundle/data/rules.yml"] == (REPO / "data" / "rules.yml").read_bytes()


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed: Path, tmp_path: Path):
    where = run([str(installed / "python"), "-c",
                 "import handoff_connectors, rasa_handoff_actions; "
                 "print(handoff_connectors.__file__); print(rasa_handoff_actions.__file__)"], tmp_path)
    assert where.returncode == 0, where.stdout
    for line in where.stdout.split():
        assert Path(line).is_relative_to(installed.parent) and not Path(line).is_relative_to(REPO), line


def test_version_init_and_check_config_from_the_wheel(installed: Path, dists: dict[str, Path], tmp_path: Path):
    command = str(installed / "rasa-handoff")
    version = run([command, "--version"], tmp_path)
    assert version.returncode == 0, version.stdout
    assert version.stdout.splitlines()[0] == f"rasa-handoff {dists['wheel'].name.split('-')[1]}"
    assert version.stdout.splitlines()[1].startswith("rasa-sdk 3.")

    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "config.yml").write_text("recipe: default.v1\nlanguage: en\npipeline:\npolicies:\n")
    init = run([command, "init", ".", "--apply"], bot)
    assert init.returncode == 0, init.stdout
    domain = yaml.safe_load((bot / "domain.yml").read_text())
    assert "handoff_request" in domain["intents"] and "handoff_loop" in domain["forms"]
    nlu = yaml.safe_load((bot / "data" / "handoff_nlu.yml").read_text())
    assert any(entry.get("intent") == "handoff_request" for entry in nlu["nlu"])
    assert (bot / "data" / "handoff_rules.yml").is_file()
    assert "action_endpoint" in yaml.safe_load((bot / "endpoints.yml").read_text())

    checked = run([command, "check-config"], bot)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("ok: connector local")
