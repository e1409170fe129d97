"""Load a rules directory: rule files, lexicons and defaults, validated in one pass.

Layout of a rules directory::

    rules/
      *.yaml                     rule files (a list under ``rules:``)
      defaults.yaml              rule-set wide defaults (optional)
      lexicons/<lang>/<signal>.yaml
      tests/*.yaml               rule tests (not part of the revision)

The revision is a SHA-256 over every file that changes decisions, so two
services with the same revision decide the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Any

from marshmallow import ValidationError

from schemas.common import REQUIRED, flatten
from schemas.rules import DefaultsFileSchema, RuleFileSchema, RuleSchema, parse_partial
from service.engine import catalog
from service.engine.model import Defaults, Path, Rule, RuleSet, Source, Then
from service.ruleset.issues import InvalidFiles, Issue, line_of, render_path
from service.ruleset.validate import ParsedRule, check_rules
from service.ruleset.yamlsrc import Located, parse
from service.signals.lexicon import Lexicon, LexiconFile, load_file

DEFAULTS_FILE = "defaults.yaml"


@dataclass(frozen=True)
class Sources:
    """The files of a rules directory, by role."""

    root: FsPath
    rule_files: tuple[FsPath, ...]
    lexicon_files: tuple[FsPath, ...]
    defaults_file: FsPath | None
    test_files: tuple[FsPath, ...]

    def display(self, path: FsPath) -> str:
        """Return the path rule authors see: relative to the directory above ``rules/``."""
        return path.relative_to(self.root.parent).as_posix()

    @property
    def decision_files(self) -> tuple[FsPath, ...]:
        """Return every file whose content changes decisions."""
        files = [*self.rule_files, *self.lexicon_files]
        if self.defaults_file:
            files.append(self.defaults_file)
        return tuple(sorted(files))


def discover(root: FsPath) -> Sources:
    """Find the rule, lexicon, defaults and test files under ``root``."""
    if not root.is_dir():
        raise InvalidFiles([Issue(str(root), 1, "the rules directory does not exist")])
    yaml_files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    defaults = root / DEFAULTS_FILE
    return Sources(
        root=root,
        rule_files=tuple(p for p in yaml_files if p.name != DEFAULTS_FILE),
        lexicon_files=tuple(sorted((root / "lexicons").glob("**/*.y*ml"))),
        defaults_file=defaults if defaults.is_file() else None,
        test_files=tuple(sorted((root / "tests").glob("**/*.y*ml"))),
    )


def revision_of(sources: Sources, contents: dict[FsPath, bytes]) -> str:
    """Return the content hash of the files that change decisions."""
    digest = hashlib.sha256()
    for path in sources.decision_files:
        digest.update(sources.display(path).encode() + b"\0")
        digest.update(contents[path] + b"\0")
    return "sha256:" + digest.hexdigest()


def _read(sources: Sources, path: FsPath, issues: list[Issue]) -> tuple[bytes, Located | None]:
    raw = path.read_bytes()
    name = sources.display(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.append(
            Issue(name, 1, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        )
        return raw, None
    located, problems = parse(text, name)
    issues.extend(problems)
    return raw, located


def _schema_issues(
    name: str, lines: dict[Path, int], messages: Any, prefix: Path, rule: str | None
) -> list[Issue]:
    issues = []
    for where, message in flatten(messages):
        if message == REQUIRED and where:
            message, where = f'"{where[-1]}" is missing', where[:-1]
        issues.append(
            Issue(
                name,
                line_of(lines, (*prefix, *where)),
                message,
                rule=rule,
                where=render_path(where),
            )
        )
    return issues


@dataclass(frozen=True)
class Loaded:
    """A validated rules directory."""

    ruleset: RuleSet
    lexicon: Lexicon
    sources: Sources


def load(root: FsPath) -> Loaded:
    """Load and validate a rules directory; raise InvalidFiles with every problem found."""
    sources = discover(root)
    issues: list[Issue] = []
    contents: dict[FsPath, bytes] = {}

    lexicon_files: list[LexiconFile] = []
    for path in sources.lexicon_files:
        contents[path], located = _read(sources, path, issues)
        if located is not None:
            compiled, problems = load_file(sources.display(path), located)
            issues.extend(problems)
            if compiled is not None:
                lexicon_files.append(compiled)
    lexicon = Lexicon(tuple(lexicon_files))

    defaults = Defaults()
    if sources.defaults_file is not None:
        path = sources.defaults_file
        contents[path], located = _read(sources, path, issues)
        if located is not None:
            try:
                defaults = DefaultsFileSchema().load(
                    located.data if located.data is not None else {}
                )
            except ValidationError as exc:
                issues += _schema_issues(
                    sources.display(path), located.lines, exc.messages, (), None
                )

    parsed: list[ParsedRule] = []
    for path in sources.rule_files:
        contents[path], located = _read(sources, path, issues)
        if located is not None:
            parsed.extend(_load_rule_file(sources.display(path), located, issues))

    if not sources.rule_files:
        issues.append(Issue(sources.display(root) or str(root), 1, "no rule files (*.yaml) found"))
    signals = lexicon.signals | frozenset(catalog.SIGNALS)
    issues.extend(check_rules(parsed, signals))
    if issues:
        raise InvalidFiles(issues)
    ruleset = RuleSet(
        rules=tuple(item.rule for item in parsed if not item.check_only),
        revision=revision_of(sources, contents),
        defaults=defaults,
        files=tuple(sources.display(p) for p in sources.decision_files),
        signal_names=signals,
    )
    return Loaded(ruleset=ruleset, lexicon=lexicon, sources=sources)


def _load_rule_file(name: str, located: Located, issues: list[Issue]) -> list[ParsedRule]:
    data = located.data if located.data is not None else {}
    try:
        RuleFileSchema().load(data)
    except ValidationError as exc:
        issues.extend(_schema_issues(name, located.lines, exc.messages, (), None))
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            return []
    parsed = []
    for index, raw in enumerate(data["rules"]):
        line = line_of(located.lines, ("rules", index))
        if not isinstance(raw, dict):
            issues.append(
                Issue(
                    name, line, "each rule is a mapping with id, title, description, when and then"
                )
            )
            continue
        rule_id = raw["id"] if isinstance(raw.get("id"), str) else None
        try:
            rule = RuleSchema().load(raw)
        except ValidationError as exc:
            issues.extend(
                _schema_issues(name, located.lines, exc.messages, ("rules", index), rule_id)
            )
            partial = _partial_rule(raw, rule_id)
            if partial is not None:
                # Check the condition's meaning too, so one pass reports every problem.
                parsed.append(ParsedRule(partial, name, index, located.lines, check_only=True))
            continue
        parsed.append(
            ParsedRule(replace(rule, source=Source(name, line)), name, index, located.lines)
        )
    return parsed


def _partial_rule(raw: dict[str, Any], rule_id: str | None) -> Rule | None:
    """Return a stand-in rule around a well-formed condition of an otherwise broken rule."""
    when = parse_partial(raw.get("when"))
    if when is None:
        return None
    return Rule(id=rule_id or "?", title="", description="", priority=0, when=when, then=Then())
