"""Hold a fake desk's requests and answers to the desk's own OpenAPI description.

Several desks publish an OpenAPI 3.0 description of their API (Intercom,
Sunshine Conversations, Chatwoot, Twilio). A fake of such a desk loads it
with `load_openapi(path, desk=...)` and asks, for every request the
connector sends:

- `operation(method, path)`: does the operation exist (a path template and
  method of the description)? None when it does not;
- `request_errors(template, method, body)`: does the JSON body validate
  against the operation's requestBody schema (every `$ref` resolved, Draft 4
  rules as OpenAPI 3.0 uses, `nullable` honoured)?
- `form_errors(template, method, form)`: the same for a form-encoded body
  (`application/x-www-form-urlencoded`, Twilio's), with the strings of the
  form read as the schema's types and unknown fields reported;
- `response_errors(...)` for what the fake answers, and `example(...)` to
  start an answer from the description's own example.

The description is read at run time from where the caller says (for the
built-in desks, ../shared/reference next to the repository) and never
copied: `load_openapi` skips the test, saying why, when the file is absent.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pytest

_METHODS = ("get", "post", "put", "delete", "patch", "head")


def _to_json_schema(node: Any, uri: str) -> Any:
    """OpenAPI 3.0 schema dialect -> JSON Schema (Draft 4): refs made absolute, `nullable` honoured."""
    if isinstance(node, list):
        return [_to_json_schema(item, uri) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value, uri) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        out["$ref"] = uri + ref
    if out.get("nullable") is True:
        if "$ref" in out:
            # In Draft 4 a $ref's siblings are ignored: say "this, or null" explicitly.
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        for combinator in ("oneOf", "anyOf"):
            if isinstance(out.get(combinator), list):
                out[combinator] = [*out[combinator], {"type": "null"}]
    return out


class OpenApiSpec:
    """The operations of one OpenAPI 3.0 description, with validators for bodies."""

    def __init__(self, raw: dict[str, Any], uri: str = "urn:openapi") -> None:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.raw = raw
        self.uri = uri
        self.version = str(raw.get("info", {}).get("version", ""))
        converted = _to_json_schema(raw, uri)
        self._registry = Registry().with_resource(uri, Resource.from_contents(converted, default_specification=DRAFT4))
        self._validator_class = jsonschema.Draft4Validator
        self._routes: list[tuple[re.Pattern, str, str]] = []
        for template, operations in raw.get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$")
            for method in operations:
                if method in _METHODS:
                    self._routes.append((pattern, method.upper(), template))
        # Literal paths before templated ones (/contacts/search before /contacts/{id}).
        self._routes.sort(key=lambda route: route[2].count("{"))

    # -- operations -----------------------------------------------------------

    def operation(self, method: str, path: str) -> Optional[tuple[str, dict]]:
        """(path template, operation) of a request, or None when the description has no such operation."""
        for pattern, route_method, template in self._routes:
            if route_method == method.upper() and pattern.match(path):
                return template, self.raw["paths"][template][method.lower()]
        return None

    def parameters(self, template: str, method: str) -> list[dict]:
        """The operation's parameters (path-level ones too), `$ref`s followed."""
        found = [*self.raw["paths"][template].get("parameters", []), *self._op(template, method).get("parameters", [])]
        return [self.resolve(p) for p in found]

    def query_errors(self, template: str, method: str, query: Mapping[str, Any]) -> list[str]:
        """Unknown query parameters, and required ones missing."""
        known = {p["name"]: p for p in self.parameters(template, method) if p.get("in") == "query"}
        problems = [f"query {name}: not a parameter of the operation" for name in query if name not in known]
        problems += [f"query {name}: required" for name, p in known.items() if p.get("required") and name not in query]
        return problems

    # -- bodies ---------------------------------------------------------------

    def request_errors(self, template: str, method: str, body: Any) -> list[str]:
        """What is wrong with a JSON request body (None: no body was sent)."""
        request_body = self.resolve(self._op(template, method).get("requestBody"))
        if request_body is None:
            return [] if body is None else ["the operation takes no request body"]
        if body is None:
            return ["the operation needs a request body"] if request_body.get("required") else []
        if "application/json" not in request_body.get("content", {}):
            return ["the operation takes no JSON body"]
        return self._errors(self._body_pointer(template, method, "application/json"), body)

    def form_errors(self, template: str, method: str, form: Mapping[str, Sequence[str]]) -> list[str]:
        """What is wrong with a form-encoded request body (each field's values, in order)."""
        request_body = self.resolve(self._op(template, method).get("requestBody"))
        content_type = "application/x-www-form-urlencoded"
        if request_body is None or content_type not in request_body.get("content", {}):
            return [] if not form else ["the operation takes no form body"]
        schema = self.resolve(request_body["content"][content_type].get("schema", {}))
        properties = schema.get("properties", {})
        problems = [f"{name}: not a field of the operation" for name in form if name not in properties]
        typed = {name: _form_value(values, self.resolve(properties[name])) for name, values in form.items() if name in properties}
        return problems + self._errors(self._body_pointer(template, method, content_type), typed)

    def response_errors(self, template: str, method: str, status: int, body: Any) -> list[str]:
        """What is wrong with an answer the fake gives (errors the spec does not describe pass)."""
        responses = self._op(template, method)["responses"]
        if str(status) not in responses:
            return [] if status >= 400 else [f"the spec documents no {status} answer"]
        content = self.resolve(responses[str(status)]).get("content", {}).get("application/json")
        if not content or "schema" not in content:
            return []
        pointer = self._pointer("paths", template, method.lower(), "responses", str(status), "content", "application/json", "schema")
        if "$ref" in responses[str(status)]:
            ref = responses[str(status)]["$ref"][2:].split("/")
            pointer = self._pointer(*ref, "content", "application/json", "schema")
        return self._errors(pointer, body)

    def schema_errors(self, schema_name: str, instance: Any) -> list[str]:
        """What is wrong with `instance` as the named component schema (a webhook payload, say)."""
        return self._errors(self._pointer("components", "schemas", schema_name), instance)

    def example(self, template: str, method: str, status: int = 200, name: Optional[str] = None) -> Any:
        """A copy of the description's example answer (the named one, else the first)."""
        content = self.resolve(self._op(template, method)["responses"][str(status)])["content"]["application/json"]
        if "example" in content and name is None:
            return copy.deepcopy(content["example"])
        examples = content.get("examples") or {}
        chosen = self.resolve(examples[name] if name else next(iter(examples.values())))
        return copy.deepcopy(chosen["value"])

    def schema(self, name: str) -> dict:
        return self.raw["components"]["schemas"][name]

    def resolve(self, node: Any) -> Any:
        """Follow a local `$ref` (repeatedly) to what it names."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Any = self.raw
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    # -- internals --------------------------------------------------------------

    def _op(self, template: str, method: str) -> dict:
        return self.raw["paths"][template][method.lower()]

    def _body_pointer(self, template: str, method: str, content_type: str) -> str:
        request_body = self._op(template, method)["requestBody"]
        if "$ref" in request_body:
            return self._pointer(*request_body["$ref"][2:].split("/"), "content", content_type, "schema")
        return self._pointer("paths", template, method.lower(), "requestBody", "content", content_type, "schema")

    def _pointer(self, *parts: str) -> str:
        return self.uri + "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)

    def _errors(self, pointer: str, instance: Any) -> list[str]:
        from jsonschema.exceptions import best_match

        validator = self._validator_class({"$ref": pointer}, registry=self._registry)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        described = []
        for error in found:
            text = f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:300]}"
            if error.context:
                # A oneOf/anyOf miss: name the closest alternative's complaint.
                closest = best_match(error.context)
                text += f" (closest: {'/'.join(map(str, closest.absolute_path)) or '(body)'}: {closest.message[:200]})"
            described.append(text)
        return described


def _form_value(values: Sequence[str], schema: dict) -> Any:
    """A form field's strings as the schema's type (a repeated field is an array)."""
    kind = schema.get("type")
    if kind == "array":
        return [_scalar(v, schema.get("items", {})) for v in values]
    return _scalar(values[-1], schema) if values else None


def _scalar(value: str, schema: dict) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value  # left a string: the validator names the field
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "object":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@functools.lru_cache(maxsize=8)
def _load(path: str, uri: str) -> OpenApiSpec:
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".json"):
            raw = json.load(handle)
        else:
            import yaml

            raw = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return OpenApiSpec(raw, uri)


def load_openapi(path: Path, desk: str) -> OpenApiSpec:
    """The desk's OpenAPI description at `path` (loaded once per run), or a skipped test saying what is missing."""
    if not path.exists():
        pytest.skip(f"{desk}'s OpenAPI description is not at {path.resolve()}; the tests held to it need it")
    pytest.importorskip("jsonschema", reason=f"the fake {desk} validates requests with jsonschema (the `test` extra)")
    return _load(str(path.resolve()), f"urn:openapi:{desk.lower().replace(' ', '-')}")


def shared_reference(*parts: str) -> Path:
    """A file of ../shared/reference next to this repository (the public specs the built-in desks' fakes follow)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "reference" / Path(*parts)
