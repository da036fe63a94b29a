"""Output-size rules: deep-image's resize rules and Stability v1's upscale rules, with each API's limits.

One function owns each rule set, and every node, graph builder and REST check asks it, so sizes agree
everywhere: the image is never squashed (its aspect ratio is kept to the nearest pixel) and the output is
exactly the size the plan says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Union

from .errors import HiResInputError

Fit = Literal["canvas", "crop", "bounds", "cover"]
FITS: tuple[Fit, ...] = ("canvas", "crop", "bounds", "cover")
CropFocus = Literal["center", "item", "content"]
CROP_FOCI: tuple[CropFocus, ...] = ("center", "item", "content")
"""Where fit crop takes its window: deep-image's `{"crop": ...}` (the analysis is `crop_focus`'s)."""
Dimension = Union[int, str, None]
"""A requested side: pixels (int, 0 or None = not given) or a percentage of the source side ("200%")."""

MAX_SIDE = 16384
"""Largest output side, ComfyUI's own MAX_RESOLUTION."""
MAX_AI_SCALE = 4.0
"""deep-image: AI upscale goes to 4x of the original at most; the rest is bicubic."""

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_PIXELS = re.compile(r"^\s*(\d+)\s*(?:px)?\s*$")

CropPlacer = Callable[[int, int], tuple[int, int]]
"""(window width, window height) in source pixels -> the window's top-left corner (fit crop)."""


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


def parse_percent(value: object) -> float | None:
    """A percentage written as text ("200%", " 50 % ") as its number (200.0, 50.0); None for anything else.
    The one reader of deep-image's percentages: sizes and padding both use it."""
    if not isinstance(value, str):
        return None
    match = _PERCENT.match(value)
    return None if match is None else float(match.group(1))


def resolve_dimension(name: str, value: Dimension, source_side: int) -> int | None:
    """Pixels for a requested side (pixels, digits as text, or a percentage of `source_side`), or None when
    the side is not given."""
    if value is None or value == 0 or value == "":
        return None
    if isinstance(value, bool):
        raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage ('200%')")
    if isinstance(value, str):
        percent = parse_percent(value)
        if percent is None:
            if value.strip().isdigit():
                return resolve_dimension(name, int(value), source_side)
            raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage ('200%')")
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


