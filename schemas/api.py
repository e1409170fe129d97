"""Wire schemas of the HTTP API, version 1.

Request schemas turn JSON into domain objects and reject what they do not
know, naming the field; response schemas turn domain objects into JSON.
Changing a V1 schema in a way that breaks a client needs a V2 schema.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from schemas.common import (
    Choice,
    FeedCursor,
    StrictSchema,
    cursor,
    integer,
    number,
    string,
)
from service.cases.model import (
    AgentProfile,
    CaseState,
    ComplaintRef,
    CustomerState,
    Escalated,
    Event,
    Snapshot,
    ThreatMark,
)
from service.engine import catalog
from service.engine.model import AgentLimits

MAX_TEXT_LENGTH = 20_000
MAX_ATTRIBUTES = 50
ID = validate.Regexp(
    r"^[^\s\x00-\x1f]{1,200}$", error="expected 1 to 200 characters without spaces"
)
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Attributes the service reads itself, with the values it accepts.
NUMBER_ATTRIBUTES: dict[str, tuple[float, float]] = {
    "complexity": (0, 10),
    "hostility": (0, 10),
    "handling_minutes": (0, 1440),
}
CHOICE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "limit": catalog.LIMIT_KINDS,
    "timer_state": catalog.TIMER_STATES,  # deadline_reached: what timer.state reads
}
TEXT_ATTRIBUTES = frozenset({"topic", "target"})
# Events about one escalation name its target in attributes.target.
TARGETED_EVENTS = ("escalation_accepted", "escalation_resolved")
# How far an event's occurred_at may lie from the server clock, before or after: an
# event dated years away would poison the case's timeline and every cool-down.
MAX_EVENT_CLOCK_SKEW = timedelta(days=365)


def _choice(choices: tuple[str, ...], what: str) -> Choice:
    return Choice(choices, what, echo=False)


# Every timestamp the API reads lies in these years (UTC): far enough from the
# ends of the calendar that converting offsets and adding cool-downs or
# deadlines never overflows, in Python or in either database.
MIN_TIMESTAMP = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(3000, 1, 1, tzinfo=UTC)
TIMESTAMP_RANGE = "expected a time from 1900-01-01T00:00:00Z to before 3000-01-01T00:00:00Z"


class AwareDateTime(fields.DateTime):
    """An ISO 8601 timestamp with a time zone, returned in UTC, within the supported years."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 64:
            raise ValidationError("expected an ISO 8601 timestamp such as 2026-11-22T10:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(
                "expected an ISO 8601 timestamp such as 2026-11-22T10:00:00Z"
            ) from exc
        if parsed.tzinfo is None:
            raise ValidationError("the timestamp needs a time zone, such as Z or +01:00")
        try:
            instant = parsed.astimezone(UTC)
        except OverflowError as exc:  # year 1 or 9999 moved past the calendar by its offset
            raise ValidationError(TIMESTAMP_RANGE) from exc
        if not MIN_TIMESTAMP <= instant < MAX_TIMESTAMP:
            raise ValidationError(TIMESTAMP_RANGE)
        return instant


