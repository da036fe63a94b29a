"""deep-image's published OpenAPI schema (tests/fixtures/deep-image-openapi.yml) as the REST tests' judge:
openapi-core validates requests and responses against it, with the host changed to the server under test (the
one change a user switching from the hosted API makes).

Test support for the REST tests.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "deep-image-openapi.yml"
HOST = "http://127.0.0.1:8188"
"""The schema's server, as a client pointed at a local ComfyUI has it (the port does not matter to the checks)."""
UNDOCUMENTED_STATUSES = (411, 413)
"""Statuses this server adds (a chunked body, a body over the cap): their body is the schema's Error."""


@cache
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


@cache
def _openapi() -> OpenAPI:
    spec = copy.deepcopy(schema())
    spec["servers"] = [{"url": HOST}]
    return OpenAPI.from_dict(spec)


def request_examples() -> dict[str, dict[str, Any]]:
    """The schema's own JSON request examples, by name."""
    body = schema()["components"]["requestBodies"]["ProcessBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in body["examples"].items()}


def _request(method: str, path: str, body: Any = None) -> MockRequest:
    data = b"" if body is None else json.dumps(body).encode()
    return MockRequest(HOST, method.lower(), path, headers={"X-API-KEY": "any"}, data=data,
                       content_type="application/json")


def validate_request(path: str, body: dict[str, Any]) -> None:
    """Raise unless `body` is a valid JSON request of POST `path` by the schema."""
    _openapi().validate_request(_request("post", path, body))


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise unless `body` is what the schema documents for `status` on this route (the result route's path
    is matched as the schema writes it). The statuses the schema lacks (UNDOCUMENTED_STATUSES) must carry
    its Error body."""
    if status in UNDOCUMENTED_STATUSES:
        error = schema()["components"]["schemas"]["Error"]
        resolved = {"type": "object", "allOf": [schema()["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
                                                for ref in error["allOf"]]}
        OAS30Validator(resolved).validate(body)
        assert isinstance(body.get("message"), str) and isinstance(body.get("code"), str), body
        return
    response = MockResponse(json.dumps(body).encode(), status_code=status, content_type="application/json")
    _openapi().validate_response(_request(method, path, None if method.lower() == "get" else {}), response)
