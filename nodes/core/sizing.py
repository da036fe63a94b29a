"""Output-size rules: deep-image's resize rules and Stability v1's upscale rules.

One function owns each rule set, and every node asks it, so sizes agree everywhere: the image is never
squashed (its aspect ratio is kept to the nearest pixel) and the output is exactly the size the plan says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, Union

from .errors import HiResInputError

Fit = Literal["canvas", "crop", "bounds", "cover"]
FITS: tuple[Fit, ...] = ("canvas", "crop", "bounds", "cover")
Dimension = Union[int, str, None]
"""A requested side: pixels (int, 0 or None = not given) or a percentage of the source side ("200%")."""

MAX_SIDE = 16384
"""Largest output side, ComfyUI's own MAX_RESOLUTION."""
MAX_AI_SCALE = 4.0
"""deep-image: AI upscale goes to 4x of the original at most; the rest is bicubic."""

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class SizePlan:
    """How a source image becomes the output: crop `source_box`, resize it to `resized`, paste it at
    `offset` on a `canvas`-sized frame (the rest is padding)."""

    source: tuple[int, int]
    source_box: Box
    resized: tuple[int, int]
    canvas: tuple[int, int]
    offset: tuple[int, int]

    @property
    def scale(self) -> float:
        """The largest per-side magnification from source pixels to output pixels."""
        return max(self.resized[0] / self.source_box.w, self.resized[1] / self.source_box.h)

    @property
    def padded(self) -> bool:
        return self.resized != self.canvas


def _parse_dimension(name: str, value: Dimension, source_side: int) -> int | None:
    """Pixels for a requested side, or None when the side is not given."""
    if value is None or value == 0 or value == "":
        return None
    if isinstance(value, bool):
        raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage ('200%')")
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match is None:
            if value.strip().isdigit():
                return _parse_dimension(name, int(value), source_side)
            raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage ('200%')")
        percent = float(match.group(1))
        if percent <= 0:
            raise HiResInputError(name, value, "a percentage must be above 0", "use e.g. '200%'")
        return max(1, round(source_side * percent / 100.0))
    if not isinstance(value, int):
        raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage ('200%')")
    if value < 0:
        raise HiResInputError(name, value, "a size cannot be negative", "use 0 to keep the aspect ratio, or pixels")
    return value


def _check_side(name: str, value: int) -> None:
    if value > MAX_SIDE:
        raise HiResInputError(
            name, value, f"Image cannot be upscaled above {MAX_SIDE} x {MAX_SIDE} pixels limit",
            f"ask for at most {MAX_SIDE} pixels per side",
        )


def _keep_ratio(given: int, src_given: int, src_other: int) -> int:
    """The other side for one given side: the nearest integer to the exact aspect-ratio value."""
    return max(1, math.floor(src_other * given / src_given + 0.5))