class AttributesField(fields.Field[dict[str, Any]]):
    """Free-form event attributes: named scalars, some of them typed by the service."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("expected an object of named values")
        if len(value) > MAX_ATTRIBUTES:
            raise ValidationError(f"at most {MAX_ATTRIBUTES} attributes")
        errors: dict[str, list[str]] = {}
        for name, item in value.items():
            problem = self._check(name, item)
            if problem:
                errors[name] = [problem]
        if errors:
            raise ValidationError(errors)
        return dict(value)

    @staticmethod
    def _check(name: str, item: Any) -> str | None:
        if not ATTRIBUTE_NAME.match(name):
            return "attribute names use lowercase letters, digits and _"
        if isinstance(item, str):
            if len(item) > 500:
                return "at most 500 characters"
        elif isinstance(item, bool):
            pass
        elif isinstance(item, int | float):
            if not math.isfinite(item) or abs(item) > 1e12:
                return "expected a finite number between -1e12 and 1e12"
        else:
            return "expected text, a number, true or false"
        if name in NUMBER_ATTRIBUTES:
            low, high = NUMBER_ATTRIBUTES[name]
            if (
                isinstance(item, bool)
                or not isinstance(item, int | float)
                or not low <= item <= high
            ):
                return f"expected a number from {low:g} to {high:g}"
        elif name in CHOICE_ATTRIBUTES:
            if item not in CHOICE_ATTRIBUTES[name]:
                return f"expected one of: {', '.join(CHOICE_ATTRIBUTES[name])}"
        elif name in TEXT_ATTRIBUTES and (not isinstance(item, str) or not item.strip()):
            return "expected text"
        return None


class CustomerRefV1Schema(StrictSchema):
    """The customer an event is about."""

    id = string(required=True, validate=ID)
    tier = string(validate=_choice(catalog.TIERS, "tier"))


class AgentRefV1Schema(StrictSchema):
    """The agent handling the event."""

    id = string(required=True, validate=ID)


class EventV1Schema(StrictSchema):
    """One case event."""

    event_id = string(required=True, validate=ID)
    type = string(required=True, validate=_choice(catalog.EVENT_TYPES, "type"))
    occurred_at = AwareDateTime(required=True)
    channel = string(allow_none=True, validate=_choice(catalog.CHANNELS, "channel"))
    customer = fields.Nested(CustomerRefV1Schema, allow_none=True)
    agent = fields.Nested(AgentRefV1Schema, allow_none=True)
    text = string(
        allow_none=True,
        validate=validate.Length(
            max=MAX_TEXT_LENGTH, error=f"at most {MAX_TEXT_LENGTH} characters"
        ),
    )
    language = string(
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
            error="expected a language tag such as pl or pt-BR",
        ),
    )
    attributes = AttributesField(load_default=dict)

    @validates_schema
    def _target(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("type") in TARGETED_EVENTS and not isinstance(
            (data.get("attributes") or {}).get("target"), str
        ):
            raise ValidationError(
                {"target": [f"{data['type']} needs the escalation target, such as supervisor"]},
                "attributes",
            )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Event:
        customer = data.get("customer") or {}
        return Event(
            event_id=data["event_id"],
            type=data["type"],
            occurred_at=data["occurred_at"],
            channel=data.get("channel"),
            customer_id=customer.get("id"),
            customer_tier=customer.get("tier"),
            agent_id=(data.get("agent") or {}).get("id"),
            text=data.get("text"),
            language=data.get("language"),
            attributes=data["attributes"],
        )


def check_event_time(event: Event, now: datetime) -> None:
    """Raise a ValidationError naming occurred_at unless it lies within the bound of ``now``."""
    if abs(event.occurred_at - now) > MAX_EVENT_CLOCK_SKEW:
        raise ValidationError(
            {
                "occurred_at": [
                    f"expected a time within {MAX_EVENT_CLOCK_SKEW.days} days of the "
                    f"server clock ({now:%Y-%m-%d})"
                ]
            }
        )


# Event ids the timer claimer gives the deadline_reached events it creates.
SERVER_EVENT_ID_PREFIX = "deadline:"


class CaseEventV1Schema(EventV1Schema):
    """An event a caller posts to a case: not one only the service creates."""

    @validates_schema(skip_on_field_errors=True)
    def _not_server_generated(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("type") in catalog.SERVER_EVENT_TYPES:
            errors["type"] = [f"{data['type']} events are created by the service's timers only"]
        if str(data.get("event_id", "")).startswith(SERVER_EVENT_ID_PREFIX):
            errors["event_id"] = [
                f'event ids starting with "{SERVER_EVENT_ID_PREFIX}" are kept for timer events'
            ]
        if errors:
            raise ValidationError(errors)


def count(**kwargs: Any) -> fields.Integer:
    """Return a non-negative whole-number field."""
    return integer(
        load_default=0, validate=validate.Range(0, 10**9, error="expected 0 or more"), **kwargs
    )


def level(**kwargs: Any) -> fields.Float:
    """Return a 0-10 level field."""
    return number(
        load_default=0, validate=validate.Range(0, 10, error="expected 0 to 10"), **kwargs
    )


class LimitsV1Schema(StrictSchema):
    """An agent's personal limits."""

    max_complexity = number(required=True, validate=validate.Range(0, 10, error="expected 0 to 10"))
    max_hostility = number(required=True, validate=validate.Range(0, 10, error="expected 0 to 10"))
    max_minutes = number(
        required=True, validate=validate.Range(1, 1440, error="expected 1 to 1440")
    )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> AgentLimits:
        return AgentLimits(**data)


class AgentSnapshotV1Schema(StrictSchema):
    """The handling agent in a dry run: limits and skills."""

    id = string(validate=ID)
    limits = fields.Nested(LimitsV1Schema)
    skills = fields.List(
        string(validate=validate.Length(1, 100)),
        load_default=list,
        validate=validate.Length(max=100),
    )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> AgentProfile:
        return AgentProfile(
            id=data.get("id"), limits=data.get("limits"), skills=tuple(data["skills"])
        )


