"""Canny edges of an image, the hint of the `control` and `control2` adapters (OpenCV's Canny)."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def canny_edges(rgb: torch.Tensor, low: int = 100, high: int = 200) -> torch.Tensor:
    """BCHW RGB in [0, 1] -> BCHW white-on-black edge maps (3 channels, as ControlNets take them)."""
    out = []
    for image in rgb:
        gray = (image.float().mean(0).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
        edges = cv2.Canny(np.ascontiguousarray(gray), low, high)
        out.append(torch.from_numpy(edges).float().div_(255.0).expand(3, -1, -1))
    return torch.stack(out).to(device=rgb.device, dtype=rgb.dtype)
