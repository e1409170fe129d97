"""Read YAML while remembering the line of every value.

PyYAML's composer keeps a position on every node; we build plain data from
the node tree ourselves so that each value's path maps to its line, and so
that a key written twice in one mapping is reported instead of silently
overwriting the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from service.engine.model import Path
from service.ruleset.issues import Issue, render_path

# libyaml's parser when PyYAML has it (5-10 times faster), the Python one otherwise;
# both give every node its line.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Located:
    """Parsed YAML data plus the line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)


def parse(text: str, file: str) -> tuple[Located | None, list[Issue]]:
    """Parse one YAML document; return the data with lines, or the syntax issues."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or "invalid YAML"
        return None, [Issue(file, line, f"YAML syntax error: {problem}")]
    except yaml.YAMLError as exc:
        return None, [Issue(file, 1, f"YAML syntax error: {exc}")]
    finally:
        loader.dispose()
    if node is None:
        return Located(None, {(): 1}), []
    located = Located(None)
    issues: list[Issue] = []
    located.data = _build(node, (), located.lines, issues, file, loader)
    return located, issues


def _build(
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    issues: list[Issue],
    file: str,
    loader: yaml.SafeLoader | yaml.CSafeLoader,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                issues.append(Issue(file, key_node.start_mark.line + 1, "keys must be plain text"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                issues.append(
                    Issue(
                        file,
                        key_node.start_mark.line + 1,
                        f'"{key}" is written twice in the same mapping; the second would '
                        "silently replace the first",
                        where=render_path(path),
                    )
                )
                continue
            result[key] = _build(value_node, (*path, key), lines, issues, file, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), lines, issues, file, loader)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