class CustomerSnapshotV1Schema(StrictSchema):
    """The customer in a dry run."""

    id = string(validate=ID)
    tier = string(load_default="standard", validate=_choice(catalog.TIERS, "tier"))
    flags = fields.List(
        string(validate=validate.Length(1, 64)), load_default=list, validate=validate.Length(max=50)
    )
    unresolved_complaints = count()
    escalations_30d = count()
    unresolved_complaint_refs = fields.List(
        fields.Nested(lambda: ComplaintRefInV1Schema()),
        load_default=list,
        validate=validate.Length(max=1000),
        metadata={"description": "The unresolved complaints, to name them in guidance."},
    )
    threats = fields.List(
        fields.Nested(lambda: ThreatMarkV1Schema()),
        load_default=list,
        validate=validate.Length(max=1000),
        metadata={"description": "The customer's threats across cases (customer memory)."},
    )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> CustomerState:
        return CustomerState(
            id=data.get("id"),
            tier=data["tier"],
            flags=tuple(data["flags"]),
            unresolved_complaints=data["unresolved_complaints"],
            escalations_30d=data["escalations_30d"],
            unresolved_complaint_refs=tuple(data["unresolved_complaint_refs"]),
            threats=tuple(sorted(data["threats"], key=lambda mark: mark.at)),
        )


class ComplaintRefInV1Schema(StrictSchema):
    """An unresolved complaint of the customer: the case it is in and when it was opened."""

    case_id = string(required=True, validate=ID)
    opened_at = AwareDateTime(required=True)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> ComplaintRef:
        return ComplaintRef(data["case_id"], data["opened_at"])


class ThreatMarkV1Schema(StrictSchema):
    """A threat the customer made, in any case."""

    at = AwareDateTime(required=True)
    kind = string(required=True, validate=_choice(("legal", "physical"), "kind"))
    case_id = string(validate=ID, load_default=None)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> ThreatMark:
        return ThreatMark(data["at"], data["kind"], data["case_id"])


class LastEscalationV1Schema(StrictSchema):
    """When a case was last escalated to one target."""

    at = AwareDateTime(required=True)
    # Priority (0-3) times two, plus one for a handover (service/engine/merge.py).
    severity = integer(load_default=1, validate=validate.Range(0, 7))
    rule = string(load_default="")


# Built once: building a schema costs more than loading with it.  An absent
# customer or agent (load_default) is the same immutable value on every dry run.
_CUSTOMER_SNAPSHOT = CustomerSnapshotV1Schema()
_AGENT_SNAPSHOT = AgentSnapshotV1Schema()
_NO_CUSTOMER: CustomerState = _CUSTOMER_SNAPSHOT.load({})
_NO_AGENT: AgentProfile = _AGENT_SNAPSHOT.load({})


class CaseSnapshotV1Schema(StrictSchema):
    """A case's aggregates before the event, with its customer and agent."""

    case_id = string(validate=ID)
    status = string(load_default="open", validate=_choice(("open", "closed"), "status"))
    messages = count()
    hostility = integer(load_default=0, validate=validate.Range(0, 10, error="expected 0 to 10"))
    abusive_messages = count()
    threats = count()
    legal_threats = count()
    physical_threats = count()
    supervisor_requests = count()
    complexity = level()
    minutes_with_customer = number(load_default=0, validate=validate.Range(0, 10**6))
    open_complaints = count()
    reopened_complaints = count()
    topic = string(validate=validate.Length(1, 100))
    current_agent = string(validate=ID)
    last_event_at = AwareDateTime()
    last_escalations = fields.Dict(
        keys=string(validate=validate.Length(1, 64)),
        values=fields.Nested(LastEscalationV1Schema),
        load_default=dict,
    )
    open_escalations = fields.Dict(
        keys=string(validate=validate.Length(1, 64)),
        values=fields.Nested(LastEscalationV1Schema),
        load_default=dict,
        metadata={"description": "Escalations still open (standing), by target."},
    )
    customer = fields.Nested(CustomerSnapshotV1Schema, load_default=dict)
    agent = fields.Nested(AgentSnapshotV1Schema, load_default=dict)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Snapshot:
        customer = data.pop("customer")
        agent = data.pop("agent")
        if isinstance(customer, dict):
            customer = _CUSTOMER_SNAPSHOT.load(customer) if customer else _NO_CUSTOMER
        if isinstance(agent, dict):
            agent = _AGENT_SNAPSHOT.load(agent) if agent else _NO_AGENT
        escalations, standing = (
            {
                target: Escalated(at=e["at"], severity=e["severity"], rule=e["rule"])
                for target, e in data.pop(key).items()
            }
            for key in ("last_escalations", "open_escalations")
        )
        return Snapshot(
            case=CaseState(last_escalations=escalations, open_escalations=standing, **data),
            customer=customer,
            agent=agent,
        )


