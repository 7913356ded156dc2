"""MkDocs hooks: the pages of the docs site that are generated, so they cannot drift.

- `desks/<name>.md`, one per installed connector (the registry's entry points,
  so a desk installed as a separate package gets its page too): the desk's own
  setup page, `doc.md` in its folder, followed by the reference of its
  `connectors.<name>` section, generated from its settings model.
- `desks/index.md`: the list of desks, with what each implements.
- In `configuration.md`, the marker `<!-- generated: configuration reference -->`
  becomes every key of handoff.yml, with its type, default and description,
  generated from the pydantic models of `handoff_connectors.core.config`.

Links that leave the docs folder (to the code, tests, a desk's folder) become
the repository path in code type: the site is read apart from the repository.
"""

from __future__ import annotations

import inspect
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from handoff_connectors.core import contract
from handoff_connectors.core.config import HandoffConfig
from handoff_connectors.registry import connector_class, connector_names

CONFIG_MARKER = "<!-- generated: configuration reference -->"
DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
PARTS = ("TakesWebhooks", "HasEventSources", "FetchesTokens", "ServesRoutes", "ReportsAvailability", "HostsTheBot")


# -- the reference of a pydantic model -------------------------------------------------


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        shown = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(shown) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}" if args else "map"
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(args[0])
    if annotation is SecretStr:
        return "secret"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return "section"
    name = getattr(annotation, "__name__", str(annotation))
    return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(name, name)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except Exception:
            return "computed"
    else:
        value = field.default
    if value is PydanticUndefined or value is None:
        return "none"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, (dict, list)) and not value:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _model_of(annotation: Any) -> Optional[type[BaseModel]]:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
        for inner in typing.get_args(candidate):
            if inspect.isclass(inner) and issubclass(inner, BaseModel):
                return inner
    return None


def _row_type(key: str, field: FieldInfo) -> str:
    if key == "connectors":
        return "map of desk name to its section"
    return _type_name(field.annotation)


def model_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every field of `model`, nested sections flattened."""
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        nested = _model_of(field.annotation)
        is_list = typing.get_origin(field.annotation) is list or list in [typing.get_origin(a) for a in typing.get_args(field.annotation)]
        rows.append((key, _row_type(key, field), _default(field), (field.description or "").replace("\n", " ")))
        if nested is not None:
            rows += model_rows(nested, f"{key}[]." if is_list else f"{key}.")
    return rows


def reference_table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, kind, default, description in rows:
        lines.append(f"| `{key}` | {kind} | {default} | {description.replace('|', '&#124;')} |")
    return "\n".join(lines)


def configuration_reference() -> str:
    return reference_table(model_rows(HandoffConfig))


# -- desks -------------------------------------------------------------------------------


def desk_folder(name: str) -> Path:
    return Path(inspect.getfile(connector_class(name))).resolve().parent


def desk_parts(name: str) -> list[str]:
    desk = connector_class(name)
    return [part for part in PARTS if issubclass(desk, getattr(contract, part))]


def desk_page(name: str) -> str:
    doc = desk_folder(name) / "doc.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"# {name}\n\nThis desk has no setup page (doc.md).\n"
    settings = connector_class(name).Settings
    rows = model_rows(settings, prefix=f"connectors.{name}.")
    parts = ", ".join(f"`{p}`" for p in desk_parts(name)) or "the required contract only"
    return (
        f"{text.rstrip()}\n\n## Settings reference\n\n"
        f"Every key of `connectors.{name}` in handoff.yml, generated from the desk's settings model "
        f"(`{settings.__module__}.{settings.__qualname__}`). The connector implements {parts}.\n\n"
        f"{reference_table(rows)}\n"
    )


def _title(name: str) -> str:
    doc = desk_folder(name) / "doc.md"
    if doc.exists():
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return name


def desks_index() -> str:
    lines = [
        "# Desks",
        "",
        "Every installed desk, one page each: the steps in the desk's admin, the `connectors.<name>` section "
        "of handoff.yml, and what to expect. The pages are the `doc.md` of each desk's folder, and the settings "
        "tables are generated from the desk's settings model. A desk installed as a separate package appears "
        "here too ([write your own](../connectors.md)).",
        "",
        "| desk | `connector:` | parts of the contract it implements |",
        "| --- | --- | --- |",
    ]
    for name in connector_names():
        parts = ", ".join(f"`{p}`" for p in desk_parts(name)) or "—"
        lines.append(f"| [{_title(name)}]({name}.md) | `{name}` | {parts} |")
    return "\n".join(lines) + "\n"


# -- the hooks ---------------------------------------------------------------------------


def on_config(config, **kwargs):
    """Fill the Desks section of the navigation with the installed desks."""
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Desks" in entry:
            entry["Desks"] = ["desks/index.md", *[{_title(n): f"desks/{n}.md"} for n in connector_names()]]
    return config


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    files.append(File.generated(config, "desks/index.md", content=desks_index()))
    for name in connector_names():
        files.append(File.generated(config, f"desks/{name}.md", content=desk_page(name)))
    return files


_LINK = re.compile(r"(!?)\[([^\]]*)\]\((?!https?://|#|mailto:)([^)\s]+)\)")


def _rewrite(match: re.Match, base: Path, page_dir: Path) -> str:
    """A relative link of a page whose links are relative to `base`, as the site can show it.

    Inside docs/ (a page, an image): made relative to where the page is
    served from. Anywhere else (code, a folder, a test): the repository path,
    in code type, since the site is read apart from the repository.
    """
    bang, label, target = match.groups()
    path, _, anchor = target.partition("#")
    resolved = (base / path).resolve()
    if not resolved.exists():
        return match.group(0)  # left for mkdocs to report: a broken link fails the strict build
    if resolved.is_file() and resolved.is_relative_to(DOCS):
        relative = Path(os.path.relpath(resolved, page_dir)).as_posix()
        return f"{bang}[{label}]({relative}{'#' + anchor if anchor else ''})"
    shown = resolved.relative_to(REPO).as_posix() if resolved.is_relative_to(REPO) else path
    if resolved.is_dir():
        shown += "/"
    return f"{label} (`{shown}`)" if label else f"`{shown}`"


def on_page_markdown(markdown: str, page, config, files, **kwargs):
    if CONFIG_MARKER in markdown:
        markdown = markdown.replace(CONFIG_MARKER, configuration_reference())
    src = page.file.src_uri
    page_dir = (DOCS / src).parent
    base = page_dir
    if src.startswith("desks/") and src != "desks/index.md":
        # A desk's page comes from its folder: its relative links are relative to that folder.
        base = desk_folder(src[len("desks/"):-len(".md")])
    return _LINK.sub(lambda m: _rewrite(m, base, page_dir), markdown)
