"""Schema of lexicon files: ``rules/lexicons/<language>/<signal>.yaml``."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from schemas.common import StrictSchema, boolean, integer, number, string
from service.engine.catalog import SIGNALS


class PhraseField(fields.Field[str]):
    """A phrase: its text, or ``{pattern: ..., note: ..., exact: true}``.

    ``exact: true`` keeps the phrase's words out of one-edit spelling fixes
    (the loader reads the flag from the file itself).
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, dict):
            unknown = set(value) - {"pattern", "note", "exact"}
            if unknown:
                raise ValidationError(
                    f'unknown field "{sorted(unknown)[0]}"; expected pattern, note and exact'
                )
            if not isinstance(value.get("exact", False), bool):
                raise ValidationError("exact is true or false")
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
    # Words marking a clause a before-cue reaches across one comma (German "zu").
    infinitive = cue_list(load_default=list)
    # Words that, right after the comma, keep the cue from crossing it ("keine Wahl, als ...").
    infinitive_not = cue_list(load_default=list)


class ShoutingSchema(StrictSchema):
    """Non-lexical cues: capitals (a share of the cased letters) and runs of exclamation marks."""

    capitals = number(
        load_default=None,
        allow_none=True,
        validate=validate.Range(0.5, 1.0, error="capitals is a share between 0.5 and 1.0"),
    )
    min_letters = integer(
        load_default=12,
        validate=validate.Range(4, 200, error="min_letters lies between 4 and 200"),
    )
    exclamations = integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(2, 10, error="exclamations lies between 2 and 10"),
    )


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
        load_default=lambda: {
            "before": [],
            "after": [],
            "window": 2,
            "cross_commas": False,
            "infinitive": [],
            "infinitive_not": [],
        },
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
    shouting = fields.Nested(ShoutingSchema, load_default=None)


LANGUAGE = validate.Regexp(r"^[a-z]{2,3}$", error="language is an ISO 639 code such as pl")


class CueSetSchema(StrictSchema):
    """Cues that cancel candidates of some signals near them, whatever the phrase."""

    signals = fields.List(
        string(validate=validate.OneOf(SIGNALS, error=f"signal is one of: {', '.join(SIGNALS)}")),
        load_default=lambda: list(SIGNALS),
    )
    scope = string(
        load_default="sentence",
        validate=validate.OneOf(("clause", "sentence"), error="scope is clause or sentence"),
    )
    position = string(
        load_default="before",
        validate=validate.OneOf(
            ("before", "after", "either"), error="position is before, after or either"
        ),
    )
    window = integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(0, 10, error="window lies between 0 and 10 words"),
    )
    cues = phrase_list(
        required=True, validate=validate.Length(min=1, error="list at least one cue")
    )
    note = string()


class CueFileSchema(StrictSchema):
    """``lexicons/<language>/cues.yaml``: cue sets for every signal of one language."""

    language = string(required=True, validate=LANGUAGE)
    match_without_diacritics = boolean(load_default=False)
    sets = fields.Dict(
        keys=string(
            validate=validate.Regexp(r"^[a-z][a-z0-9_]*$", error="set names use a-z, 0-9 and _")
        ),
        values=fields.Nested(CueSetSchema),
        required=True,
    )


def _words_map(shortest: int = 1, **kwargs: Any) -> fields.Dict:
    return fields.Dict(
        keys=string(validate=validate.Length(1, 40)),
        values=string(validate=validate.Length(shortest, 80)),
        load_default=dict,
        **kwargs,
    )


class SpellingFileSchema(StrictSchema):
    """``lexicons/<language>/spelling.yaml``: how one language's files read other spellings."""

    language = string(required=True, validate=LANGUAGE)
    respell = _words_map()  # chat spellings: "ur: your"; "manger*: manager"
    borrowings = _words_map()  # English words natives use: "manager*: kierownik"
    # Latin letters -> this script, e.g. "shch: щ"; "" leaves a letter out (Arabizi vowels)
    transliterate = _words_map(shortest=0)
    fuzzy = boolean(load_default=False)