# Paths like "limits.yaml" or "lexicons/pl/abuse.yaml", never outside the rules folder.
BUNDLE_PATH = validate.Regexp(
    r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9_.\-/]{1,200}$",
    error="expected a relative path inside the rules folder, like lexicons/en/abuse.yaml",
)
MAX_BUNDLE_FILES = 1_000
MAX_BUNDLE_FILE_CHARS = 4 * 1024 * 1024
REVISION = validate.Regexp(r"^sha256:[0-9a-f]{64}$", error="expected sha256:<64 hex digits>")


def bundle_files(**kwargs: Any) -> fields.Dict:
    """Return the field of a rule bundle: file text by path relative to the rules folder."""
    return fields.Dict(
        keys=fields.String(validate=BUNDLE_PATH),
        values=fields.String(validate=validate.Length(max=MAX_BUNDLE_FILE_CHARS)),
        validate=validate.Length(min=1, max=MAX_BUNDLE_FILES),
        metadata={
            "description": "The bundle: file text by path relative to the rules folder "
            "(rule files, defaults.yaml, lexicons/<language>/<signal>.yaml)."
        },
        **kwargs,
    )


class CandidateRulesV1Schema(StrictSchema):
    """Rules to evaluate against instead of the active ones: a stored revision or a bundle."""

    revision = fields.String(validate=REVISION)
    files = bundle_files()

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("revision" in data) == ("files" in data):
            raise ValidationError("send either revision or files", "revision")


class EvaluateRequestV1Schema(StrictSchema):
    """A dry run: a case snapshot (optional), one event, and optionally candidate rules."""

    case = fields.Nested(CaseSnapshotV1Schema, load_default=dict)
    event = fields.Nested(EventV1Schema, required=True)
    rules = fields.Nested(
        CandidateRulesV1Schema,
        metadata={"description": "Evaluate with these rules instead of the active revision."},
    )


# Responses -----------------------------------------------------------------


class EscalationV1Schema(Schema):
    """One escalation: to whom, how, and which rule asked."""

    to = fields.String()
    mode = fields.String(
        metadata={"description": "handover: the case leaves the agent; notify: the agent keeps it"}
    )
    rule = fields.String()
    status = fields.String(
        metadata={
            "enum": ["new", "standing"],
            "description": "new: raised by this event; standing: still open from an earlier "
            "event, not raised again (its notifications are not sent again)",
        },
    )


class SuppressedV1Schema(Schema):
    """An escalation held back by a cool-down."""

    to = fields.String()
    rule = fields.String()
    until = fields.DateTime()


class MatchedRuleV1Schema(Schema):
    """A rule that matched, and why."""

    id = fields.Function(lambda m: m.rule.id)
    title = fields.Function(lambda m: m.rule.title)
    priority = fields.Function(lambda m: m.rule.priority)
    safety = fields.Function(lambda m: m.rule.safety)
    why = fields.String(
        metadata={
            "description": "The conditions that held with the values seen; a signal names the "
            "lexicon entry and file:line that matched, never the words of the message."
        }
    )


class FailedConditionV1Schema(Schema):
    """The first condition of a rule that failed, with the value it saw."""

    condition = fields.String(
        metadata={
            "description": "The failing condition with the values seen, ending in ': false'; "
            "for any, each alternative's failure joined by ' or '."
        }
    )
    field = fields.String(
        allow_none=True,
        metadata={"description": "The field the first failing comparison reads."},
    )
    observed = fields.Raw(
        allow_none=True,
        metadata={
            "description": "The value of that field as seen: '(absent)' when missing; message "
            "text only as '(text, N characters)'."
        },
    )


class NotMatchedV1Schema(Schema):
    """A rule that did not match, and the first of its conditions that failed."""

    id = fields.Function(lambda m: m.rule.id)
    title = fields.Function(lambda m: m.rule.title)
    failed = fields.Nested(FailedConditionV1Schema)


class EvidenceV1Schema(Schema):
    """A match of a lexicon phrase: signal, language, evidence, phrase, source and span."""

    name = fields.String(metadata={"enum": list(catalog.SIGNALS)})
    language = fields.String()
    evidence = fields.Raw(
        metadata={
            "description": "The matched span of the original text, only for callers with the "
            "text:read scope; for others (and webhook receivers) a stand-in object "
            '{"masked": true, "length": N, "sha256_prefix": "<16 hex>"} (docs/masking.md).',
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "masked": {"type": "boolean"},
                        "length": {"type": "integer"},
                        "sha256_prefix": {"type": "string"},
                    },
                },
            ],
        }
    )
    entry = fields.String(
        metadata={"description": "The lexicon phrase that matched, as written in the lexicon."}
    )
    source = fields.String(metadata={"description": "Lexicon file and line of the phrase."})
    span = fields.Function(lambda s: [s.start, s.end])


