"""Image bytes in and out: base64 payloads, decoding under a pixel cap, and the result encodings
(deep-image's output_format, quality and max_file_size)."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, TiffImagePlugin

from ..core.errors import HiResInputError

FORMATS = {"jpeg": ("JPEG", "jpg", "image/jpeg"), "jpg": ("JPEG", "jpg", "image/jpeg"),
           "png": ("PNG", "png", "image/png"), "webp": ("WEBP", "webp", "image/webp")}
"""output_format -> (PIL format, file extension, MIME type)."""
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
MAX_DPI = 65535
"""The largest density JPEG's JFIF header can hold (PNG and EXIF hold more)."""
_EXIF_X_RESOLUTION, _EXIF_Y_RESOLUTION, _EXIF_RESOLUTION_UNIT, _INCHES = 282, 283, 296, 2


def decode_base64(value: str, field: str = "url") -> bytes:
    """deep-image's `"base64,<data>"` (a `data:image/...;base64,` prefix is accepted too)."""
    _, _, data = value.partition("base64,")
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HiResInputError(field, value[:40] + "...", "is not valid base64 data",
                         'send "base64,<the file\'s bytes in base64>"') from None


def open_image(data: bytes, max_pixels: int, field: str = "url") -> Image.Image:
    """The decoded image (RGB, or RGBA when it has transparency), refusing a file that does not decode or
    whose header declares more than `max_pixels` pixels (before any pixel is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            w, h = image.size
            if w * h > max_pixels:
                raise HiResInputError(field, f"{w}x{h}", f"has {w * h:,} pixels, more than this server's "
                                 f"{max_pixels:,}-pixel limit", "send a smaller image")
            image.load()
    except HiResInputError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning, SyntaxError):
        raise HiResInputError(field, f"{len(data)} bytes", "Unidentified image",
                         "send a PNG, JPEG or WebP file") from None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def parse_file_size(value: int | str) -> int:
    """max_file_size in bytes: an int (bytes) or "500kb", "1MB", "2gb"."""
    if isinstance(value, bool):
        raise HiResInputError("max_file_size", value, "is not a size", 'use bytes or a string like "1MB"')
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise HiResInputError("max_file_size", value, "is not a size",
                                  'use bytes or a string like "500kb" or "1MB"')
        size = int(float(match[1]) * _UNITS[match[2].lower() if match[2] else None])
    if size <= 0:
        raise HiResInputError("max_file_size", value, "must be more than 0 bytes", 'use a size like "1MB"')
    return size


@dataclass(frozen=True)
class Encoded:
    data: bytes
    extension: str
    mime: str
    quality: int | None


def _density(pil_format: str, dpi: int | None) -> dict[str, object]:
    """Save options that write `dpi` into the file: PNG's pHYs and JPEG's JFIF density; WebP has neither, so
    its EXIF resolution tags."""
    if dpi is None:
        return {}
    if pil_format == "WEBP":
        exif = Image.Exif()
        exif[_EXIF_X_RESOLUTION] = exif[_EXIF_Y_RESOLUTION] = TiffImagePlugin.IFDRational(dpi, 1)
        exif[_EXIF_RESOLUTION_UNIT] = _INCHES
        return {"exif": exif.tobytes()}
    return {"dpi": (dpi, dpi)}


def _save(image: Image.Image, pil_format: str, quality: int | None, dpi: int | None = None) -> bytes:
    out = io.BytesIO()
    if pil_format == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    options = {} if quality is None else {"quality": quality}
    image.save(out, pil_format, **options, **_density(pil_format, dpi))
    return out.getvalue()


def encode(image: Image.Image, output_format: str = "png", quality: int = 85,
           max_file_size: int | None = None, dpi: int | None = None) -> Encoded:
    """The result file, with `dpi` in its metadata when given. For jpeg and webp with a max_file_size, the
    highest quality (at most `quality`) whose file fits; if none does, quality 1. PNG is lossless and ignores
    quality and max_file_size."""
    pil_format, extension, mime = FORMATS[output_format]
    if pil_format == "PNG":
        return Encoded(_save(image, "PNG", None, dpi), extension, mime, None)
    data = _save(image, pil_format, quality, dpi)
    if max_file_size is None or len(data) <= max_file_size:
        return Encoded(data, extension, mime, quality)
    low, high, best = 1, quality - 1, None
    while low <= high:
        mid = (low + high) // 2
        candidate = _save(image, pil_format, mid, dpi)
        if len(candidate) <= max_file_size:
            best, low = (mid, candidate), mid + 1
        else:
            high = mid - 1
    chosen = best or (1, _save(image, pil_format, 1, dpi))
    return Encoded(chosen[1], extension, mime, chosen[0])
