"""Layering rules: packages import downwards only, and only the edges import Flask and durable-rules.

docs/architecture.md explains the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "service").rglob("*.py"), *(ROOT / "schemas").rglob("*.py")])

# Lowest first.  A package is a subpackage of service/ (service.engine), a module right
# under service/ (service.policy), the app factory (service itself) or schemas.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "foundation",
        frozenset(
            {
                "service.hints",
                "service.config",
                "service.masking",
                "service.metrics",
                "service.logs",
                "service.jsonwire",
            }
        ),
    ),
    ("domain", frozenset({"service.engine", "service.cases"})),
    ("signals", frozenset({"service.signals"})),
    ("schemas", frozenset({"schemas"})),
    ("rule set", frozenset({"service.ruleset"})),
    ("storage", frozenset({"service.store"})),
    ("policy", frozenset({"service.policy"})),
    (
        "decisions",
        frozenset(
            {
                "service.decide",
                "service.decision_log",
                "service.ingest",
                "service.ruletests",
                "service.replay",
                "service.activation",
                "service.lint",
                "service.timers",
                "service.claimer",
                "service.webhooks",
                "service.keys",
                "service.retention",
            }
        ),
    ),
    (
        "interfaces",
        frozenset(
            {
                "service.api",
                "service.asgi",
                "service.fairloop",
                "service.cli",
                "service",
                "service.__main__",
            }
        ),
    ),
)
LAYER_OF = {package: index for index, (_, packages) in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path) -> Iterator[str]:
    """Yield every project module ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                # "from service import decide" imports the module service.decide.
                sub = f"{module}.{alias.name}"
                yield sub if is_module(sub) else module


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "schemas":
        return "schemas"
    if parts[0] != "service":
        return None
    return ".".join(parts[:2])


def dependencies() -> dict[str, set[tuple[str, str]]]:
    """Return, for every package, the (module, imported module) pairs that leave it."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in SOURCES:
        source = module_name(path)
        package = package_of(source)
        assert package is not None
        found.setdefault(package, set())
        for target in imports(path):
            other = package_of(target)
            if other is not None and other != package:
                found[package].add((source, target))
    return found


def test_every_package_has_a_layer() -> None:
    assert sorted(set(dependencies()) - set(LAYER_OF)) == []


def test_packages_import_only_their_own_layer_or_lower_ones() -> None:
    upward = [
        f"{source} ({LAYERS[LAYER_OF[package]][0]}) imports {target} "
        f"({LAYERS[LAYER_OF[str(package_of(target))]][0]})"
        for package, pairs in dependencies().items()
        for source, target in sorted(pairs)
        if LAYER_OF.get(str(package_of(target)), -1) > LAYER_OF.get(package, len(LAYERS))
    ]
    assert upward == []


def test_no_two_packages_import_each_other_even_indirectly() -> None:
    graph = {
        package: {str(package_of(target)) for _, target in pairs}
        for package, pairs in dependencies().items()
    }

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph.get(start, ()))
        while todo:
            package = todo.pop()
            if package not in seen:
                seen.add(package)
                todo.extend(graph.get(package, ()))
        return seen

    cycles = sorted(p for p in graph if p in reachable(p))
    assert cycles == []


def test_the_import_reader_sees_imports_inside_functions_and_submodules(tmp_path: Path) -> None:
    # The checks above are only as good as this reader: prove it on known cases.
    path = ROOT / "service" / "__init__.py"
    found = set(imports(path))
    assert "service.policy" in found  # imported inside create_app
    assert "service.config" in found  # "from service import config as settings"
    assert package_of("schemas.rules") == "schemas"
    assert package_of("service.ruleset.loader") == "service.ruleset"


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
