"""The API reference's reading of an OpenAPI document: types, groups, descriptions."""

from __future__ import annotations

from service.api.docs import TypeLabel, components, group_name, operations, prose, type_label


def test_types_are_described_in_words_with_the_schema_they_name() -> None:
    assert type_label({"$ref": "#/components/schemas/DecisionV1"}) == TypeLabel("", "DecisionV1")
    assert type_label(
        {"type": "array", "items": {"$ref": "#/components/schemas/SignalV1"}}
    ) == TypeLabel("array of", "SignalV1")
    assert type_label({"type": "string", "format": "date-time", "nullable": True}) == TypeLabel(
        "string (date-time) or null"
    )
    assert type_label({"type": "object", "additionalProperties": {"type": "integer"}}) == (
        TypeLabel("object of integer")
    )
    assert type_label({"allOf": [{"$ref": "#/components/schemas/X"}]}) == TypeLabel("", "X")
    assert type_label(None) == TypeLabel("any")


def test_operations_are_grouped_by_tag_else_by_resource_with_the_service_last() -> None:
    spec = {
        "paths": {
            "/healthz": {"get": {"summary": "Liveness."}},
            "/v1/cases/{case_id}": {"get": {}, "delete": {}},
            "/v1/webhook-deliveries": {"get": {}},
            "/v1/rules": {"get": {"tags": ["rule sets"]}},
        }
    }
    groups = operations(spec)
    assert [(g.name, [f"{o.method} {o.path}" for o in g.operations]) for g in groups] == [
        ("cases", ["GET /v1/cases/{case_id}", "DELETE /v1/cases/{case_id}"]),
        ("webhooks", ["GET /v1/webhook-deliveries"]),
        ("rule sets", ["GET /v1/rules"]),
        ("service", ["GET /healthz"]),
    ]
    assert group_name("/v1/stats/escalations", {}) == "operations"


def test_an_operation_keeps_its_parameters_bodies_errors_examples_and_scopes() -> None:
    spec = {
        "security": [{"bearer": ["decisions:read"]}],
        "paths": {
            "/v1/things/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True}],
                "post": {
                    "parameters": [
                        {"name": "mode", "in": "query", "schema": {"enum": ["a", "b"]}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ThingV1"},
                                "example": {"name": "x"},
                            }
                        },
                    },
                    "responses": {"422": {"description": "Bad."}, "200": {"description": "OK."}},
                },
            }
        },
    }
    (op,) = operations(spec)[0].operations
    assert [p.name for p in op.parameters] == ["id", "mode"]
    assert op.parameters[1].enum == ("a", "b")
    assert op.request[0].type.ref == "ThingV1"
    assert op.request[0].example == '{\n  "name": "x"\n}'
    assert [(r.status, r.is_error) for r in op.responses] == [("200", False), ("422", True)]
    assert op.security == ("bearer: decisions:read",)
    assert op.anchor == "op-post-v1-things-id"


def test_schemas_list_their_properties_and_which_are_required() -> None:
    spec = {
        "components": {
            "schemas": {
                "B": {
                    "type": "object",
                    "properties": {"x": {"type": "integer"}},
                    "required": ["x"],
                },
                "A": {"type": "object", "properties": {}},
            }
        }
    }
    found = components(spec)
    assert [c.name for c in found] == ["A", "B"]
    assert [(p.name, p.required, p.type.text) for p in found[1].properties] == [
        ("x", True, "integer")
    ]


def test_descriptions_are_escaped_and_keep_paragraphs_lists_and_code() -> None:
    html = str(prose("Send `<b>` safely.\n\n- `one`: first\n- two <script>"))
    assert html == (
        "<p>Send <code>&lt;b&gt;</code> safely.</p>"
        "<ul><li><code>one</code>: first</li><li>two &lt;script&gt;</li></ul>"
    )