def plan_size(
    src_w: int,
    src_h: int,
    width: Dimension = None,
    height: Dimension = None,
    fit: str = "canvas",
    scale_by: float = 0.0,
) -> SizePlan:
    """deep-image's resize rules.

    Only one side given: the other keeps the aspect ratio (640x427, width 1000 -> 1000x667). Both given: the
    image keeps its ratio and is placed in the W x H frame by `fit` (canvas: fit inside and pad; crop: cover and
    crop the centre; bounds: fit inside, output may be smaller; cover: cover, output may be larger). Neither:
    `scale_by` times the source. Every violation is a HiResInputError before any work.
    """
    if src_w < 1 or src_h < 1:
        raise HiResInputError("image", (src_w, src_h), "has no pixels", "connect an image of at least 1x1")
    if fit not in FITS:
        raise HiResInputError("fit", fit, "is not a fit mode", f"use one of {', '.join(FITS)}")
    w = _parse_dimension("width", width, src_w)
    h = _parse_dimension("height", height, src_h)
    full = Box(0, 0, src_w, src_h)

    # One side as a percentage is a scale factor for both sides.
    if (w is None) != (h is None):
        given = width if h is None else height
        if isinstance(given, str) and _PERCENT.match(given):
            w, h, scale_by = None, None, float(_PERCENT.match(given).group(1)) / 100.0

    if w is None and h is None:
        if not scale_by or scale_by <= 0 or not math.isfinite(scale_by):
            raise HiResInputError(
                "scale_by", scale_by, "width and height are both 0, so the scale factor is needed and must be above 0",
                "set width, height, or a scale_by above 0",
            )
        w, h = max(1, round(src_w * scale_by)), max(1, round(src_h * scale_by))
        _check_side("width", w)
        _check_side("height", h)
        return SizePlan((src_w, src_h), full, (w, h), (w, h), (0, 0))

    if h is None:
        _check_side("width", w)
        h = _keep_ratio(w, src_w, src_h)
        _check_side("height", h)
        return SizePlan((src_w, src_h), full, (w, h), (w, h), (0, 0))
    if w is None:
        _check_side("height", h)
        w = _keep_ratio(h, src_h, src_w)
        _check_side("width", w)
        return SizePlan((src_w, src_h), full, (w, h), (w, h), (0, 0))

    _check_side("width", w)
    _check_side("height", h)
    if fit in ("canvas", "bounds"):
        # The limiting side lands exactly on the frame; the other is rounded and can never exceed it.
        if w * src_h <= h * src_w:
            rw, rh = w, min(h, _keep_ratio(w, src_w, src_h))
        else:
            rw, rh = min(w, _keep_ratio(h, src_h, src_w)), h
        if fit == "bounds":
            return SizePlan((src_w, src_h), full, (rw, rh), (rw, rh), (0, 0))
        return SizePlan((src_w, src_h), full, (rw, rh), (w, h), ((w - rw) // 2, (h - rh) // 2))

    if fit == "cover":
        if w * src_h >= h * src_w:
            rw, rh = w, max(h, _keep_ratio(w, src_w, src_h))
        else:
            rw, rh = max(w, _keep_ratio(h, src_h, src_w)), h
        _check_side("width", rw)
        _check_side("height", rh)
        return SizePlan((src_w, src_h), full, (rw, rh), (rw, rh), (0, 0))

    # crop: take the centred source region with the frame's aspect ratio, then resize it to the frame,
    # so an extreme aspect ratio never builds a huge intermediate image.
    if w * src_h >= h * src_w:
        cw, ch = src_w, min(src_h, max(1, round(src_w * h / w)))
    else:
        cw, ch = min(src_w, max(1, round(src_h * w / h))), src_h
    box = Box((src_w - cw) // 2, (src_h - ch) // 2, cw, ch)
    return SizePlan((src_w, src_h), box, (w, h), (w, h), (0, 0))


def ai_upscale_passes(model_scale: float, needed_scale: float) -> int:
    """How many times to run an upscale model: enough to reach `needed_scale`, never past 4x in total.

    The rest of the way (or the way down) is a bicubic resize. A model above 4x is refused, because deep-image
    caps AI upscaling at 4x of the original.
    """
    if model_scale > MAX_AI_SCALE:
        raise HiResInputError(
            "upscale_model", f"{model_scale:g}x", f"AI upscaling is capped at {MAX_AI_SCALE:g}x of the original",
            "connect an upscale model of 4x or less",
        )
    if needed_scale <= 1.0:
        return 0
    if model_scale <= 1.0:
        return 1
    passes, total = 0, 1.0
    while total < needed_scale and total * model_scale <= MAX_AI_SCALE + 1e-9:
        total *= model_scale
        passes += 1
    return max(passes, 1)


# Stability v1 `image-to-image/upscale` limits.
STABILITY_MIN_SIDE = 512
STABILITY_MAX_OUTPUT_PIXELS = 4_194_304
STABILITY_MAX_INPUT_PIXELS = 1_048_576


def stability_v1_size(src_w: int, src_h: int, width: int = 0, height: int = 0) -> tuple[int, int]:
    """Stability v1's upscale rules: 2x by default; only one of width or height, at least 512; the input at
    most 1,048,576 pixels and the output at most 4,194,304; the aspect ratio is kept."""
    if src_w * src_h > STABILITY_MAX_INPUT_PIXELS:
        raise HiResInputError(
            "image", f"{src_w}x{src_h}", f"the input may have at most {STABILITY_MAX_INPUT_PIXELS:,} pixels",
            "downscale the input to 1024x1024 or fewer pixels first",
        )
    if width and height:
        raise HiResInputError(
            "height", height, "Only one of width or height may be specified", "set the other one to 0",
        )
    for name, value in (("width", width), ("height", height)):
        if value and value < STABILITY_MIN_SIDE:
            raise HiResInputError(name, value, f"must be at least {STABILITY_MIN_SIDE}", "ask for 512 pixels or more")
        if value < 0:
            raise HiResInputError(name, value, "a size cannot be negative", "use 0 for the 2x default")
    if width:
        out = (width, _keep_ratio(width, src_w, src_h))
    elif height:
        out = (_keep_ratio(height, src_h, src_w), height)
    else:
        out = (src_w * 2, src_h * 2)
    if out[0] * out[1] > STABILITY_MAX_OUTPUT_PIXELS:
        raise HiResInputError(
            "width" if width else "height" if height else "image", width or height or f"{src_w}x{src_h}",
            f"the output {out[0]}x{out[1]} would exceed the maximum pixel count of "
            f"{STABILITY_MAX_OUTPUT_PIXELS:,}", "ask for a smaller size",
        )
    return out
