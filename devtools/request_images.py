"""Small pictures for REST requests: a flat-colour PNG, and deep-image's `base64,` url form of a file."""

from __future__ import annotations

import base64
import io

from PIL import Image


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def base64_url(data: bytes) -> str:
    """The `url` value deep-image takes for a file sent inline."""
    return "base64," + base64.b64encode(data).decode()


def png_base64_url(width: int, height: int) -> str:
    return base64_url(png_bytes(width, height))