class SignalV1Schema(EvidenceV1Schema):
    """A text signal and the evidence for it."""

    edits = fields.List(
        fields.String(),
        metadata={
            "description": "Spelling rewrites inside the match, as 'manger→manager (one edit)' "
            "(chat spelling, borrowed word, transliterated, one edit); empty when none."
        },
    )


class CancelledSignalV1Schema(EvidenceV1Schema):
    """A candidate signal that a negation, an exclusion or a cue set cancelled."""

    by = fields.String(
        metadata={"description": "negation, exclusion, or 'cue set NAME' (cues.yaml)."}
    )
    cue_source = fields.String(
        metadata={"description": "Lexicon file and line of the cue that cancelled it."}
    )


class DecisionV1Schema(Schema):
    """The decision for one event."""

    decision_id = fields.String()
    case_id = fields.String(allow_none=True)
    event_id = fields.String()
    outcome = fields.String(metadata={"enum": ["escalate", "route", "none"]})
    escalations = fields.List(fields.Nested(EscalationV1Schema))
    route_to = fields.String(allow_none=True)
    priority = fields.String(metadata={"enum": list(catalog.PRIORITIES)})
    actions = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))
    guidance = fields.List(fields.String())
    matched_rules = fields.List(fields.Nested(MatchedRuleV1Schema), attribute="matched")
    signals = fields.List(fields.Nested(SignalV1Schema))
    suppressed = fields.List(fields.Nested(SuppressedV1Schema))
    rules_revision = fields.String()
    evaluated_at = fields.DateTime()
    duration_ms = fields.Float()
    duplicate = fields.Boolean()
    trigger = fields.String(
        dump_default="event",
        metadata={
            "enum": ["event", "timer"],
            "description": "timer: made by a timer falling due (deadline_reached), not a caller.",
        },
    )
    timer = fields.Dict(
        allow_none=True,
        metadata={"description": "With trigger timer: the timer's id, state, due_at, started_by."},
    )


class ExplainedDecisionV1Schema(DecisionV1Schema):
    """A decision with every rule that did not match (POST /v1/evaluate?explain=full)."""

    not_matched = fields.List(
        fields.Nested(NotMatchedV1Schema),
        metadata={"description": "Only with explain=full: every rule that did not match."},
    )
    cancelled_signals = fields.List(
        fields.Nested(CancelledSignalV1Schema),
        attribute="cancelled",
        metadata={
            "description": "Only with explain=full: every candidate signal a negation, an "
            "exclusion or a cue set cancelled, with the cue's file and line."
        },
    )


class EvaluateQueryV1Schema(Schema):
    """Query parameters of POST /v1/evaluate."""

    class Meta:
        unknown = EXCLUDE

    explain = string(
        validate=Choice(("full",), "explain", echo=False),
        metadata={"description": "full: add not_matched, why every other rule did not match."},
    )


class FieldErrorV1Schema(Schema):
    """One problem with one field of a request."""

    field = fields.String()
    message = fields.String()


class ProblemV1Schema(Schema):
    """An RFC 9457 problem: every error the API returns has this shape."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    code = fields.String(metadata={"description": "Stable snake_case error code."})
    errors = fields.List(fields.Nested(FieldErrorV1Schema))
    # Members of some problems only (docs/errors.md).
    issues = fields.List(
        fields.Nested(lambda: RuleIssueV1Schema()),
        metadata={"description": "rules_invalid: every problem found in the rule files."},
    )
    active_revision = fields.String(
        metadata={"description": "rules_invalid, escalation_rate_guard: the revision in force."}
    )
    replay = fields.Dict(
        metadata={"description": "escalation_rate_guard: the replay summary of the candidate."}
    )
    retry_after = fields.Integer(metadata={"description": "store_busy: seconds to wait."})


class RuleIssueV1Schema(Schema):
    """A problem in a rule or lexicon file."""

    file = fields.String()
    line = fields.Integer()
    column = fields.Integer(allow_none=True)
    rule = fields.String(allow_none=True)
    where = fields.String()
    message = fields.String()
    hint = fields.String(allow_none=True)


class RuleSummaryV1Schema(Schema):
    """One rule of the active rule set."""

    id = fields.String()
    title = fields.String()
    description = fields.String()
    priority = fields.Integer()
    safety = fields.Boolean()
    file = fields.Function(lambda r: r.source.file)
    line = fields.Function(lambda r: r.source.line)
    escalate = fields.Function(lambda r: [e.to for e in r.then.escalate])
    route_to = fields.Function(lambda r: r.then.route_to)


class RulesetV1Schema(Schema):
    """The active rule set."""

    revision = fields.String()
    loaded_at = fields.DateTime()
    files = fields.List(fields.String())
    rules = fields.List(fields.Nested(RuleSummaryV1Schema))
    signals = fields.List(fields.String())
    languages = fields.List(fields.String())


class ValidationResultV1Schema(Schema):
    """The result of validating a rules directory."""

    valid = fields.Boolean()
    revision = fields.String(allow_none=True)
    issues = fields.List(fields.Nested(RuleIssueV1Schema))


# Cases, agents and the decision log ------------------------------------------


class AgentProfileV1Schema(StrictSchema):
    """An agent's limit profile and skills, as sent with PUT /v1/agents/{agent_id}."""

    limits = fields.Nested(LimitsV1Schema, allow_none=True, load_default=None)
    skills = fields.List(
        string(validate=validate.Length(1, 100)),
        load_default=list,
        validate=validate.Length(max=100),
    )


