"""A REST request's body read safely: a length is required and capped, JSON, urlencoded and multipart bodies
are parsed, and a malformed one of any kind is the API's 400, never an exception from the parser."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .forms import split_form

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
"""The deepest nesting a JSON body may have (the deepest real request nests 3 levels)."""


def json_depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iterative: a hostile body cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


async def read_body(request: web.Request, max_bytes: int,
                    refuse: Callable[[int, str], Exception]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(fields, files, was_json) of a JSON, urlencoded or multipart body of at most `max_bytes`; anything
    else is `refuse(status, message)`: 411 without a Content-Length, 413 over the cap, 400 for a body that
    cannot be read."""
    if request.content_length is None and request.body_exists:
        raise refuse(411, "Send the body with a Content-Length header.")
    if (request.content_length or 0) > max_bytes:
        raise refuse(413, f"The body is {request.content_length} bytes; this server accepts at most "
                     f"{max_bytes}.")
    if request.content_type == "multipart/form-data" and "boundary" not in request.headers.get("Content-Type", ""):
        try:  # a generated client's form body: the boundary is only in the body
            fields, files = split_form(await request.read())
        except (ValueError, LookupError) as error:  # FormError, a bad UTF-8 or an unknown charset
            raise refuse(400, f"The body is not valid multipart/form-data data: {error}.") from None
        return fields, files, False
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields, files = {}, {}
        try:
            form = await request.post()
        except Exception as error:  # aiohttp's parsers raise many types for malformed bodies
            log.info("HiRes Studio API: unreadable form body: %r", error)
            raise refuse(400, f"The body is not valid {request.content_type} data.") from None
        for name, value in form.items():
            if name in fields or name in files:
                raise refuse(400, f"The field {name!r} is given twice: send it once.")
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                fields[name] = value
        return fields, files, False
    raw = await request.read()
    if not raw:
        return {}, {}, True
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, a too-long integer, nesting past the stack
        raise refuse(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise refuse(400, "The body must be a JSON object.")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise refuse(400, f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return data, {}, True
