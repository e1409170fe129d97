"""The smallest Flask app bench/ingest.py compares the service against.

    gunicorn -c gunicorn.conf.py bench.bare_app:app

It runs under the project's own gunicorn settings (worker class, workers,
threads, the buffering ASGI wrapper), so what separates its figures from the
service's is the service's own work per request: ``POST /bare`` parses the
JSON body and answers 201 with a small JSON object; ``GET /readyz`` lets the
test harness see it is up.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from service import config as settings

app = Flask(__name__)
# The buffering wrapper in gunicorn.conf.py reads its limits from the app's config.
app.config.from_mapping(settings.defaults(app.instance_path))


@app.post("/bare")
def bare() -> tuple[dict[str, Any], int]:
    """Parse the JSON body and answer 201 with a small JSON object."""
    body = request.get_json()
    return {"ok": True, "keys": len(body) if isinstance(body, dict) else 0}, 201


@app.get("/readyz")
def ready() -> dict[str, str]:
    """Answer 200 once the worker serves."""
    return {"status": "ready"}
