"""Schema of the labelled signal corpus: ``tests/corpus/<language>.yaml``.

Each message lists exactly the signals it carries; an empty list marks a hard
negative (a look-alike, a negation, an idiom).  A message the lexicon is
known to get wrong says so with ``known_error`` and why, so the tests and the
benchmark report it instead of hiding it.  ``kind`` says which look-alike a
hard negative is (someone else's threat reported, a hypothetical, legal words
as a topic, swearing at oneself...), so the tests can require every language
to hold each kind the detector must leave alone.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from schemas.common import Choice, StrictSchema, string
from service.engine.catalog import SIGNALS

# Look-alikes that carry no signal of the customer's own (docs/lexicons.md, cue sets).
KINDS = (
    "reported_speech",  # someone else's threat or demand, reported by the customer
    "hypothetical",  # a counterfactual, or an intention given up
    "legal_topic",  # legal words as a topic, or a question about legal procedure
    "self_directed",  # swearing at oneself or at a thing
    "agent_offer",  # the agent's offer, quoted back
    "quoted",  # a film, the news, a company letter quoted
    "idiom",  # a violent or rude word in an idiom ("this price is killing me")
)


class CorpusMessageSchema(StrictSchema):
    """One labelled message."""

    text = string(required=True, validate=validate.Length(1, 2000))
    signals = fields.List(string(validate=Choice(SIGNALS, "signal")), required=True)
    note = string(validate=validate.Length(1, 300))
    known_error = string(validate=validate.Length(1, 300))
    kind = string(validate=Choice(KINDS, "kind"))


class CorpusFileSchema(StrictSchema):
    """The corpus of one language."""

    language = string(required=True, validate=validate.Regexp(r"^[a-z]{2,3}$"))
    messages = fields.List(
        fields.Nested(CorpusMessageSchema), required=True, validate=validate.Length(min=25)
    )


def load_messages(data: Any) -> dict[str, Any]:
    """Validate a parsed corpus file."""
    loaded: dict[str, Any] = CorpusFileSchema().load(data)
    return loaded