def _check_kept_side(name: str, value: int, out: tuple[int, int], src: tuple[int, int]) -> None:
    """One side given: the side kept from the aspect ratio may pass the cap; the side given is at fault."""
    if max(out) > MAX_SIDE:
        raise HiResInputError(
            name, value, f"this {src[0]}x{src[1]} image would become {out[0]}x{out[1]}, above the {MAX_SIDE} x "
            f"{MAX_SIDE} pixels limit", f"ask for a smaller {name}, or set both sides with fit canvas or crop",
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
    place_crop: CropPlacer | None = None,
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
    w = resolve_dimension("width", width, src_w)
    h = resolve_dimension("height", height, src_h)

    # One side as a percentage is a scale factor for both sides.
    if (w is None) != (h is None):
        percent = parse_percent(width if h is None else height)
        if percent is not None:
            w, h, scale_by = None, None, percent / 100.0

    if w is None and h is None:
        return _scaled(src_w, src_h, scale_by)
    if h is None or w is None:
        return _one_side(src_w, src_h, w, h)
    _check_side("width", w)
    _check_side("height", h)
    if fit in ("canvas", "bounds"):
        return _fit_inside(src_w, src_h, w, h, fit)
    if fit == "cover":
        return _cover(src_w, src_h, w, h)
    return _crop(src_w, src_h, w, h, place_crop)


def _whole(src_w: int, src_h: int, out: tuple[int, int]) -> SizePlan:
    """The whole image resized to `out`, which is the output."""
    return SizePlan((src_w, src_h), Box(0, 0, src_w, src_h), out, out, (0, 0))


def _scaled(src_w: int, src_h: int, scale_by: float) -> SizePlan:
    """Neither side given: `scale_by` times the source."""
    if not scale_by or scale_by <= 0 or not math.isfinite(scale_by):
        raise HiResInputError(
            "scale_by", scale_by, "width and height are both 0, so the scale factor is needed and must be above 0",
            "set width, height, or a scale_by above 0",
        )
    w, h = max(1, round(src_w * scale_by)), max(1, round(src_h * scale_by))
    if max(w, h) > MAX_SIDE:
        raise HiResInputError(
            "scale_by", scale_by, f"this {src_w}x{src_h} image would become {w}x{h}, above the {MAX_SIDE} x "
            f"{MAX_SIDE} pixels limit", f"use a scale_by of at most {MAX_SIDE / max(src_w, src_h):.4g} for "
            "this image, or set width or height",
        )
    return _whole(src_w, src_h, (w, h))


def _one_side(src_w: int, src_h: int, w: int | None, h: int | None) -> SizePlan:
    """One side given (in pixels): the other keeps the aspect ratio."""
    if h is None:
        _check_side("width", w)
        h = _keep_ratio(w, src_w, src_h)
        _check_kept_side("width", w, (w, h), (src_w, src_h))
    else:
        _check_side("height", h)
        w = _keep_ratio(h, src_h, src_w)
        _check_kept_side("height", h, (w, h), (src_w, src_h))
    return _whole(src_w, src_h, (w, h))


def _fit_inside(src_w: int, src_h: int, w: int, h: int, fit: str) -> SizePlan:
    """fit canvas (padded to exactly w x h) or bounds (the image alone, at most w x h)."""
    # The limiting side lands exactly on the frame; the other is rounded and can never exceed it.
    if w * src_h <= h * src_w:
        rw, rh = w, min(h, _keep_ratio(w, src_w, src_h))
    else:
        rw, rh = min(w, _keep_ratio(h, src_h, src_w)), h
    if fit == "bounds":
        return _whole(src_w, src_h, (rw, rh))
    return SizePlan((src_w, src_h), Box(0, 0, src_w, src_h), (rw, rh), (w, h), ((w - rw) // 2, (h - rh) // 2))


def _cover(src_w: int, src_h: int, w: int, h: int) -> SizePlan:
    """fit cover: the image covers w x h; the output may be larger."""
    if w * src_h >= h * src_w:
        rw, rh = w, max(h, _keep_ratio(w, src_w, src_h))
    else:
        rw, rh = max(w, _keep_ratio(h, src_h, src_w)), h
    if max(rw, rh) > MAX_SIDE:
        raise HiResInputError(
            "fit", "cover", f"covering {w}x{h} makes this {src_w}x{src_h} image {rw}x{rh}, above the {MAX_SIDE} x "
            f"{MAX_SIDE} pixels limit", "use fit canvas or crop (exactly width x height), or smaller sides",
        )
    return _whole(src_w, src_h, (rw, rh))


def _crop(src_w: int, src_h: int, w: int, h: int, place_crop: CropPlacer | None) -> SizePlan:
    """fit crop: a source region with the frame's aspect ratio (centred unless `place_crop` says where),
    resized to the frame, so an extreme aspect ratio never builds a huge intermediate image."""
    if w * src_h >= h * src_w:
        cw, ch = src_w, min(src_h, max(1, round(src_w * h / w)))
    else:
        cw, ch = min(src_w, max(1, round(src_h * w / h))), src_h
    x, y = ((src_w - cw) // 2, (src_h - ch) // 2) if place_crop is None else place_crop(cw, ch)
    box = Box(min(max(0, int(x)), src_w - cw), min(max(0, int(y)), src_h - ch), cw, ch)
    return SizePlan((src_w, src_h), box, (w, h), (w, h), (0, 0))


MAX_PADDING_PERCENT = 50.0
"""A margin of half the shorter side on both sides would leave no room for the image."""


def parse_padding(value: str | int) -> tuple[float, bool]:
    """deep-image's `padding`: pixels ("24", 24) or a percentage of the frame's shorter side ("5%").
    Returns (amount, is_percent)."""
    if isinstance(value, bool):
        raise HiResInputError("padding", value, "is not a margin", "give pixels (e.g. '24') or a percentage ('5%')")
    if isinstance(value, int):
        value = str(value)
    text = str(value).strip()
    if text == "":
        return 0.0, False
    pixels = _PIXELS.match(text)
    if pixels is not None:
        amount = int(pixels.group(1))
        if amount > MAX_SIDE // 2:
            raise HiResInputError("padding", value, f"a margin cannot pass {MAX_SIDE // 2} pixels",
                                  "give a smaller margin")
        return float(amount), False
    amount = parse_percent(text)
    if amount is None:
        raise HiResInputError("padding", value, "is not a margin", "give pixels (e.g. '24') or a percentage ('5%')")
    if amount >= MAX_PADDING_PERCENT:
        raise HiResInputError("padding", value, f"a margin must be below {MAX_PADDING_PERCENT:g}% of the shorter side",
                              "give e.g. '5%'")
    return amount, True


def padding_pixels(padding: str | int, frame: tuple[int, int]) -> int:
    """The margin in pixels on each side of a frame of (width, height)."""
    amount, is_percent = parse_padding(padding)
    return round(min(frame) * amount / 100.0) if is_percent else int(amount)


def with_padding(plan: SizePlan, padding: str | int, fit: str = "canvas",
                 place_crop: CropPlacer | None = None) -> SizePlan:
    """deep-image's `padding`: a margin inside the output. The output keeps its size; the image is fitted
    inside the frame less the margin on every side (fit crop crops to that inner frame) and centred on it."""
    cw, ch = plan.canvas
    pad = padding_pixels(padding, (cw, ch))
    if pad == 0:
        return plan
    inner = (cw - 2 * pad, ch - 2 * pad)
    if min(inner) < 1:
        raise HiResInputError("padding", padding, f"a margin of {pad} px on each side leaves nothing of the "
                              f"{cw}x{ch} output", f"give a margin below {(min(cw, ch) - 1) // 2} px")
    src_w, src_h = plan.source
    inner_plan = plan_size(src_w, src_h, inner[0], inner[1], "crop" if fit == "crop" else "canvas",
                           place_crop=place_crop)
    ox, oy = inner_plan.offset
    return SizePlan(plan.source, inner_plan.source_box, inner_plan.resized, (cw, ch), (ox + pad, oy + pad))


def with_min_length(plan: SizePlan, min_length: int, width: int, height: int, fit: str,
                    place_crop: CropPlacer | None = None) -> SizePlan:
    """deep-image's `min_length`: the output's shorter side is at least this long. A shorter output is scaled
    up with its aspect ratio kept (the frame when both sides were given, else the image itself)."""
    cw, ch = plan.canvas
    if min_length <= 0 or min(cw, ch) >= min_length:
        return plan
    src_w, src_h = plan.source
    try:
        if width and height and fit in ("canvas", "crop"):
            scale = min_length / min(cw, ch)
            frame = (min_length, max(min_length, round(ch * scale))) if cw <= ch else \
                (max(min_length, round(cw * scale)), min_length)
            return plan_size(src_w, src_h, frame[0], frame[1], fit, place_crop=place_crop)
        box = plan.source_box
        # The image is the output: its shorter side becomes exactly min_length.
        side = {"width": min_length} if box.w <= box.h else {"height": min_length}
        grown = plan_size(box.w, box.h, **side)
        return SizePlan(plan.source, box, grown.resized, grown.canvas, (0, 0))
    except HiResInputError as error:
        raise HiResInputError(
            "min_length", min_length, f"growing the {cw}x{ch} output to a shorter side of {min_length} passes the "
            f"{MAX_SIDE} x {MAX_SIDE} pixels limit", "ask for a smaller min_length",
        ) from error


def output_for_generation(width: int, height: int, reference: tuple[int, int] | None,
                          native: int) -> tuple[int, int]:
    """HiResGenerate's output size by deep-image's rules, with the adapter image as the source (the native
    square without one): both sides as given; one side keeps the source's aspect ratio; both 0 keep its size."""
    src_w, src_h = reference if reference is not None else (native, native)
    return plan_size(src_w, src_h, width, height, "canvas", scale_by=1.0).canvas


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


# Stability v1 `image-to-image/upscale` limits: its sizes here, beside deep-image's, and its other fields'.
STABILITY_MIN_SIDE = 512
STABILITY_MAX_OUTPUT_PIXELS = 4_194_304
STABILITY_MAX_INPUT_PIXELS = 1_048_576
STABILITY_SEED_MAX = 4_294_967_295
"""`seed`: 0 (random) to 2**32 - 1."""
STABILITY_STEPS = (10, 150)
"""`steps`: the range; 50 is the default."""
STABILITY_DEFAULT_STEPS = 50
STABILITY_CFG_SCALE = (0.0, 35.0)
"""`cfg_scale`: the range; 7 is the default."""
STABILITY_DEFAULT_CFG_SCALE = 7.0
STABILITY_PROMPT_MAX_CHARS = 2000
"""The longest `text_prompts[i][text]`."""


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
