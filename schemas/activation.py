"""Wire types of rule activation: bundles sent in, activations and revisions sent out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.api import REVISION, RuleIssueV1Schema, RulesetV1Schema, bundle_files
from schemas.common import StrictSchema, cursor


class ActivateRequestV1Schema(StrictSchema):
    """POST /v1/rules/activate: a bundle of files, or the revision of an earlier one."""

    revision = fields.String(validate=REVISION, metadata={"description": "Roll back to this."})
    files = bundle_files()
    force = fields.Boolean(
        load_default=False,
        metadata={"description": "Activate even if the escalation-rate guard refuses."},
    )

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("revision" in data) == ("files" in data):
            raise ValidationError("send either revision (a rollback) or files (a bundle)", "files")


class ReloadQueryV1Schema(StrictSchema):
    """Query parameters of POST /v1/rules/reload."""

    # Query strings carry text: "true" or "false".
    force = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        error_messages={"invalid": "expected true or false"},
        metadata={"description": "Activate even if the escalation-rate guard refuses."},
    )


class RevisionsQueryV1Schema(StrictSchema):
    """Query parameters of GET /v1/rules/revisions."""

    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200, error="limit lies between 1 and 200"),
        error_messages={"invalid": "expected a whole number"},
    )
    before = cursor(1, "Cursor: next_before of the previous page.")


class ValidateRequestV1Schema(StrictSchema):
    """POST /v1/rules/validate with a body: a bundle to check instead of the files on disk."""

    files = bundle_files(required=True)


class EscalationRateV1Schema(Schema):
    """Share of decisions that escalate, before and after a candidate."""

    before = fields.Float()
    after = fields.Float()


class ReplaySummaryV1Schema(Schema):
    """What a candidate changes on recorded traffic (see escalation replay)."""

    events = fields.Integer()
    changed = fields.Integer()
    skipped = fields.Integer()
    by_rule = fields.Dict(keys=fields.String(), values=fields.Dict())
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())
    escalation_rate = fields.Nested(EscalationRateV1Schema)
    examples = fields.List(fields.Dict())


class ActivationV1Schema(Schema):
    """One entry of the activation history."""

    id = fields.Integer()
    revision = fields.String()
    previous_revision = fields.String(allow_none=True)
    action = fields.String(metadata={"description": "seed, reload, activate or rollback."})
    activated_by = fields.String()
    activated_at = fields.DateTime()
    forced = fields.Boolean()
    replay = fields.Nested(ReplaySummaryV1Schema, allow_none=True)


class RevisionsPageV1Schema(Schema):
    """GET /v1/rules/revisions: activations, newest first."""

    activations = fields.List(fields.Nested(ActivationV1Schema))
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "Pass as before= for the next page."}
    )


class RuleFailureV1Schema(Schema):
    """The last failed attempt to change the rules since the last activation."""

    at = fields.String()
    action = fields.String()
    by = fields.String()
    reason = fields.String()
    revision = fields.String(allow_none=True)
    issues = fields.List(fields.Nested(RuleIssueV1Schema))
    replay = fields.Nested(ReplaySummaryV1Schema, allow_none=True)


class ActiveRulesetV1Schema(RulesetV1Schema):
    """GET /v1/rules: the rule set this worker serves, and the state of activations."""

    active_revision = fields.String(
        metadata={"description": "The revision the database names; workers follow within seconds."}
    )
    activated_at = fields.DateTime(allow_none=True)
    last_failure = fields.Nested(RuleFailureV1Schema, allow_none=True)


class ActivatedV1Schema(RulesetV1Schema):
    """The result of an activation, reload or rollback."""

    previous_revision = fields.String(allow_none=True)
    changed = fields.Boolean()
    activation = fields.Nested(ActivationV1Schema)
