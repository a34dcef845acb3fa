"""MkDocs hook: the HTTP API reference, rendered at build time from the service's OpenAPI document.

``docs/api.md`` holds a marker that this hook replaces with Markdown built from
``service.api.openapi.build_spec()`` — the same function that serves ``/openapi.json`` — and the
document itself is added to the site as ``openapi.json``. Nothing is fetched: no app is
started, no network is used, and the reference cannot drift from the code.
"""

from __future__ import annotations

import html
import json
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from service.api.openapi import build_spec

PAGE = "api.md"
MARKER = "<!-- openapi-reference -->"
_METHODS = ("get", "post", "put", "patch", "delete")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Publish the OpenAPI document beside the pages."""
    content = json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n"
    files.append(File.generated(config, "openapi.json", content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Put the rendered reference where ``docs/api.md`` has the marker."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost its {MARKER} marker: the API reference has no place")
    return markdown.replace(MARKER, render(build_spec()))


def render(spec: dict[str, Any]) -> str:
    """The operations, then the schemas, as Markdown."""
    lines = ["### Operations", ""]
    for path, operations in spec["paths"].items():
        for method in _METHODS:
            if method in operations:
                lines += _operation(method, path, operations[method])
    lines += ["### Schemas", ""]
    for name, schema in spec["components"]["schemas"].items():
        lines += _schema(name, schema)
    return "\n".join(lines)


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"#### {method.upper()} {path}", ""]
    if operation.get("summary"):
        lines += [_text(operation["summary"]).rstrip(".") + ".", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | required | value |", "|---|---|---|---|"]
        for parameter in parameters:
            value = _type(parameter.get("schema", {}))
            if parameter.get("description"):
                value += " — " + _text(parameter["description"])
            required = "yes" if parameter.get("required") else "no"
            lines.append(
                f"| {_code(parameter['name'])} | {parameter['in']} | {required} | {value} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        kinds = ", ".join(
            f"{_code(media)}: {_type(content.get('schema', {}))}"
            for media, content in body["content"].items()
        )
        lines += [f"Body ({'required' if body.get('required') else 'optional'}): {kinds}.", ""]
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        shown = ", ".join(
            f"{_code(media)} {_type(item.get('schema', {}))}" for media, item in content.items()
        )
        lines.append(f"| {status} | {_text(response.get('description', ''))} | {shown} |")
    lines.append("")
    return lines


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"#### {name} {{#schema-{name.lower()}}}", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
    for field, prop in schema.get("properties", {}).items():
        meaning = _text(prop.get("description", ""))
        flag = "yes" if field in required else "no"
        lines.append(f"| {_code(field)} | {_type(prop)} | {flag} | {meaning} |")
    if schema.get("additionalProperties") is False:
        lines += ["", "No other fields are accepted."]
    lines.append("")
    return lines


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: its type, format and constraints."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name.lower()})"
    kind = schema.get("type", "any")
    nullable = bool(schema.get("nullable"))
    if isinstance(kind, list):  # OpenAPI 3.1 writes "or null" as a list of types
        nullable = nullable or "null" in kind
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else " or ".join(kinds) or "null"
    if kind == "array":
        text = "array of " + _type(schema.get("items", {}))
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = "map of " + _type(schema["additionalProperties"])
    else:
        text = kind
    if "format" in schema:
        text += f" ({schema['format']})"
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(_code(str(v)) for v in schema["enum"]))
    if "minLength" in schema or "maxLength" in schema:
        notes.append(f"length {schema.get('minLength', 0)}–{schema.get('maxLength', '…')}")
    if "pattern" in schema:
        notes.append("matching " + _code(schema["pattern"]))
    if nullable:
        notes.append("or null")
    return text + (": " + "; ".join(notes) if notes else "")


def _text(text: str) -> str:
    """Prose from the document: escaped (a summary may name a <script> tag), one cell."""
    return _cell(html.escape(text, quote=False))


def _cell(text: str) -> str:
    """Text that stays inside one table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span that stays inside one table cell, whatever the text holds."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"
