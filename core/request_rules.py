"""The nodes' request rules that need no image: the sizing inputs (SizeRequest, whose defaults are the nodes'
input defaults), the size rules and canvas fills to choose from, the fill colour, and num_images.

/prompt runs these on the widgets alone (validate_inputs), and the plans (`plan`) run them again on the real
inputs, so each rule is written once whichever refuses first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from .errors import HiResInputError
from .sizing import CROP_FOCI, FITS, MAX_SIDE, STABILITY_MIN_SIDE, parse_padding

SizeRules = Literal["deep-image", "stability-v1"]
SIZE_RULES: tuple[SizeRules, ...] = ("deep-image", "stability-v1")
CanvasFill = Literal["color", "outpaint"]
CANVAS_FILLS: tuple[CanvasFill, ...] = ("color", "outpaint")
MAX_NUM_IMAGES = 8
"""deepmode's `num_images` range is 1..8."""
DEFAULT_NUM_IMAGES = 1
_HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class SizeRequest:
    """The sizing inputs of a node, as given. Its defaults are the nodes' input defaults (see SIZE_DEFAULTS):
    no margin, no minimum side, a centred crop and a black gap, so an API prompt that leaves the optional
    inputs out is sized by width, height, fit and scale_by alone."""

    width: int = 0
    height: int = 0
    fit: str = "canvas"
    scale_by: float = 2.0
    size_rules: str = "deep-image"
    padding: str = "0"
    min_length: int = 0
    crop_focus: str = "center"
    canvas_fill: str = "color"
    fill_color: str = "#000000"


SIZE_DEFAULTS = SizeRequest()
"""Every sizing input's default, written once: node inputs and signatures read them from here."""


def _choice(name: str, value: str, options: Collection[str]) -> None:
    if value not in options:
        raise HiResInputError(name, value, f"is not one of the {name} options", f"use one of {', '.join(options)}")


def _side(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HiResInputError(name, value, "is not a whole number of pixels", "give pixels, or 0")
    if value < 0:
        raise HiResInputError(name, value, "a size cannot be negative", "use 0 to keep the aspect ratio, or pixels")
    if value > MAX_SIDE:
        raise HiResInputError(name, value, f"Image cannot be upscaled above {MAX_SIDE} x {MAX_SIDE} pixels limit",
                              f"ask for at most {MAX_SIDE} pixels per side")


def parse_color(value: str) -> tuple[float, float, float]:
    """'#rrggbb' or '#rgb' -> RGB in 0..1."""
    match = _HEX_COLOR.match(str(value).strip())
    if match is None:
        raise HiResInputError("fill_color", value, "is not a colour", "give a hex colour such as '#000000' or '#fff'")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def check_size_request(request: SizeRequest) -> None:
    """Every sizing rule that does not depend on the image, each naming the one input at fault."""
    _choice("size_rules", request.size_rules, SIZE_RULES)
    _choice("fit", request.fit, FITS)
    _choice("crop_focus", request.crop_focus, CROP_FOCI)
    _choice("canvas_fill", request.canvas_fill, CANVAS_FILLS)
    _side("width", request.width)
    _side("height", request.height)
    if not isinstance(request.scale_by, (int, float)) or not math.isfinite(request.scale_by) \
            or request.scale_by < 0:
        raise HiResInputError("scale_by", request.scale_by, "must be a finite number of 0 or more",
                              "use e.g. 2.0 (it applies when width and height are both 0)")
    _side("min_length", request.min_length)
    amount, is_percent = parse_padding(request.padding)
    parse_color(request.fill_color)
    if request.size_rules == "stability-v1":
        _check_stability_request(request, amount)
        return
    if not request.width and not request.height and request.scale_by <= 0:
        raise HiResInputError("scale_by", request.scale_by, "width and height are both 0, so the scale factor "
                              "is needed and must be above 0", "set width, height, or a scale_by above 0")
    if request.width and request.height and not is_percent and 2 * amount >= min(request.width, request.height):
        raise HiResInputError("padding", request.padding, f"a margin of {amount:g} px on each side leaves nothing "
                              f"of the {request.width}x{request.height} output",
                              f"give a margin below {(min(request.width, request.height) - 1) // 2} px")


def check_size_request_at_prompt(**fields: object) -> None:
    """check_size_request for validate_inputs, where a widget fed by a link arrives as None: its value is known
    only at run time, so the request is then left to the run's check on the real image (before any model)."""
    if any(value is None for value in fields.values()):
        return
    check_size_request(SizeRequest(**fields))  # type: ignore[arg-type]


def _check_stability_request(request: SizeRequest, padding: float) -> None:
    """Stability v1's upscale rules that need no image, in its own words where it has them."""
    if request.width and request.height:
        raise HiResInputError("height", request.height, "Only one of width or height may be specified",
                              "set height to 0 (or width to 0): the other side keeps the aspect ratio")
    for name in ("width", "height"):
        value = getattr(request, name)
        if value and value < STABILITY_MIN_SIDE:
            raise HiResInputError(name, value, f"must be at least {STABILITY_MIN_SIDE} under Stability v1's rules",
                                  f"ask for {STABILITY_MIN_SIDE} pixels or more, or 0 for the 2x default")
    unused = (("padding", padding != 0, "'0'"), ("min_length", request.min_length != 0, "0"),
              ("canvas_fill", request.canvas_fill != "color", "'color'"))
    for name, given, default in unused:
        if given:
            raise HiResInputError(name, getattr(request, name), "is a deep-image resize field; Stability v1's "
                                  "upscale has no such field", f"set size_rules to 'deep-image', or {name} back to "
                                  f"{default}")


def check_num_images(num_images: int) -> None:
    """deepmode's `num_images` (HiResGenerate's input of that name): 1 to MAX_NUM_IMAGES, made as one batch."""
    if isinstance(num_images, bool) or not isinstance(num_images, int) or not 1 <= num_images <= MAX_NUM_IMAGES:
        raise HiResInputError("num_images", num_images, f"must be from 1 to {MAX_NUM_IMAGES}",
                              f"ask for 1 image (the default) up to {MAX_NUM_IMAGES}, made as one batch")


def check_generation_request(width: int, height: int, size_rules: str, num_images: int) -> None:
    """HiResGenerate's rules that need no image."""
    _choice("size_rules", size_rules, SIZE_RULES)
    _side("width", width)
    _side("height", height)
    check_num_images(num_images)
    if size_rules == "stability-v1":
        _check_stability_request(SizeRequest(width=width, height=height, size_rules=size_rules), 0.0)
