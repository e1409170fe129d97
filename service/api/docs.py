"""GET /docs: a readable API reference, rendered on the server from the OpenAPI document."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, render_template
from markupsafe import Markup, escape

from service.api.ops import html_page

bp = Blueprint("docs", __name__, template_folder="templates")

METHODS = ("get", "put", "post", "patch", "delete")
REF = "#/components/schemas/"
# Resources whose paths do not start with their name, and paths outside /v1.
GROUP_OF = {"webhook-deliveries": "webhooks", "stats": "operations", "timers": "operations"}
SERVICE = "service"


@dataclass(frozen=True)
class TypeLabel:
    """A schema's type in words, with the component it names, if any."""

    text: str
    ref: str | None = None


@dataclass(frozen=True)
class Field:
    """A parameter or a property."""

    name: str
    type: TypeLabel
    required: bool
    description: str
    where: str = ""
    enum: tuple[str, ...] = ()
    example: str | None = None


@dataclass(frozen=True)
class Body:
    """A request or response body: its media type, its schema and any example."""

    media_type: str
    type: TypeLabel
    example: str | None = None


@dataclass(frozen=True)
class Answer:
    """One documented response of an operation."""

    status: str
    description: str
    bodies: tuple[Body, ...]

    @property
    def is_error(self) -> bool:
        """Tell whether the status is 4xx or 5xx."""
        return self.status[:1] in ("4", "5")


@dataclass(frozen=True)
class Operation:
    """One method on one path."""

    method: str
    path: str
    anchor: str
    summary: str
    description: str
    parameters: tuple[Field, ...]
    request: tuple[Body, ...]
    request_required: bool
    responses: tuple[Answer, ...]
    security: tuple[str, ...]


@dataclass(frozen=True)
class Component:
    """A named schema of the document."""

    name: str
    description: str
    properties: tuple[Field, ...]
    type: TypeLabel


@dataclass
class Group:
    """Operations of one resource."""

    name: str
    operations: list[Operation] = field(default_factory=list)


def type_label(schema: dict[str, Any] | None) -> TypeLabel:
    """Describe a schema in a few words, naming the component it refers to."""
    if not schema:
        return TypeLabel("any")
    if "$ref" in schema:
        ref = str(schema["$ref"])
        return TypeLabel("", ref.removeprefix(REF)) if ref.startswith(REF) else TypeLabel(ref)
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            return type_label(schema[combined][0])
    kind = schema.get("type", "any")
    nullable = " or null" if schema.get("nullable") else ""
    if kind == "array":
        inner = type_label(schema.get("items"))
        return TypeLabel(f"array of {inner.text}".rstrip() + nullable, inner.ref)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = type_label(schema["additionalProperties"])
        return TypeLabel(f"object of {inner.text}".rstrip() + nullable, inner.ref)
    if schema.get("format"):
        return TypeLabel(f"{kind} ({schema['format']}){nullable}")
    return TypeLabel(f"{kind}{nullable}")


def _example(holder: dict[str, Any]) -> str | None:
    if "example" in holder:
        return json.dumps(holder["example"], indent=2, ensure_ascii=False)
    examples = holder.get("examples")
    if isinstance(examples, dict) and examples:
        first = next(iter(examples.values()))
        value = first.get("value", first) if isinstance(first, dict) else first
        return json.dumps(value, indent=2, ensure_ascii=False)
    return None


def _bodies(content: dict[str, Any] | None) -> tuple[Body, ...]:
    return tuple(
        Body(media_type, type_label(media.get("schema")), _example(media))
        for media_type, media in (content or {}).items()
    )


def _parameter(parameter: dict[str, Any]) -> Field:
    schema = parameter.get("schema") or {}
    return Field(
        name=str(parameter.get("name", "")),
        type=type_label(schema),
        required=bool(parameter.get("required")),
        description=str(parameter.get("description", "")),
        where=str(parameter.get("in", "")),
        enum=tuple(str(v) for v in schema.get("enum", ())),
        example=_example(parameter) or _example(schema),
    )


def group_name(path: str, operation: dict[str, Any]) -> str:
    """Return the operation's first tag, else the resource its path names."""
    tags = operation.get("tags")
    if tags:
        return str(tags[0])
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "v1":
        return SERVICE
    return GROUP_OF.get(parts[1], parts[1])


def anchor(*parts: str) -> str:
    """Return an HTML id made of the parts: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def operations(spec: dict[str, Any]) -> list[Group]:
    """Return the document's operations grouped by tag, in the document's order."""
    groups: dict[str, Group] = {}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody") or {}
            found = Operation(
                method=method.upper(),
                path=path,
                anchor=anchor("op", method, path),
                summary=str(op.get("summary", "")),
                description=str(op.get("description", "")),
                parameters=tuple(_parameter(p) for p in [*shared, *op.get("parameters", [])]),
                request=_bodies(body.get("content")),
                request_required=bool(body.get("required")),
                responses=tuple(
                    Answer(str(status), str(r.get("description", "")), _bodies(r.get("content")))
                    for status, r in sorted(op.get("responses", {}).items())
                ),
                security=tuple(
                    f"{name}: {', '.join(scopes)}" if scopes else name
                    for requirement in op.get("security", spec.get("security", []))
                    for name, scopes in requirement.items()
                ),
            )
            name = group_name(path, op)
            groups.setdefault(name, Group(name)).operations.append(found)
    # The service's own endpoints (health, the document itself) come last.
    return sorted(groups.values(), key=lambda g: g.name == SERVICE)


def components(spec: dict[str, Any]) -> list[Component]:
    """Return the document's schemas with their properties, by name."""
    found = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", ()))
        found.append(
            Component(
                name=name,
                description=str(schema.get("description", "")),
                type=type_label({k: v for k, v in schema.items() if k != "properties"}),
                properties=tuple(
                    Field(
                        name=prop,
                        type=type_label(value),
                        required=prop in required,
                        description=str(value.get("description", "")),
                        enum=tuple(str(v) for v in value.get("enum", ())),
                        example=_example(value),
                    )
                    for prop, value in schema.get("properties", {}).items()
                ),
            )
        )
    return found


CODE = re.compile(r"`([^`]+)`")


def prose(text: str) -> Markup:
    """Render a description: paragraphs, "- " lists and `code`, everything else escaped."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif block:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("".join(blocks))


def _inline(text: str) -> str:
    return CODE.sub(r"<code>\1</code>", str(escape(text)))


@bp.get("/docs")
def docs_page() -> Response:
    """Return the API reference: operations by resource, their parameters, bodies and errors."""
    spec: dict[str, Any] = current_app.extensions["openapi"]
    html = render_template(
        "pages/docs.html",
        info=spec.get("info", {}),
        groups=operations(spec),
        schemas=components(spec),
        prose=prose,
    )
    return html_page(html)
