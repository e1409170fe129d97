"""Read YAML while remembering the line and column of every value.

PyYAML's composer keeps a position on every node; we build plain data from
the node tree ourselves so that each value's path maps to its position, and so
that a key written twice in one mapping is reported instead of silently
overwriting the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from service.engine.model import Path
from service.hints import split
from service.ruleset.issues import Issue, column_of, line_of, render_path

# libyaml's parser when PyYAML has it (5-10 times faster), the Python one otherwise;
# both give every node its line.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Located:
    """Parsed YAML data plus the line and column (both from 1) of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    columns: dict[Path, int] = field(default_factory=dict)

    def at(self, path: Path) -> tuple[int, int | None]:
        """Return the line and column of ``path``, or of its nearest located ancestor."""
        return line_of(self.lines, path), column_of(self.columns, self.lines, path)

    def issue(
        self,
        file: str,
        path: Path,
        message: str,
        *,
        rule: str | None = None,
        where: Path | None = None,
    ) -> Issue:
        """Return an issue at ``path``, its hint apart; ``where``, if given, is the place shown."""
        line, column = self.at(path)
        text, hint = split(message)
        place = render_path(path if where is None else where)
        return Issue(file, line, text, rule=rule, where=place, hint=hint, column=column)


def parse(text: str, file: str) -> tuple[Located | None, list[Issue]]:
    """Parse one YAML document; return the data with lines, or the syntax issues."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, None)
        problem = exc.problem or "invalid YAML"
        return None, [Issue(file, line, f"YAML syntax error: {problem}", column=column)]
    except yaml.YAMLError as exc:
        return None, [Issue(file, 1, f"YAML syntax error: {exc}")]
    except RecursionError:
        return None, [Issue(file, 1, "YAML nested too deeply to read")]
    finally:
        loader.dispose()
    if node is None:
        return Located(None, {(): 1}, {(): 1}), []
    located = Located(None)
    issues: list[Issue] = []
    try:
        located.data = _build(node, (), located, issues, file, loader, _Budget())
    except _TooBig as exc:
        return None, [Issue(file, exc.line, str(exc))]
    return located, issues


# Bounds on what one file may expand to: aliases repeat nodes, so a few lines
# can stand for billions of values ("billion laughs"), or for themselves.  Values
# written out are bounded by the body size; those repeated through aliases here.
MAX_VALUES = 5_000_000
MAX_REPEATED = 100_000
MAX_DEPTH = 100


class _TooBig(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class _Budget:
    values: int = 0
    repeated: int = 0
    built: set[int] = field(default_factory=set)
    open_nodes: set[int] = field(default_factory=set)


def _scalar(
    node: yaml.Node, issues: list[Issue], file: str, loader: yaml.SafeLoader | yaml.CSafeLoader
) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # An explicit tag on a value it cannot hold: !!int abc, !!timestamp 2026-13-45.
        problem = getattr(exc, "problem", None) or type(exc).__name__
        issues.append(
            Issue(
                file,
                node.start_mark.line + 1,
                f"cannot read this value: {problem}",
                column=node.start_mark.column + 1,
            )
        )
        return None


def _build(
    node: yaml.Node,
    path: Path,
    located: Located,
    issues: list[Issue],
    file: str,
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    budget: _Budget,
) -> Any:
    line = node.start_mark.line + 1
    budget.values += 1
    if id(node) in budget.built:
        budget.repeated += 1  # reached again through an alias
    else:
        budget.built.add(id(node))
    if budget.repeated > MAX_REPEATED or budget.values > MAX_VALUES:
        raise _TooBig(
            f"the file holds more than {MAX_REPEATED} values repeated through aliases "
            f"or {MAX_VALUES} in all (are aliases repeating a large part?)",
            line,
        )
    if len(path) > MAX_DEPTH:
        raise _TooBig(f"YAML nested deeper than {MAX_DEPTH} levels", line)
    if id(node) in budget.open_nodes:
        raise _TooBig("an alias refers to a value holding it: the data would be endless", line)
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        located.lines[path] = line
        located.columns[path] = node.start_mark.column + 1
        return _scalar(node, issues, file, loader)
    budget.open_nodes.add(id(node))
    try:
        return _collection(node, path, located, issues, file, loader, budget)
    finally:
        budget.open_nodes.discard(id(node))


def _collection(
    node: yaml.MappingNode | yaml.SequenceNode,
    path: Path,
    located: Located,
    issues: list[Issue],
    file: str,
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    budget: _Budget,
) -> Any:
    located.lines[path] = node.start_mark.line + 1
    located.columns[path] = node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            plain = isinstance(key_node, yaml.ScalarNode)
            key = _scalar(key_node, issues, file, loader) if plain else None
            if not isinstance(key, str | int | float | bool) or key is None:
                issues.append(
                    Issue(
                        file,
                        key_node.start_mark.line + 1,
                        "keys must be plain text",
                        column=key_node.start_mark.column + 1,
                    )
                )
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
                        column=key_node.start_mark.column + 1,
                    )
                )
                continue
            result[key] = _build(value_node, (*path, key), located, issues, file, loader, budget)
        return result
    return [
        _build(item, (*path, index), located, issues, file, loader, budget)
        for index, item in enumerate(node.value)
    ]
