"""A multipart/form-data body whose Content-Type names no boundary (as some generated clients send it): the
boundary is the body's own first line, and the parts are read by the standard library's MIME parser. Pure: no
ComfyUI import."""

from __future__ import annotations

import email.parser
import email.policy

FILE, FIELD = "file", "field"


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
