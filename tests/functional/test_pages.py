"""/ops and /docs as served: shells without data, own files only, the reference complete."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.factories import wire_event


def test_the_ops_page_is_a_shell_that_holds_no_data(client: FlaskClient) -> None:
    posted = client.post("/v1/cases/P-1/events", json=wire_event(event_id="p-1"))
    assert posted.status_code == 201

    page = client.get("/ops")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'id="key-form"' in html
    assert "P-1" not in html
    assert "cus-1" not in html
    assert "not arrived" not in html


def test_the_pages_load_only_their_own_scripts_and_styles(client: FlaskClient) -> None:
    for path in ("/ops", "/docs"):
        page = client.get(path)
        html = page.get_data(as_text=True)
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        # No inline script (the policy forbids it) and nothing from another origin.
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not ref.startswith(("http:", "https:", "//")), ref
            if ref.startswith("/static/"):
                assert client.get(ref).status_code == 200, ref
    assert client.get("/static/pages/ops.js").mimetype == "text/javascript"
    assert client.get("/static/pages/pages.css").mimetype == "text/css"
    assert client.get("/static/pages/../__init__.py").status_code == 404


def test_the_reference_lists_every_operation_and_schema_of_the_document(
    client: FlaskClient,
) -> None:
    spec = client.get("/openapi.json").get_json()
    html = client.get("/docs").get_data(as_text=True)

    for path, item in spec["paths"].items():
        for method in item:
            assert f'data-operation="{method.upper()} {path}"' in html, (method, path)
    for name in spec["components"]["schemas"]:
        assert f'data-schema="{name}"' in html, name
    # Every link to a schema leads to one on the page.
    for target in set(re.findall(r'href="#(schema-[^"]+)"', html)):
        assert f'id="{target}"' in html, target
