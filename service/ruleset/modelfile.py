"""Read the trained signal model's file (``service/signals/data/model.tsv``).

The weights are data, one feature per line; the header is checked with its
schema, and a malformed line raises ValueError naming the file and line.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from schemas.model import load_header
from service.config import PROJECT_ROOT
from service.signals.model import Model

MODEL = PROJECT_ROOT / "service" / "signals" / "data" / "model.tsv"


def source_of(path: Path) -> str:
    """Name a model file as evidence names it: from the project root when inside it."""
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    return str(path)


def load(path: Path = MODEL) -> Model:
    """Read a model file; a malformed one raises ValueError naming its file and line."""
    header: dict[str, list[str]] = {}
    weights: dict[str, tuple[int, tuple[float, ...]]] = {}
    width = 0
    with path.open(encoding="utf-8") as stream:
        for number, raw in enumerate(stream, 1):
            line = raw.rstrip("\n")
            # A letter sequence may start with "#": the header ends at the first feature.
            if not weights and line.startswith("#"):
                key, *values = line[1:].strip().split("\t")
                header[key] = values
                continue
            if not width:
                width = len(header.get("signals", ()))
            feature, *values = line.split("\t")
            if len(values) != width:
                raise ValueError(f"{path}:{number}: expected {width} weights, found {len(values)}")
            try:
                weights[feature] = (number, tuple(float(v) for v in values))
            except ValueError:
                raise ValueError(f"{path}:{number}: a weight is not a number") from None
    meta = load_header(header, str(path))
    return Model(
        source_of(path),
        tuple(meta["signals"]),
        tuple(meta["bias"]),
        tuple(math.log(t / (1 - t)) for t in meta["threshold"]),
        weights,
        meta["corpus_sha256"],
    )


@functools.cache
def bundled() -> Model:
    """Return the model shipped with the service, read once per process."""
    return load(MODEL)
