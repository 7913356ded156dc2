"""Edit a YAML file as text, guided by where PyYAML says each node is.

A bot's `domain.yml` or `config.yml` is the user's file: its comments, order,
indentation and quoting are theirs. Loading and dumping it (even with a
round-trip loader) re-indents whole blocks when one file mixes styles, as
`rasa init`'s domain does. So nothing here dumps the user's file: PyYAML's
`compose` gives each node's line, and new lines are inserted between the
user's, indented like the user's own items. Every other byte stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def compose(text: str) -> Optional[Node]:
    """The document's root node (None for a file of comments only)."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def top_level(root: Optional[Node]) -> dict[str, tuple[ScalarNode, Node]]:
    """Top-level key -> (key node, value node) of a mapping document."""
    if not isinstance(root, MappingNode):
        return {}
    return {key.value: (key, value) for key, value in root.value if isinstance(key, ScalarNode)}


def last_line(node: Node) -> int:
    """The last line (0-based) holding any of the node's text."""
    if isinstance(node, SequenceNode) and node.value and not node.flow_style:
        return last_line(node.value[-1])
    if isinstance(node, MappingNode) and node.value and not node.flow_style:
        return last_line(node.value[-1][1])
    end = node.end_mark
    # A block scalar (`|`) and an empty value end at column 0 of the line after.
    if end.column == 0 and end.line > node.start_mark.line:
        return end.line - 1
    return end.line


def child_column(section: Node) -> int:
    """Where the section's items start: the `-` of a sequence, the first key of a mapping."""
    return section.start_mark.column


def named_items(section: Node) -> list[tuple[str, Node]]:
    """(name, node) per item: a list's `name` or `name: {...}` entries, a mapping's keys."""
    if isinstance(section, MappingNode):
        return [(key.value, value) for key, value in section.value if isinstance(key, ScalarNode)]
    if isinstance(section, SequenceNode):
        found = []
        for item in section.value:
            if isinstance(item, ScalarNode):
                found.append((item.value, item))
            elif isinstance(item, MappingNode) and len(item.value) == 1:
                found.append((item.value[0][0].value, item))
        return found
    return []


def item_blocks(lines: list[str], section: Node, section_key_line: int) -> dict[str, list[str]]:
    """Name -> the lines of that item, with the comment lines just above it.

    The comments above an item say what it is for, so they travel with it.
    """
    blocks: dict[str, list[str]] = {}
    previous_end = section_key_line
    for name, node in named_items(section):
        end = last_line(node)
        block = lines[previous_end + 1 : end + 1]
        while block and not block[0].strip():
            block.pop(0)
        blocks[name] = block
        previous_end = end
    return blocks


def shifted(block: list[str], by: int) -> list[str]:
    """The block moved `by` columns right (left when negative); blank lines stay blank."""
    moved = []
    for line in block:
        if not line.strip():
            moved.append("")
        elif by >= 0:
            moved.append(" " * by + line)
        else:
            cut = min(-by, len(line) - len(line.lstrip(" ")))
            moved.append(line[cut:])
    return moved


@dataclass
class TextEdit:
    """New lines for a text, each batch inserted after a 0-based line (-1: at the top)."""

    lines: list[str]
    inserts: list[tuple[int, list[str]]] = field(default_factory=list)
    # Appended after everything, including what is inserted after the last line.
    tail: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> "TextEdit":
        return cls(text.splitlines())

    def insert_after(self, line: int, new_lines: list[str]) -> None:
        self.inserts.append((line, new_lines))

    def append(self, new_lines: list[str]) -> None:
        """New lines at the end, after a blank line when the file does not end with one."""
        last = self.tail or self.lines
        separator = [""] if last and last[-1].strip() else []
        self.tail += separator + new_lines

    @property
    def changed(self) -> bool:
        return bool(self.inserts or self.tail)

    def text(self, newline: str = "\n") -> str:
        lines = list(self.lines)
        # From the bottom up, so the line numbers of the batches above stay right;
        # batches at the same line keep the order they were added in.
        ordered = sorted(enumerate(self.inserts), key=lambda pair: (-pair[1][0], -pair[0]))
        for _, (after, new_lines) in ordered:
            lines[after + 1 : after + 1] = new_lines
        if self.tail and lines and lines[-1].strip() and self.tail[0].strip():
            lines.append("")
        lines += self.tail
        return newline.join(lines) + newline if lines else ""


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"
