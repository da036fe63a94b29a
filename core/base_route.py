"""The base route of every plan: the strength table's non-generative base paths, `upscale_4`, `bicubic` and
`bicubic_clean`, each turning a source image into the plan's output size.

The model work is passed in as callables, so this module stays pure and the same composition runs under
ComfyUI and in unit tests. The crop, resize and pad are `resize.apply_plan`'s.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .resize import Fill, apply_plan, bicubic
from .sizing import SizePlan, ai_upscale_passes
from .strength import BasePath

ImageFn = Callable[[torch.Tensor], torch.Tensor]
UpscaleFn = Callable[[torch.Tensor, int], torch.Tensor]
"""(BCHW image, passes) -> the image upscaled `passes` times by the model."""


def make_base(
    rgb: torch.Tensor,
    plan: SizePlan,
    base_path: BasePath,
    *,
    upscale: UpscaleFn | None = None,
    upscale_scale: float = 4.0,
    clean: ImageFn | None = None,
    fill: Fill = 0.0,
) -> torch.Tensor:
    """Bring a BCHW RGB image to the plan's canvas by the named base path.

    upscale_4: the model at most up to 4x of the source (repeated for a 2x model), then bicubic to the exact
    size; bicubic: a plain bicubic resize; bicubic_clean: the cleanup pass at the source resolution, then
    bicubic.
    """
    if base_path == "upscale_4":
        if upscale is None:
            raise ValueError("upscale_4 needs an upscale function")
        passes = ai_upscale_passes(upscale_scale, plan.scale)

        def before(x: torch.Tensor) -> torch.Tensor:
            return upscale(x, passes)
    elif base_path == "bicubic_clean":
        if clean is None:
            raise ValueError("bicubic_clean needs a cleanup function")
        before = clean
    elif base_path == "bicubic":
        before = _unchanged
    else:
        raise ValueError(f"unknown base path {base_path!r}")
    return apply_plan(rgb, plan, lambda x, size: bicubic(before(x), size), fill)


def _unchanged(x: torch.Tensor) -> torch.Tensor:
    return x


def resize_alpha(alpha: torch.Tensor, plan: SizePlan) -> torch.Tensor:
    """The alpha channel follows the plan with a bicubic resize; padding is transparent."""
    return apply_plan(alpha, plan, bicubic, 0.0)
