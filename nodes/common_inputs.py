"""Inputs that several nodes share, declared once so names, ranges and tooltips agree everywhere."""

from __future__ import annotations

from comfy_api.latest import io

from .core.errors import HiResInputError
from .core.sizing import FITS, MAX_SIDE, plan_size

CLEANUP_CHOICES = ("auto", "off", "light", "medium", "strong", "strongest")
"""BicubicClean's cleanup strength: auto measures the damage; the others are waifu2x denoise levels 0..3."""
CLEANUP_LEVELS: dict[str, int | None] = {"off": None, "light": 0, "medium": 1, "strong": 2, "strongest": 3}


def size_inputs(default_scale: float = 2.0) -> list[io.Input]:
    return [
        io.Int.Input(
            "width", default=0, min=0, max=MAX_SIDE, step=1,
            tooltip="Output width in pixels. 0 = keep the aspect ratio from height (or use scale_by if both are 0).",
        ),
        io.Int.Input(
            "height", default=0, min=0, max=MAX_SIDE, step=1,
            tooltip="Output height in pixels. 0 = keep the aspect ratio from width (or use scale_by if both are 0).",
        ),
        io.Combo.Input(
            "fit", options=list(FITS), default="canvas",
            tooltip="When both width and height are set: canvas = fit inside and pad to exactly WxH; crop = cover "
            "and crop the centre to exactly WxH; bounds = fit inside (output may be smaller); cover = cover "
            "(output may be larger). The image is never squashed.",
        ),
        io.Float.Input(
            "scale_by", default=default_scale, min=0.0, max=64.0, step=0.05,
            tooltip="Scale factor used only when width and height are both 0.",
        ),
    ]


def check_size_inputs(width: int, height: int, fit: str, scale_by: float) -> bool | str:
    """validate_inputs for the size inputs: True, or the message ComfyUI shows before the run.

    A square stand-in image is enough: none of these rules depends on the aspect ratio of the source.
    """
    try:
        plan_size(1024, 1024, width, height, fit, scale_by)
    except HiResInputError as error:
        return str(error)
    return True
