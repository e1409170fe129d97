"""Load a rules directory: rule files, lexicons and defaults, validated in one pass.

Layout of a rules directory::

    rules/
      *.yaml                     rule files (a list under ``rules:``)
      defaults.yaml              rule-set wide defaults (optional)
      lexicons/<lang>/<signal>.yaml
      tests/*.yaml               rule tests (not part of the revision)

The files that change decisions form a bundle (``service.ruleset.bundle``)
whose revision hashes their paths relative to the folder and their contents,
so two services with the same revision decide the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from pathlib import PurePosixPath
from typing import Any

from marshmallow import ValidationError

from schemas.common import REQUIRED, flatten
from schemas.rules import DefaultsFileSchema, RuleFileSchema, RuleSchema, partial_rule
from service.engine import catalog
from service.engine.model import Defaults, Path, RuleSet, Source
from service.ruleset.bundle import DEFAULTS_FILE, Bundle
from service.ruleset.issues import InvalidFiles, Issue
from service.ruleset.lexicons import CUES_FILE, SPELLING_FILE, load_cues, load_file, load_spelling
from service.ruleset.timers import ParsedTimer, check_timers, load_timers
from service.ruleset.validate import ParsedRule, check_rules
from service.ruleset.yamlsrc import Located, parse
from service.signals.lexicon import CueSet, Lexicon, LexiconFile, Spelling


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


def _parse(name: str, raw: bytes, issues: list[Issue]) -> Located | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.append(
            Issue(name, 1, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        )
        return None
    located, problems = parse(text, name)
    issues.extend(problems)
    return located


def _schema_issues(
    name: str, located: Located, messages: Any, prefix: Path, rule: str | None
) -> list[Issue]:
    issues = []
    for where, message in flatten(messages):
        if message == REQUIRED and where:
            message, where = f'"{where[-1]}" is missing', where[:-1]
        issues.append(located.issue(name, (*prefix, *where), message, rule=rule, where=where))
    return issues


@dataclass(frozen=True)
class Loaded:
    """A validated rules directory."""

    ruleset: RuleSet
    lexicon: Lexicon
    bundle: Bundle


def load(root: FsPath) -> Loaded:
    """Load and validate a rules directory; raise InvalidFiles with every problem found."""
    if not root.is_dir():
        raise InvalidFiles([Issue(str(root), 1, "the rules directory does not exist")])
    return load_bundle(Bundle.from_directory(root))


def load_bundle(bundle: Bundle) -> Loaded:
    """Load and validate a rule bundle; raise InvalidFiles with every problem found."""
    issues: list[Issue] = [
        Issue(
            bundle.display(path),
            1,
            "not a rules file: a bundle holds *.yaml rule files, defaults.yaml "
            "and lexicons/<language>/<signal>.yaml",
        )
        for path in bundle.unknown_paths()
    ]

    lexicon_files: list[LexiconFile] = []
    cue_sets: list[CueSet] = []
    spellings: list[Spelling] = []
    for path, raw in bundle.by_role("lexicon"):
        name = bundle.display(path)
        located = _parse(name, raw, issues)
        if located is None:
            continue
        kind = PurePosixPath(path).stem
        if kind == CUES_FILE:
            sets, problems = load_cues(name, located)
            cue_sets.extend(sets or ())
        elif kind == SPELLING_FILE:
            spelling, problems = load_spelling(name, located)
            spellings.extend([spelling] if spelling else [])
        else:
            compiled, problems = load_file(name, located)
            lexicon_files.extend([compiled] if compiled else [])
        issues.extend(problems)
    lexicon = Lexicon(tuple(lexicon_files), tuple(cue_sets), tuple(spellings))

    defaults = Defaults()
    for path, raw in bundle.by_role("defaults"):
        name = bundle.display(path)
        located = _parse(name, raw, issues)
        if located is not None:
            try:
                defaults = DefaultsFileSchema().load(
                    located.data if located.data is not None else {}
                )
            except ValidationError as exc:
                issues += _schema_issues(name, located, exc.messages, (), None)

    parsed: list[ParsedRule] = []
    timers: list[ParsedTimer] = []
    rule_files = list(bundle.by_role("rules"))
    for path, raw in rule_files:
        name = bundle.display(path)
        located = _parse(name, raw, issues)
        if located is not None:
            parsed.extend(_load_rule_file(name, located, issues))
            timers.extend(load_timers(name, located, issues))

    if not rule_files:
        issues.append(Issue(bundle.name or "rules", 1, "no rule files (*.yaml) found"))
    signals = lexicon.signals | frozenset(catalog.SIGNALS)
    issues.extend(check_rules(parsed, signals))
    calendars = frozenset(calendar.id for calendar in defaults.calendars)
    issues.extend(check_timers(timers, signals, calendars))
    if issues:
        raise InvalidFiles(issues)
    ruleset = RuleSet(
        rules=tuple(item.rule for item in parsed if not item.check_only),
        revision=bundle.revision,
        defaults=defaults,
        files=tuple(bundle.display(p) for p in bundle.files),
        timers=tuple(item.timer for item in timers),
    )
    return Loaded(ruleset=ruleset, lexicon=lexicon, bundle=bundle)


def _load_rule_file(name: str, located: Located, issues: list[Issue]) -> list[ParsedRule]:
    data = located.data if located.data is not None else {}
    try:
        RuleFileSchema().load(data)
    except ValidationError as exc:
        issues.extend(_schema_issues(name, located, exc.messages, (), None))
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            return []
    if "rules" not in data:
        return []  # a file of timers only
    parsed = []
    for index, raw in enumerate(data["rules"]):
        line, column = located.at(("rules", index))
        if not isinstance(raw, dict):
            issues.append(
                Issue(
                    name,
                    line,
                    "each rule is a mapping with id, title, description, when and then",
                    column=column,
                )
            )
            continue
        rule_id = raw["id"] if isinstance(raw.get("id"), str) else None
        try:
            rule = RuleSchema().load(raw)
        except ValidationError as exc:
            issues.extend(_schema_issues(name, located, exc.messages, ("rules", index), rule_id))
            # Check the fields and placeholders too, so one pass reports every problem.
            partial = partial_rule(raw, rule_id)
            parsed.append(
                ParsedRule(
                    partial, name, index, located.lines, check_only=True, columns=located.columns
                )
            )
            continue
        rule = replace(rule, source=Source(name, line))
        parsed.append(ParsedRule(rule, name, index, located.lines, columns=located.columns))
    return parsed
