"""`rasa-handoff init PATH`: add handoff to an existing Rasa bot in one command.

It first plans every change (the domain merged, the handoff data and
handoff.yml written, config/endpoints/credentials checked), then either shows
the plan as a diff (`--dry-run`) or writes it. Planning first is what makes
it idempotent (a second run plans nothing) and lets a dry run show exactly
what a real run would write.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import yaml

from . import checks
from .domain import folder_domain, merge_domain

BUNDLE = Path(__file__).resolve().parent.parent / "bundle"
Out = Callable[[str], None]


@dataclass
class Change:
    path: Path
    before: Optional[str]
    after: str
    summary: str


@dataclass
class Plan:
    bot: Path
    changes: list[Change] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, relative: str, after: str, summary: str) -> None:
        path = self.bot / relative
        before = path.read_text(encoding="utf-8") if path.is_file() else None
        self.changes.append(Change(path, before, after, summary))

    def planned_text(self, relative: str) -> Optional[str]:
        """The file as it will be after the planned changes."""
        path = self.bot / relative
        for change in self.changes:
            if change.path == path:
                return change.after
        return path.read_text(encoding="utf-8") if path.is_file() else None


def _bundled(name: str) -> str:
    return (BUNDLE / name).read_text(encoding="utf-8")


def plan_domain(plan: Plan, force: bool) -> None:
    single, folder = plan.bot / "domain.yml", plan.bot / "domain"
    if single.is_file():
        _plan_single_domain(plan, single)
        if (folder / "handoff.yml").is_file():
            plan.notes.append(
                "domain/handoff.yml (from an earlier init) is not read: Rasa reads domain.yml unless "
                "trained with --domain domain. The handoff items are in domain.yml now; delete domain/handoff.yml."
            )
    elif folder.is_dir():
        _plan_domain_folder(plan, folder, force)
    else:
        plan.write("domain.yml", _bundled("domain.yml"), "written (the handoff domain; add your bot's to it)")


def _plan_single_domain(plan: Plan, single: Path) -> None:
    before = single.read_text(encoding="utf-8")
    merge = merge_domain(before, _bundled("domain.yml"), "domain.yml")
    plan.conflicts += merge.conflicts
    plan.notes += merge.notes
    if merge.text != before:
        plan.write("domain.yml", merge.text, f"merged {_count(merge.added)}")
    elif not merge.conflicts:
        plan.done.append("domain.yml: has every handoff item")


def _count(added: list[str]) -> str:
    per_section: dict[str, int] = {}
    for item in added:
        section = item.split(":")[0]
        per_section[section] = per_section.get(section, 0) + 1
    return ", ".join(f"{section}: {number}" for section, number in per_section.items())


def _plan_domain_folder(plan: Plan, folder: Path, force: bool) -> None:
    target, bundled = folder / "handoff.yml", _bundled("domain.yml")
    files = {
        str(path.relative_to(folder)): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.y*ml")) if path.is_file()
    }
    if force:
        if files.get("handoff.yml") != bundled:
            plan.write("domain/handoff.yml", bundled, "replaced with this version's (--force)")
        files.pop("handoff.yml", None)
    conflicts, lacking = folder_domain(files, bundled)
    plan.conflicts += conflicts
    if conflicts or force:
        return
    if not lacking:
        plan.done.append("domain/: has every handoff item")
    elif target.is_file():
        # An older handoff.yml, or one the user edited: add what it lacks, keep the rest.
        merge = merge_domain(files["handoff.yml"], bundled, "domain/handoff.yml")
        plan.conflicts += merge.conflicts
        plan.write("domain/handoff.yml", merge.text, f"merged {_count(merge.added)}")
    else:
        plan.write("domain/handoff.yml", bundled, "written")


# data/<file> -> (the bundled file, and what a bot file that already covers it contains)
DATA_FILES = {
    "handoff_nlu.yml": ("data/nlu.yml", ("nlu", "intent", "handoff_request")),
    "handoff_rules.yml": ("data/rules.yml", ("rules", "action", "handoff_loop")),
}


def plan_data(plan: Plan, force: bool) -> None:
    for name, (source, covered_by) in DATA_FILES.items():
        relative, bundled = f"data/{name}", _bundled(source)
        existing = plan.planned_text(relative)
        if existing == bundled:
            plan.done.append(f"{relative}: up to date")
        elif existing is not None and not force:
            plan.notes.append(f"{relative} differs from this version's (your edits?): kept; --force replaces it.")
        elif existing is None and _data_has(plan.bot / "data", covered_by):
            plan.done.append(f"{relative}: not needed, your data already has {covered_by[2]}")
        else:
            plan.write(relative, bundled, "written" if existing is None else "replaced (--force)")


def _data_has(data: Path, covered_by: tuple[str, str, str]) -> bool:
    """Whether a file of the bot's data already has the handoff examples or rules (merged by hand)."""
    section, step, name = covered_by
    for path in sorted(data.rglob("*.y*ml")) if data.is_dir() else []:
        try:
            entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(section) or []
        except (yaml.YAMLError, AttributeError):
            continue
        for entry in entries:
            if isinstance(entry, dict) and (entry.get(step) == name or _in_steps(entry, step, name)):
                return True
    return False


