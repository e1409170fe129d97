"""Schema of rule tests: ``rules/tests/*.yaml``, written by rule authors without Python.

A rule test gives an event (and optionally the case before it) and says what
the decision must show::

    tests:
      - name: a manager demand in chat escalates
        event: {type: customer_message, channel: chat, text: "Get me your manager"}
        expect:
          fires: [customer-demands-supervisor]
          outcome: escalate
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import Choice, StrictSchema, string
from service.engine import catalog


class ExpectSchema(StrictSchema):
    """What the decision must show."""

    fires = fields.List(string(), load_default=list)
    does_not_fire = fields.List(string(), load_default=list)
    outcome = string(validate=Choice(("escalate", "route", "none"), "outcome"))
    escalate_to = fields.List(string())
    route_to = string(allow_none=True)
    priority = string(validate=Choice(catalog.PRIORITIES, "priority"))
    signals = fields.List(string(), load_default=list)
    no_signals = fields.List(string(), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(
            data.get(k) for k in ("fires", "does_not_fire", "signals", "no_signals")
        ) and not any(k in data for k in ("outcome", "escalate_to", "route_to", "priority")):
            raise ValidationError("expect says nothing to check")


class RuleTestSchema(StrictSchema):
    """One rule test."""

    name = string(required=True, validate=validate.Length(1, 200))
    event = fields.Dict(required=True)
    case = fields.Dict(load_default=dict)
    expect = fields.Nested(ExpectSchema, required=True)


class RuleTestFileSchema(StrictSchema):
    """A file of rule tests."""

    tests = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
