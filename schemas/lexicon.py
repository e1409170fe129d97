"""Schema of lexicon files: ``rules/lexicons/<language>/<signal>.yaml``."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from schemas.common import StrictSchema, boolean, integer, string
from service.engine.catalog import SIGNALS


class PhraseField(fields.Field[str]):
    """A phrase: its text, or ``{pattern: ..., note: ...}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, dict):
            unknown = set(value) - {"pattern", "note"}
            if unknown:
                raise ValidationError(
                    f'unknown field "{sorted(unknown)[0]}"; expected pattern and note'
                )
            value = value.get("pattern")
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("expected a phrase (text), or {pattern: ..., note: ...}")
        return value.strip()


class CueField(fields.Field[tuple[str, int | None]]):
    """A negation cue: its text, or ``{pattern: ..., window: 0-5, note: ...}``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[str, int | None]:
        window = None
        if isinstance(value, dict):
            unknown = set(value) - {"pattern", "window", "note"}
            if unknown:
                raise ValidationError(
                    f'unknown field "{sorted(unknown)[0]}"; expected pattern, window and note'
                )
            window = value.get("window")
            if window is not None and (
                isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 5
            ):
                raise ValidationError("window lies between 0 and 5 words")
            value = value.get("pattern")
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("expected a cue (text), or {pattern: ..., window: ...}")
        return value.strip(), window


def cue_list(**kwargs: Any) -> fields.List[tuple[str, int | None]]:
    """Return a list-of-cues field."""
    return fields.List(CueField(), error_messages={"invalid": "expected a list of cues"}, **kwargs)


def phrase_list(**kwargs: Any) -> fields.List[str]:
    """Return a list-of-phrases field."""
    return fields.List(
        PhraseField(), error_messages={"invalid": "expected a list of phrases"}, **kwargs
    )


class NegationSchema(StrictSchema):
    """Words that cancel a phrase when they stand just before (or after) it."""

    before = cue_list(load_default=list)
    after = cue_list(load_default=list)
    window = integer(
        load_default=2, validate=validate.Range(0, 5, error="window lies between 0 and 5 words")
    )
    cross_commas = boolean(load_default=False)


class LexiconFileSchema(StrictSchema):
    """One signal in one language: phrases, exclusions and negation cues."""

    signal = string(
        required=True,
        validate=validate.OneOf(SIGNALS, error=f"signal is one of: {', '.join(SIGNALS)}"),
    )
    language = string(
        required=True,
        validate=validate.Regexp(r"^[a-z]{2,3}$", error="language is an ISO 639 code such as pl"),
    )
    match_without_diacritics = boolean(load_default=False)
    negation = fields.Nested(
        NegationSchema,
        load_default=lambda: {"before": [], "after": [], "window": 2, "cross_commas": False},
    )
    lists = fields.Dict(
        keys=string(
            validate=validate.Regexp(r"^[a-z][a-z0-9_]*$", error="list names use a-z, 0-9 and _")
        ),
        values=phrase_list(validate=validate.Length(min=1)),
        load_default=dict,
    )
    phrases = phrase_list(
        required=True, validate=validate.Length(min=1, error="list at least one phrase")
    )
    exclusions = phrase_list(load_default=list)
