"""Put rasa-handoff's domain into a bot's domain, keeping the user's file theirs.

Rasa reads one `domain.yml` by default (`rasa init` makes one), or a folder
with `--domain domain`. Into a single file the handoff items are merged as
text (see yamltext): appended to the user's sections, indented like their
items, with the comments the bundle has for them. A name the bot already uses
for something else (a slot of another type, a different `handoff_loop` form)
is reported and left alone: overwriting it would break the user's bot, and
skipping it silently would break the handoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from . import yamltext

# The handoff domain's sections, in the order new ones are appended.
SECTIONS = ("intents", "entities", "slots", "forms", "actions")
# Sections whose items are lists of names: a name present means the same thing.
NAME_LISTS = ("intents", "entities", "actions")
DEFAULT_INDENT = 2


@dataclass
class DomainMerge:
    text: str
    added: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Bundle:
    """The handoff domain: each section's items as text blocks and as values."""

    lines: list[str]
    nodes: dict[str, tuple[Node, Node]]
    values: dict[str, Any]

    @classmethod
    def parse(cls, text: str) -> "_Bundle":
        return cls(text.splitlines(), yamltext.top_level(yamltext.compose(text)), yaml.safe_load(text))

    def blocks(self, section: str) -> dict[str, list[str]]:
        key, value = self.nodes[section]
        return yamltext.item_blocks(self.lines, value, key.start_mark.line)

    def column(self, section: str) -> int:
        return yamltext.child_column(self.nodes[section][1])

    def section_text(self, section: str) -> list[str]:
        """The whole section, with the comment lines just above its key."""
        key, value = self.nodes[section]
        start = key.start_mark.line
        while start > 0 and self.lines[start - 1].lstrip().startswith("#"):
            start -= 1
        return self.lines[start : yamltext.last_line(value) + 1]

    def items(self, section: str) -> dict[str, Any]:
        return _items(self.values.get(section))


def _items(section_value: Any) -> dict[str, Any]:
    """Name -> definition of a section's items (None for a bare name in a list)."""
    if isinstance(section_value, dict):
        return dict(section_value)
    found: dict[str, Any] = {}
    for item in section_value or []:
        if isinstance(item, str):
            found[item] = None
        elif isinstance(item, dict) and len(item) == 1:
            found.update(item)
    return found


def _conflict(section: str, name: str, where: str, block: list[str]) -> str:
    needed = "\n".join("    " + line for line in yamltext.shifted(block, -_indent_of(block)))
    return (
        f"{where}: {section}.{name} is already defined, differently from rasa-handoff's. "
        f"rasa-handoff needs:\n{needed}\n  Rename yours (and where the bot uses it), or make it match."
    )


def _indent_of(block: list[str]) -> int:
    return min(len(line) - len(line.lstrip(" ")) for line in block if line.strip())


def conflicts_with(existing: dict[str, Any], bundle_text: str, where: str) -> tuple[list[str], bool]:
    """Conflicts of an existing domain (section -> value) with the bundle, and whether it lacks anything."""
    bundle = _Bundle.parse(bundle_text)
    conflicts, lacking = [], False
    for section in SECTIONS:
        theirs, blocks = _items(existing.get(section)), bundle.blocks(section)
        for name, definition in bundle.items(section).items():
            if name not in theirs:
                lacking = True
            elif section not in NAME_LISTS and theirs[name] != definition:
                conflicts.append(_conflict(section, name, where, blocks[name]))
    return conflicts, lacking


def merge_domain(user_text: str, bundle_text: str, where: str = "domain.yml") -> DomainMerge:
    """The user's domain with the handoff items added; conflicts reported, never overwritten."""
    root = yamltext.compose(user_text)
    if root is not None and not isinstance(root, MappingNode):
        return DomainMerge(user_text, conflicts=[f"{where} is not a YAML mapping of sections; fix it, then run init again."])
    values = yaml.safe_load(user_text) or {}
    bundle = _Bundle.parse(bundle_text)
    conflicts, _ = conflicts_with(values, bundle_text, where)
    merge = DomainMerge(user_text, conflicts=conflicts)
    first_merge = any(name not in _items(values.get(s)) for s in SECTIONS for name in bundle.items(s))
    # Only on the first merge: afterwards the action_session_start listed is the one init added.
    if first_merge and "action_session_start" in _items(values.get("actions")):
        merge.notes.append(
            f"{where} already lists action_session_start: if it is your own action, make it subclass "
            "rasa_handoff_actions.HandoffSessionStart (it restores a live handoff after session expiry)."
        )
    edit = yamltext.TextEdit.of(user_text)
    sections = yamltext.top_level(root)
    for section in SECTIONS:
        missing = [name for name in bundle.items(section) if name not in _items(values.get(section))]
        if not missing:
            continue
        if section not in sections:
            edit.append(bundle.section_text(section))
            merge.added += [f"{section}: {name}" for name in missing]
        elif _extend(edit, sections[section], bundle, section, missing, merge, where):
            merge.added += [f"{section}: {name}" for name in missing]
    merge.text = edit.text(yamltext.newline_of(user_text)) if edit.changed else user_text
    return merge


def _extend(
    edit: yamltext.TextEdit, found: tuple[Node, Node], bundle: _Bundle, section: str,
    missing: list[str], merge: DomainMerge, where: str,
) -> bool:
    """Add the missing items to the user's section; False (and a conflict) when it cannot be extended."""
    key, value = found
    blocks = bundle.blocks(section)
    wanted = MappingNode if isinstance(bundle.nodes[section][1], MappingNode) else SequenceNode
    if _is_null(value):
        column, after = DEFAULT_INDENT, key.start_mark.line
    elif isinstance(value, wanted) and not value.flow_style:
        column, after = yamltext.child_column(value), yamltext.last_line(value)
    else:
        needed = "\n".join("    " + line for name in missing for line in blocks[name])
        merge.conflicts.append(
            f"{where}: `{section}` is written in a form init cannot extend (flow style or not a "
            f"{'mapping' if wanted is MappingNode else 'list'}). Add these items yourself:\n{needed}"
        )
        return False
    shift = column - bundle.column(section)
    # A marker, so the user sees in their own file what init added, and why.
    marker = " " * column + "# rasa-handoff (added by rasa-handoff init)"
    edit.insert_after(after, [marker] + [line for name in missing for line in yamltext.shifted(blocks[name], shift)])
    return True


def _is_null(node: Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def folder_domain(files: dict[str, str], bundle_text: str) -> tuple[list[str], bool]:
    """Conflicts of a domain folder's files (name -> text) with the bundle, and whether they lack anything."""
    merged: dict[str, Any] = {}
    for name, text in sorted(files.items()):
        values = yaml.safe_load(text) or {}
        if not isinstance(values, dict):
            continue
        for section in SECTIONS:
            if section in values:
                combined = _items(merged.get(section))
                combined.update(_items(values[section]))
                merged[section] = combined
    return conflicts_with(merged, bundle_text, "your domain folder")
