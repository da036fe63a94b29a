"""Where fit crop takes its window: deep-image's `{"crop": center | item | content}`.

`item` keeps the main object whole (found as generate_background finds it: alpha, else GrabCut); `content`
takes the window with the most detail (the density of image gradients, a cheap content-aware measure that
needs nothing beyond OpenCV's core). Both work on a small copy of the image, so they cost little at any size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .masks import object_mask
from .sizing import Box, CropPlacer

ANALYSIS_SIDE = 256
"""The longest side of the copy the focus is found on."""


def _small(rgb: torch.Tensor, alpha: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """CHW RGB (and 1HW alpha) shrunk so the longest side is at most ANALYSIS_SIDE; and the factor back."""
    h, w = rgb.shape[-2:]
    factor = max(1.0, max(h, w) / ANALYSIS_SIDE)
    if factor == 1.0:
        return rgb, alpha, 1.0
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    small = F.interpolate(rgb[None].float(), size=size, mode="area")[0]
    small_alpha = None if alpha is None else F.interpolate(alpha[None].float(), size=size, mode="area")[0]
    return small, small_alpha, factor


def item_box(rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> Box | None:
    """The bounding box (source pixels) of the main object of one CHW image, or None when none is found."""
    small, small_alpha, factor = _small(rgb, alpha)
    mask = object_mask(small, small_alpha, None).numpy() > 0.5
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    x0, x1 = int(np.floor(xs.min() * factor)), int(np.ceil((xs.max() + 1) * factor))
    y0, y1 = int(np.floor(ys.min() * factor)), int(np.ceil((ys.max() + 1) * factor))
    h, w = rgb.shape[-2:]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    return Box(x0, y0, x1 - x0, y1 - y0)


def centre_on(box: Box | None, src: tuple[int, int]) -> CropPlacer:
    """A placer that centres the window on `box` (kept whole whenever the window is large enough)."""

    def place(cw: int, ch: int) -> tuple[int, int]:
        if box is None:
            return (src[0] - cw) // 2, (src[1] - ch) // 2
        x = box.x + box.w / 2 - cw / 2
        y = box.y + box.h / 2 - ch / 2
        # A window larger than the box must contain it whole: clamp so neither edge cuts it.
        if cw >= box.w:
            x = min(max(x, box.x + box.w - cw), box.x)
        if ch >= box.h:
            y = min(max(y, box.y + box.h - ch), box.y)
        return (min(max(0, round(x)), src[0] - cw), min(max(0, round(y)), src[1] - ch))

    return place


def detail_density(rgb: torch.Tensor) -> np.ndarray:
    """HW float map of local detail: the gradient magnitude of the luma."""
    gray = (rgb.clamp(0, 1) * 255.0).mean(0).to(torch.float32).cpu().numpy()
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def densest_window(rgb: torch.Tensor) -> CropPlacer:
    """A placer that puts the window where the image has the most detail (ties: the one nearest the centre)."""
    small, _, factor = _small(rgb, None)
    density = detail_density(small)
    integral = cv2.integral(density.astype(np.float64))
    sh, sw = density.shape
    src_h, src_w = rgb.shape[-2:]

    def place(cw: int, ch: int) -> tuple[int, int]:
        ww, wh = min(sw, max(1, round(cw / factor))), min(sh, max(1, round(ch / factor)))
        sums = (integral[wh:, ww:] - integral[:-wh, ww:] - integral[wh:, :-ww] + integral[:-wh, :-ww])
        ys, xs = np.mgrid[0:sums.shape[0], 0:sums.shape[1]]
        off_centre = np.hypot(xs - (sw - ww) / 2, ys - (sh - wh) / 2)
        best = np.lexsort((off_centre.ravel(), -np.round(sums.ravel(), 6)))[0]
        y, x = divmod(int(best), sums.shape[1])
        return (min(max(0, round(x * factor)), src_w - cw), min(max(0, round(y * factor)), src_h - ch))

    return place


def crop_placer(focus: str, rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> CropPlacer | None:
    """The placer for one focus mode on a CHW image (None = the centre)."""
    if focus == "item":
        return centre_on(item_box(rgb, alpha), (rgb.shape[-1], rgb.shape[-2]))
    if focus == "content":
        return densest_window(rgb)
    return None
