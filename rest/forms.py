"""Form bodies: a multipart/form-data body whose Content-Type names no boundary (as some generated clients send
it: the boundary is the body's own first line, and the standard library's MIME parser reads the parts), and
deep-image's form fields as the JSON body they stand for. Pure: no ComfyUI import."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Mapping
from typing import Any

from ..core.errors import HiResInputError

FORM_PARAMETERS = "parameters"
"""deep-image's form-data part that holds the request's fields as JSON text."""


class FormError(ValueError):
    """The body is not a multipart body this reader can split."""


def boundary_of(body: bytes) -> str:
    """The boundary a multipart body opens with (`--<boundary>` on its first line)."""
    first = body.split(b"\r\n", 1)[0]
    boundary = first[2:]
    if not first.startswith(b"--") or not boundary or len(boundary) > 200 or not boundary.isascii() \
            or any(byte <= 32 for byte in boundary):
        raise FormError("the body does not open with a multipart boundary line")
    return boundary.decode("ascii")


def split_form(body: bytes) -> tuple[dict[str, str | bytes], dict[str, bytes]]:
    """(fields, files) of the body: a part with a filename is a file; a text part is a str, another a bytes
    (as aiohttp's own form reader gives them). A name given twice is refused."""
    header = f'Content-Type: multipart/form-data; boundary="{boundary_of(body)}"\r\n\r\n'.encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise FormError("the body holds no parts")
    fields: dict[str, str | bytes] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise FormError("a part has no name")
        if name in fields or name in files:
            raise FormError(f"the field {name!r} is given twice")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = data
        elif part.get_content_maintype() == "text" and "content-type" in part:
            fields[name] = data.decode(part.get_content_charset() or "utf-8", errors="strict")
        elif "content-type" not in part:
            fields[name] = data.decode("utf-8", errors="strict")
        else:
            fields[name] = data
    return fields, files


def _form_text(key: str, value: str | bytes | bytearray) -> str:
    if isinstance(value, (bytes, bytearray)):  # aiohttp keeps a part with a non-text content type as bytes
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise HiResInputError(key, bytes(value[:40]), "is not UTF-8 text", "send the field as UTF-8 text") from None
    return value


def normalize_form(fields: Mapping[str, str | bytes]) -> dict[str, Any]:
    """A form-data body as the JSON body it stands for: the schema's `parameters` part is the fields as JSON
    text; otherwise `background[generate][description]` keys nest, a value that is a JSON object (`background`,
    `fit`) is parsed, and other values stay strings (the field checks accept numbers and booleans written as
    text). A field given twice is refused."""
    out: dict[str, Any] = {}
    if FORM_PARAMETERS in fields:
        text = _form_text(FORM_PARAMETERS, fields[FORM_PARAMETERS])
        try:
            out = json.loads(text)
        except (ValueError, RecursionError):
            raise HiResInputError(FORM_PARAMETERS, text[:60], "is not valid JSON", "send the fields as a JSON object") \
                from None
        if not isinstance(out, dict):
            raise HiResInputError(FORM_PARAMETERS, text[:60], "must be a JSON object", "send the fields as an object")
    for key, value in fields.items():
        if key == FORM_PARAMETERS:
            continue
        value = _form_text(key, value)
        parts = key.replace("]", "").split("[")
        if len(parts) == 1 and value.strip().startswith("{"):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                raise HiResInputError(key, value[:60], "is not valid JSON", "send the object as JSON text") from None
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise HiResInputError(key, value, "mixes a value and an object", "send the field once")
        if parts[-1] in target:
            raise HiResInputError(key, value, "is given twice", "send the field once")
        target[parts[-1]] = value
    return out
