"""GET /ops: the operations page, an HTML and JavaScript shell that holds no data.

The page asks for an API key, keeps it in the browser's sessionStorage and
sends it as a Bearer header with every request for data (docs/pages.md).
Scripts and styles are served from this package: nothing is fetched from
elsewhere, and the Content-Security-Policy says so.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

bp = Blueprint(
    "ops",
    __name__,
    static_folder="static",
    static_url_path="/static/pages",
    template_folder="templates",
)

# Own scripts and styles only: no inline script, no other origin, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def html_page(html: str) -> Response:
    """Return a page with headers that keep it to this service's own files."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/ops")
def ops_page() -> Response:
    """Return the operations page: escalation rate, latest decisions, rules, timers, webhooks."""
    return html_page(render_template("pages/ops.html"))
