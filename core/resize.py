"""Resizing, padding and cropping of BCHW float images by a SizePlan, with no PIL round trips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import torch
import torch.nn.functional as F

from .sizing import SizePlan

ResizeFn = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]
"""(BCHW image, (width, height)) -> BCHW image of that size."""


def bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize to (width, height), antialiased when shrinking, clamped to [0, 1]."""
    w, h = size
    if x.shape[-1] == w and x.shape[-2] == h:
        return x
    shrinking = w < x.shape[-1] or h < x.shape[-2]
    y = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=shrinking)
    return y.clamp_(0.0, 1.0)


def bhwc_to_bchw(image: torch.Tensor) -> torch.Tensor:
    return image.movedim(-1, 1)


def bchw_to_bhwc(image: torch.Tensor) -> torch.Tensor:
    return image.movedim(1, -1)


def split_alpha(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """ComfyUI IMAGE (B, H, W, C) -> (RGB BCHW, alpha B1HW or None). A single channel becomes gray RGB."""
    x = bhwc_to_bchw(image)
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1), None
    if x.shape[1] == 4:
        return x[:, :3], x[:, 3:]
    return x[:, :3], None


def merge_alpha(rgb: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """The inverse of split_alpha: BCHW RGB (+ alpha) -> ComfyUI IMAGE (B, H, W, C)."""
    x = rgb if alpha is None else torch.cat([rgb, alpha], dim=1)
    return bchw_to_bhwc(x).contiguous()


def crop_box(x: torch.Tensor, plan: SizePlan) -> torch.Tensor:
    b = plan.source_box
    return x[..., b.y:b.y + b.h, b.x:b.x + b.w]


Fill = Union[float, Sequence[float]]
"""The padding's value: one for every channel, or one per channel (an RGB colour)."""


def place_on_canvas(x: torch.Tensor, plan: SizePlan, fill: Fill = 0.0) -> torch.Tensor:
    """Paste an image already at `plan.resized` onto the plan's canvas, padding the rest with `fill`."""
    if not plan.padded:
        return x
    cw, ch = plan.canvas
    ox, oy = plan.offset
    rw, rh = plan.resized
    if isinstance(fill, (int, float)):
        out = x.new_full((*x.shape[:-2], ch, cw), float(fill))
    else:
        if len(fill) != x.shape[-3]:
            raise ValueError(f"a fill of {len(fill)} values for an image of {x.shape[-3]} channels")
        out = torch.tensor(list(fill), dtype=x.dtype, device=x.device).view(-1, 1, 1).expand(*x.shape[:-2], ch, cw)
        out = out.clone()
    out[..., oy:oy + rh, ox:ox + rw] = x
    return out


def canvas_mask(plan: SizePlan, like: torch.Tensor | None = None) -> torch.Tensor:
    """(H, W) mask of the canvas: 1 where padding was added, 0 over the image."""
    cw, ch = plan.canvas
    ox, oy = plan.offset
    rw, rh = plan.resized
    kwargs = {} if like is None else {"device": like.device, "dtype": like.dtype}
    mask = torch.ones((ch, cw), **kwargs)
    mask[oy:oy + rh, ox:ox + rw] = 0
    return mask


def apply_plan(x: torch.Tensor, plan: SizePlan, resize: ResizeFn = bicubic, fill: Fill = 0.0) -> torch.Tensor:
    """Crop, resize (with `resize`) and pad a BCHW image exactly as the plan says."""
    return place_on_canvas(resize(crop_box(x, plan), plan.resized), plan, fill)