class LimitsOutV1Schema(Schema):
    """An agent's limits."""

    max_complexity = fields.Float()
    max_hostility = fields.Float()
    max_minutes = fields.Float()


class AgentV1Schema(Schema):
    """An agent's profile as stored; limits null means the rule set's defaults."""

    agent_id = fields.String(attribute="id")
    limits = fields.Nested(LimitsOutV1Schema, allow_none=True)
    skills = fields.List(fields.String())
    effective_limits = fields.Nested(LimitsOutV1Schema)


class AggregatesV1Schema(Schema):
    """A case's aggregates, the values rules read as case.*."""

    status = fields.String()
    messages = fields.Integer()
    hostility = fields.Integer()
    abusive_messages = fields.Integer()
    threats = fields.Integer()
    legal_threats = fields.Integer()
    physical_threats = fields.Integer()
    supervisor_requests = fields.Integer()
    complexity = fields.Float()
    minutes_with_customer = fields.Float()
    open_complaints = fields.Integer()
    reopened_complaints = fields.Integer()
    topic = fields.String(allow_none=True)
    current_agent = fields.String(allow_none=True)
    last_event_at = fields.DateTime(allow_none=True)


class LastEscalationOutV1Schema(Schema):
    """When the case was last escalated to one target, and by which rule."""

    at = fields.DateTime()
    rule = fields.String()


class ComplaintRefV1Schema(Schema):
    """An unresolved complaint."""

    case_id = fields.String()
    opened_at = fields.DateTime()


class ThreatMarkOutV1Schema(Schema):
    """A threat the customer made, in which case."""

    at = fields.DateTime()
    kind = fields.String()
    case_id = fields.String(allow_none=True)


class CustomerV1Schema(Schema):
    """What the service knows about a customer across cases."""

    id = fields.String()
    tier = fields.String()
    flags = fields.List(fields.String())
    flag_reasons = fields.Dict(keys=fields.String(), values=fields.String())
    unresolved_complaints = fields.Integer()
    unresolved_complaint_refs = fields.List(fields.Nested(ComplaintRefV1Schema))
    escalations_30d = fields.Integer()
    threats = fields.List(
        fields.Nested(ThreatMarkOutV1Schema),
        metadata={"description": "Threats remembered across cases (the last 90 days)."},
    )


# Built once, for the functions of CaseV1Schema below.
_AGGREGATES = AggregatesV1Schema()
_LAST_ESCALATION = LastEscalationOutV1Schema()


class CaseV1Schema(Schema):
    """A case as the service sees it: aggregates, customer, flags, decisions so far."""

    case_id = fields.String()
    customer = fields.Nested(CustomerV1Schema, allow_none=True)
    event_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    aggregates = fields.Function(lambda v: _AGGREGATES.dump(v.state))
    last_escalations = fields.Function(
        lambda v: {t: _LAST_ESCALATION.dump(e) for t, e in v.state.last_escalations.items()}
    )
    open_escalations = fields.Function(
        lambda v: {t: _LAST_ESCALATION.dump(e) for t, e in v.state.open_escalations.items()},
        metadata={"description": "Escalations still open (standing), by target."},
    )
    decisions = fields.List(
        fields.Dict(), metadata={"description": "The 20 latest decisions, newest first."}
    )
    decisions_url = fields.Function(lambda v: f"/v1/decisions?case_id={v.case_id}")