def _in_steps(entry: dict, step: str, name: str) -> bool:
    return any(isinstance(s, dict) and s.get(step) == name for s in entry.get("steps") or [])


def plan_handoff_config(plan: Plan, force: bool) -> None:
    bundled = _bundled("handoff.example.yml")
    existing = plan.planned_text("handoff.yml")
    if existing is None or (force and existing != bundled):
        plan.write("handoff.yml", bundled, "written (local desk; see docs/desks or each desk's doc.md for the others)")
    else:
        plan.done.append("handoff.yml: kept" + ("" if existing == bundled else " (yours; --force replaces it)"))


def plan_checks(plan: Plan, apply: bool) -> None:
    for finding in checks.check_bot(plan.bot, plan.planned_text("handoff.yml")):
        if finding.ok:
            plan.done.append(f"{finding.file}: {finding.message}")
        elif apply and finding.new_text is not None:
            plan.write(finding.file, finding.new_text, f"added {finding.added}")
        else:
            plan.todo.append(_todo(finding, can_apply=finding.new_text is not None))


def _todo(finding: checks.Finding, can_apply: bool) -> str:
    text = f"{finding.file}: {finding.message}."
    if finding.snippet:
        text += " Add:\n" + "\n".join("      " + line for line in finding.snippet)
    if can_apply:
        text += "\n    (or run init again with --apply to add it)"
    return text


def make_plan(bot: Path, apply: bool, force: bool) -> Plan:
    plan = Plan(bot)
    plan_domain(plan, force)
    plan_data(plan, force)
    plan_handoff_config(plan, force)
    plan_checks(plan, apply)
    if plan.conflicts:
        # A half-merged bot is worse than an untouched one: write nothing until the conflicts are resolved.
        plan.changes = []
    return plan


# Files that hold passwords and tokens (a tracker store's, a channel's): their
# diffs show only the lines init adds, never the user's lines around them.
SECRET_BEARING = ("endpoints.yml", "credentials.yml")


def diff(change: Change, bot: Path) -> str:
    name = change.path.relative_to(bot).as_posix()
    before = (change.before or "").splitlines(keepends=True)
    after = change.after.splitlines(keepends=True)
    old = f"a/{name}" if change.before is not None else "/dev/null"
    context = 0 if name in SECRET_BEARING else 3
    return "".join(difflib.unified_diff(before, after, old, f"b/{name}", n=context))


def write(plan: Plan) -> None:
    for change in plan.changes:
        change.path.parent.mkdir(parents=True, exist_ok=True)
        # newline="" keeps the line endings the planned text has (the user's own).
        change.path.write_text(change.after, encoding="utf-8", newline="")


def report(plan: Plan, out: Out, dry_run: bool) -> None:
    for change in plan.changes:
        if dry_run:
            out(diff(change, plan.bot).rstrip("\n"))
        else:
            out(f"  {change.path.relative_to(plan.bot).as_posix()}: {change.summary}")
    for line in plan.done:
        out(f"  {line}")
    for title, items in (("Conflicts (nothing was written)", plan.conflicts), ("To do", plan.todo),
                         ("Notes", plan.notes)):
        if items:
            out(f"\n{title}:")
            for number, item in enumerate(items, start=1):
                out(f"  {number}. {item}")


NEXT_STEPS = (
    "\nThen: rasa data validate && rasa train; run the actions "
    "(python -m rasa_sdk --actions rasa_handoff_actions), the sidecar (rasa-handoff sidecar), "
    "and Rasa with --enable-api."
)


def run_init(bot: Path, apply: bool = False, dry_run: bool = False, force: bool = False, out: Out = print) -> int:
    """0 when the bot is ready for handoff (and a dry run would change nothing); 1 when something is left."""
    if bot.exists() and not bot.is_dir():
        out(f"rasa-handoff init: {bot} is a file; give your bot's folder (where config.yml is).")
        return 2
    plan = make_plan(bot, apply, force)
    if dry_run:
        out(f"rasa-handoff init {bot} --dry-run: nothing written." + ("" if plan.changes else " No change needed."))
    else:
        write(plan)
        out(f"rasa-handoff init {bot}:")
    report(plan, out, dry_run)
    if not plan.conflicts and not plan.todo:
        out(NEXT_STEPS)
    left = plan.conflicts or plan.todo or (dry_run and plan.changes)
    return 1 if left else 0
