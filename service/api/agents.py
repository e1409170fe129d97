"""Agents: GET and PUT /v1/agents/{agent_id}, an agent's limit profile and skills."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint

from schemas.api import AgentProfileV1Schema, AgentV1Schema
from service.api import body
from service.api.codes import ErrorCode
from service.api.context import services
from service.api.errors import ApiError
from service.cases.model import AgentProfile
from service.store import repository as repo

bp = Blueprint("agents", __name__)
# Reused: building a schema costs more than loading or dumping with it.
AGENT_V1 = AgentV1Schema()
AGENT_PROFILE_V1 = AgentProfileV1Schema()


def _dump(profile: AgentProfile) -> dict[str, Any]:
    effective = profile.limits or services().policies.current.ruleset.defaults.agent_limits
    dumped: dict[str, Any] = AGENT_V1.dump({**profile.__dict__, "effective_limits": effective})
    return dumped


@bp.get("/v1/agents/<agent_id>")
def get_agent(agent_id: str) -> dict[str, Any]:
    """Return an agent's limit profile and skills."""
    with services().store.read() as conn:
        profile = repo.load_agent(conn, body.path_id("agent_id", agent_id))
    if profile is None:
        raise ApiError(
            404, ErrorCode.AGENT_NOT_FOUND, "No such agent", f"agent {agent_id} has no profile"
        )
    return _dump(profile)


@bp.put("/v1/agents/<agent_id>")
def put_agent(agent_id: str) -> tuple[dict[str, Any], int]:
    """Create or replace an agent's limit profile and skills."""
    data = body.load(AGENT_PROFILE_V1)
    profile = AgentProfile(
        id=body.path_id("agent_id", agent_id), limits=data["limits"], skills=tuple(data["skills"])
    )
    with services().store.write() as conn:
        created = repo.put_agent(conn, profile, services().clock())
    return _dump(replace(profile)), 201 if created else 200
