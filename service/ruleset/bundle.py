"""A rule bundle: the content of every file that changes decisions, by path in the rules folder.

A bundle is what gets activated, stored in the database and served by every
worker; a folder on disk is only a way to make one.  Its revision hashes
each file's path *relative to the rules folder* and its content, so the same
files in two folders, on two machines, have one revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

DEFAULTS_FILE = "defaults.yaml"
LEXICONS = "lexicons"
YAML = (".yaml", ".yml")


def role_of(path: str) -> str | None:
    """Return what a relative path is in a rules folder: rules, lexicon, defaults, or None."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).suffix not in YAML:
        return None
    if len(parts) == 1:
        return "defaults" if parts[0] == DEFAULTS_FILE else "rules"
    if parts[0] == LEXICONS and len(parts) >= 2:
        return "lexicon"
    return None


def _valid_path(path: str) -> bool:
    pure = PurePosixPath(path)
    return (
        bool(path)
        and not pure.is_absolute()
        and "\\" not in path
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )


@dataclass(frozen=True)
class Bundle:
    """The decision files of one rule set, as bytes by relative POSIX path."""

    files: Mapping[str, bytes]
    # Shown before each path in messages, as rule authors know the folder: "rules/limits.yaml".
    name: str = "rules"
    revision: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", dict(sorted(self.files.items())))
        object.__setattr__(self, "revision", revision_of(self.files))

    @classmethod
    def from_directory(cls, root: Path) -> Bundle:
        """Read the decision files of a rules folder (rule tests are not part of a bundle)."""
        files: dict[str, bytes] = {}
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root).as_posix()
                if path.is_file() and role_of(relative) is not None:
                    files[relative] = path.read_bytes()
        return cls(files, name=root.name or "rules")

    def display(self, path: str) -> str:
        """Return the path rule authors see in messages."""
        return f"{self.name}/{path}" if self.name else path

    def by_role(self, role: str) -> Iterator[tuple[str, bytes]]:
        """Yield the files of one role (rules, lexicon, defaults) in path order."""
        for path, content in self.files.items():
            if role_of(path) == role:
                yield path, content

    def unknown_paths(self) -> list[str]:
        """Return the paths that are not a rule, lexicon or defaults file, or not safe."""
        return [p for p in self.files if not _valid_path(p) or role_of(p) is None]

    def as_text(self) -> dict[str, str]:
        """Return the files as text, for storage (a valid bundle is UTF-8 throughout)."""
        return {path: content.decode("utf-8") for path, content in self.files.items()}

    @classmethod
    def from_text(cls, files: Mapping[str, str], name: str = "rules") -> Bundle:
        """Build a bundle from stored or posted text files.

        A lone surrogate (JSON allows "\\ud800") is kept as bytes that are not
        UTF-8, so loading reports the file like any other that is not text.
        """
        return cls(
            {path: text.encode("utf-8", "surrogatepass") for path, text in files.items()},
            name=name,
        )


def revision_of(files: Mapping[str, bytes]) -> str:
    """Return the content hash of a bundle: relative paths and contents, in path order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8") + b"\0")
        digest.update(files[path] + b"\0")
    return "sha256:" + digest.hexdigest()