# Decisions a page holds at most, and by default (docs/decision-feed.md).
DECISION_PAGE_MAX = 1000
DECISION_PAGE_DEFAULT = 50


class DecisionQueryV1Schema(StrictSchema):
    """Filters of GET /v1/decisions."""

    case_id = string(validate=ID)
    customer_id = string(validate=ID)
    rule = string(validate=validate.Length(1, 80))
    outcome = string(validate=Choice(("escalate", "route", "none"), "outcome", echo=False))
    since = AwareDateTime()
    until = AwareDateTime()
    after = FeedCursor(
        metadata={
            "description": "Cursor: next_after of the previous page (opaque; the whole "
            "numbers of earlier versions are still accepted).",
        }
    )
    order = string(
        load_default="asc",
        validate=Choice(("asc", "desc"), "order"),
        metadata={"description": "asc: oldest first (the feed); desc: newest first."},
    )
    # Query strings carry text, so this integer is parsed from it.
    limit = fields.Integer(
        load_default=DECISION_PAGE_DEFAULT,
        validate=validate.Range(
            1, DECISION_PAGE_MAX, error=f"limit lies between 1 and {DECISION_PAGE_MAX}"
        ),
        error_messages={"invalid": "expected a whole number"},
        metadata={"description": f"Decisions per page, default {DECISION_PAGE_DEFAULT}."},
    )


class DecisionPageV1Schema(Schema):
    """A page of stored decisions in the order asked for (oldest first by default)."""

    decisions = fields.List(fields.Dict())
    next_after = fields.String(
        allow_none=True,
        metadata={
            "description": "Opaque cursor: pass as after= (same order) for the next page, "
            "also when this page is short or empty (then poll with it for newer "
            "decisions). Null only when nothing was read and no cursor was given."
        },
    )
    reverse_after = fields.String(
        allow_none=True,
        metadata={
            "description": "Opaque cursor of this page's first decision: pass as after= "
            "with the other order to read the other way from it."
        },
    )
    has_more = fields.Boolean(
        metadata={"description": "The page is full: more decisions may follow at once."}
    )


# Operations: the /ops page's data (docs/pages.md) ------------------------------

DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_OPS_WINDOW = timedelta(days=31)
MAX_RATE_BUCKETS = 744  # a month of hours
FAILING_STATUSES = ("failing", "failed", "retrying")


class Duration(fields.Field[timedelta]):
    """A duration written as minutes, hours or days: 30m, 24h, 7d; bounded."""

    def __init__(self, low: timedelta, high: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> timedelta:
        found = DURATION.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            raise ValidationError("expected a duration such as 30m, 24h or 7d")
        length = timedelta(seconds=int(found[1]) * DURATION_UNITS[found[2]])
        if not self.low <= length <= self.high:
            raise ValidationError(
                f"expected a duration from {spell(self.low)} to {spell(self.high)}"
            )
        return length


def spell(length: timedelta) -> str:
    """Write a duration the way Duration reads it: 7d, 24h, 90m (a single day as 24h)."""
    seconds = int(length.total_seconds())
    for unit in ("d", "h", "m") if seconds > DURATION_UNITS["d"] else ("h", "m"):
        if seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds // DURATION_UNITS[unit]}{unit}"
    return f"{seconds // 60}m"


def _limit(default: int, high: int) -> fields.Integer:
    return fields.Integer(
        load_default=default,
        validate=validate.Range(1, high, error=f"limit lies between 1 and {high}"),
        error_messages={"invalid": "expected a whole number"},
        metadata={"description": f"Page size, 1-{high} (default {default})."},
    )


class EscalationStatsQueryV1Schema(StrictSchema):
    """Query of GET /v1/stats/escalations."""

    window = Duration(
        timedelta(hours=1),
        MAX_OPS_WINDOW,
        load_default=timedelta(hours=24),
        metadata={"description": "How far back: 1h to 31d (default 24h)."},
    )
    bucket = Duration(
        timedelta(minutes=1),
        timedelta(days=1),
        load_default=timedelta(hours=1),
        metadata={"description": "Width of one bar: 1m to 1d (default 1h)."},
    )

    @validates_schema(skip_on_field_errors=True)
    def _bounded(self, data: dict[str, Any], **kwargs: Any) -> None:
        window, bucket = data["window"], data["bucket"]
        if bucket > window:
            raise ValidationError("the bucket must not be longer than the window", "bucket")
        if window / bucket > MAX_RATE_BUCKETS:
            raise ValidationError(
                f"at most {MAX_RATE_BUCKETS} buckets: choose a longer bucket or a shorter window",
                "bucket",
            )


class RateBucketV1Schema(Schema):
    """Decisions received in one bucket and how many escalated."""

    start = fields.DateTime()
    decisions = fields.Integer()
    escalations = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "null without decisions."})


