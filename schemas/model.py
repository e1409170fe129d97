"""Schema of the trained signal model's header: ``service/signals/data/model.tsv``.

The header lines (``# key<TAB>value...``) say which signals the columns hold,
each signal's bias and probability threshold, and the SHA-256 of the corpus
the model was trained on, so a test can tell when the corpus moved on and the
model must be trained again (``bench/train_model.py``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from schemas.common import Choice, StrictSchema, string
from service.engine.catalog import SIGNALS


class ModelHeaderSchema(StrictSchema):
    """The header of a model file, one list of strings per key."""

    trained_by = fields.List(string(), required=True)
    corpus_sha256 = fields.List(
        string(validate=validate.Regexp(r"^[0-9a-f]{64}$")),
        required=True,
        validate=validate.Length(1, 1),
    )
    signals = fields.List(
        string(validate=Choice(SIGNALS, "signal")), required=True, validate=validate.Length(min=1)
    )
    bias = fields.List(fields.Float(allow_nan=False), required=True)
    threshold = fields.List(
        fields.Float(
            allow_nan=False,
            validate=validate.Range(0, 1, min_inclusive=False, max_inclusive=False),
        ),
        required=True,
    )


def load_header(header: dict[str, list[str]], source: str) -> dict[str, Any]:
    """Validate a model file's header; errors name the file and the key."""
    try:
        loaded: dict[str, Any] = ModelHeaderSchema().load(header)
    except ValidationError as error:
        raise ValueError(f"{source}: header: {error.messages}") from None
    width = len(loaded["signals"])
    if len(loaded["bias"]) != width or len(loaded["threshold"]) != width:
        raise ValueError(f"{source}: header: bias and threshold need one value per signal")
    loaded["corpus_sha256"] = loaded["corpus_sha256"][0]
    return loaded
