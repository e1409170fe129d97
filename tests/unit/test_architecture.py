"""Layering rules: only the HTTP layer imports Flask; only the engine backend imports durable-rules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "service").rglob("*.py"), *(ROOT / "schemas").rglob("*.py")])


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_http_layer_and_the_factory_import_flask() -> None:
    allowed = {ROOT / "service" / "__init__.py", *(ROOT / "service" / "api").glob("*.py")}
    offenders = [
        p.relative_to(ROOT)
        for p in SOURCES
        if {"flask", "werkzeug"} & imported(p) and p not in allowed
    ]
    assert offenders == []


def test_only_the_backend_imports_durable_rules() -> None:
    users = [
        p.relative_to(ROOT) for p in SOURCES if {"durable", "durable_rules_engine"} & imported(p)
    ]
    assert [str(p) for p in users] == ["service/engine/durable_backend.py"]


def test_the_engine_does_not_depend_on_storage_or_http() -> None:
    for path in (ROOT / "service" / "engine").glob("*.py"):
        modules = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        froms = {n.module for n in modules if isinstance(n, ast.ImportFrom) and n.module}
        assert not {
            m for m in froms if m.startswith(("service.store", "service.api", "sqlalchemy"))
        }, path