class RuleRateV1Schema(Schema):
    """How often a rule matched in the window, and how many of those decisions escalated."""

    rule = fields.String()
    matched = fields.Integer()
    escalated = fields.Integer()
    rate = fields.Float(metadata={"description": "escalated / matched."})


class EscalationStatsV1Schema(Schema):
    """The escalation rate over time and by rule, from every stored decision."""

    window = fields.String(metadata={"description": "As asked, e.g. 24h."})
    bucket = fields.String(metadata={"description": "As asked, e.g. 1h."})
    since = fields.DateTime(
        metadata={"description": "Start of the first bucket (the window widened to whole buckets)."}
    )
    until = fields.DateTime(metadata={"description": "Now, the end of the last bucket."})
    decisions = fields.Integer()
    escalations = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "null without decisions."})
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())
    series = fields.List(
        fields.Nested(RateBucketV1Schema), metadata={"description": "Oldest first."}
    )
    by_rule = fields.List(
        fields.Nested(RuleRateV1Schema),
        metadata={"description": "Up to 50 rules, most escalations first."},
    )


class LatestDecisionsQueryV1Schema(StrictSchema):
    """Query of GET /v1/decisions/latest."""

    case_id = string(validate=ID)
    customer_id = string(validate=ID)
    outcome = string(validate=Choice(("escalate", "route", "none"), "outcome"))
    before = cursor(1, "Cursor: next_before of the previous page.")
    limit = _limit(20, 200)


class LatestDecisionsPageV1Schema(Schema):
    """A page of stored decisions, newest first."""

    decisions = fields.List(fields.Dict())
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "Pass as before= for the next page."}
    )


class DueTimersQueryV1Schema(StrictSchema):
    """Query of GET /v1/timers."""

    due_within = Duration(
        timedelta(minutes=1),
        MAX_OPS_WINDOW,
        load_default=timedelta(hours=24),
        metadata={"description": "Deadlines due before now plus this: 1m to 31d (default 24h)."},
    )
    limit = _limit(50, 200)


class DueTimerV1Schema(Schema):
    """A pending timer deadline of a case."""

    case_id = fields.String()
    timer_id = fields.String()
    kind = fields.String(metadata={"enum": ["warning", "breach"]})
    percent = fields.Integer(
        allow_none=True, metadata={"description": "For a warning: how far to the target."}
    )
    due_at = fields.DateTime()
    overdue = fields.Boolean(metadata={"description": "Due already, not fired yet."})
    started_by = fields.String(metadata={"description": "The event that started the timer."})
    channel = fields.String(allow_none=True)
    rules_revision = fields.String()


class DueTimersV1Schema(Schema):
    """Pending deadlines due soon, soonest first."""

    due_before = fields.DateTime()
    timers = fields.List(fields.Nested(DueTimerV1Schema))
    more = fields.Boolean(metadata={"description": "More deadlines are due than listed."})


class FailingDeliveriesQueryV1Schema(StrictSchema):
    """Query of GET /v1/webhook-deliveries."""

    status = string(
        load_default="failing",
        validate=Choice(FAILING_STATUSES, "status"),
        metadata={
            "description": "failing (default): failed or retrying; failed: given up; "
            "retrying: the last attempt failed, another is scheduled."
        },
    )
    before = cursor(1, "Cursor: next_before of the previous page.")
    limit = _limit(50, 200)


class LastAttemptV1Schema(Schema):
    """The latest attempt of a delivery."""

    at = fields.String()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "timeout or network error."})
    duration_ms = fields.Float()


_LAST_ATTEMPT = LastAttemptV1Schema()  # built once, for FailingDeliveryV1Schema


class FailingDeliveryV1Schema(Schema):
    """A webhook delivery that failed or is being retried (never its payload)."""

    delivery_id = fields.String()
    webhook_id = fields.String(
        allow_none=True, metadata={"description": "null once the endpoint was deleted."}
    )
    decision_id = fields.String()
    type = fields.String()
    status = fields.String(metadata={"enum": ["failed", "retrying"]})
    attempts = fields.Function(lambda d: len(d.attempts))
    last_attempt = fields.Function(
        lambda d: _LAST_ATTEMPT.dump(d.attempts[-1]) if d.attempts else None
    )
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class FailingDeliveriesV1Schema(Schema):
    """Failing webhook deliveries of every endpoint, newest first."""

    deliveries = fields.List(fields.Nested(FailingDeliveryV1Schema))
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "Pass as before= for the next page."}
    )
