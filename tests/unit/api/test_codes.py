"""Every error code the API can answer is defined once and listed in the OpenAPI document."""

from __future__ import annotations

import ast
from pathlib import Path

from service.api.codes import DESCRIPTIONS, ErrorCode
from service.api.errors import HTTP_CODES
from service.api.openapi import build_spec

API = Path(__file__).resolve().parents[3] / "service" / "api"
# Every raise site uses ErrorCode: a literal code anywhere fails the test.
LITERAL_CODES_ALLOWED_IN: set[str] = set()


def raised_codes() -> list[tuple[str, int, str]]:
    """Return (file, line, code) for every ApiError built in service/api with a known code."""
    found = []
    for path in sorted(API.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ApiError"):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            code = node.args[1] if len(node.args) > 1 else keywords.get("code")
            if isinstance(code, ast.Constant):
                assert path.name in LITERAL_CODES_ALLOWED_IN, ("use ErrorCode", path, node.lineno)
                found.append((path.name, node.lineno, str(code.value)))
            elif isinstance(code, ast.Attribute) and getattr(code.value, "id", "") == "ErrorCode":
                found.append((path.name, node.lineno, ErrorCode[code.attr].value))
            else:  # a variable: errors.py's HTTP_CODES, checked below
                assert path.name == "errors.py", (path.name, node.lineno)
    return found


def test_every_code_raised_in_the_api_is_in_the_enum() -> None:
    raised = raised_codes()
    known = {code.value for code in ErrorCode}

    assert len({code for _, _, code in raised}) >= 10  # the reader does find the raise sites
    assert [site for site in raised if site[2] not in known] == []
    assert {code for code, _ in HTTP_CODES.values()} <= set(ErrorCode)


def test_every_code_has_a_description() -> None:
    assert set(DESCRIPTIONS) == set(ErrorCode)
    assert all(code.description.strip() for code in ErrorCode)


def test_the_openapi_document_lists_every_code_with_its_description() -> None:
    code = build_spec()["components"]["schemas"]["ProblemV1"]["properties"]["code"]

    assert code["type"] == "string"
    assert code["enum"] == [member.value for member in ErrorCode]
    for member in ErrorCode:
        assert f"`{member.value}`: {member.description}" in code["description"]
