"""The OpenAPI document is valid and documents every route the service serves."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate


def test_the_document_is_valid_openapi(client: FlaskClient) -> None:
    validate(client.get("/openapi.json").get_json())


def test_every_route_is_documented(app: Flask, client: FlaskClient) -> None:
    documented = client.get("/openapi.json").get_json()["paths"]
    for route in app.url_map.iter_rules():
        if route.endpoint == "static" or route.endpoint.endswith(".static"):
            continue
        path = route.rule.replace("<", "{").replace(">", "}")
        path = path.replace("{string:", "{").replace("{path:", "{")
        assert path in documented or path == "/openapi.json", path
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if path != "/openapi.json":
                assert method.lower() in documented[path], (path, method)


def test_errors_are_documented_as_problem_documents(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    responses = spec["paths"]["/v1/evaluate"]["post"]["responses"]

    assert "application/problem+json" in responses["422"]["content"]
    assert set(spec["components"]["schemas"]["ProblemV1"]["properties"]) >= {
        "type",
        "title",
        "status",
        "code",
        "errors",
    }
