"""Colour fix after diffusion: keep the generated detail, take the colours from the base image, so a
generative pass cannot shift the palette (a known drift of img2img at high denoise)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

ColorFix = Literal["wavelet", "adain", "none"]
COLOR_FIXES: tuple[ColorFix, ...] = ("wavelet", "adain", "none")


def _low_pass(x: torch.Tensor, levels: int) -> torch.Tensor:
    """An a-trous wavelet low band: a 3x3 binomial blur applied with dilation 1, 2, 4, ..."""
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16.0).expand(x.shape[1], 1, 3, 3)
    for level in range(levels):
        d = 2 ** level
        y = F.pad(x, (d, d, d, d), mode="replicate")
        x = F.conv2d(y, kernel, dilation=d, groups=x.shape[1])
    return x


def wavelet_color_fix(result: torch.Tensor, base: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """result's high-frequency bands on base's low band (both BCHW, same size)."""
    return (result - _low_pass(result, levels) + _low_pass(base, levels)).clamp_(0.0, 1.0)


def adain_color_fix(result: torch.Tensor, base: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """result's per-channel mean and deviation matched to base's."""
    r_mean, r_std = result.mean((-2, -1), keepdim=True), result.std((-2, -1), keepdim=True) + eps
    b_mean, b_std = base.mean((-2, -1), keepdim=True), base.std((-2, -1), keepdim=True)
    return ((result - r_mean) / r_std * b_std + b_mean).clamp_(0.0, 1.0)


def color_fix(result: torch.Tensor, base: torch.Tensor, method: ColorFix) -> torch.Tensor:
    if method == "wavelet":
        return wavelet_color_fix(result, base)
    if method == "adain":
        return adain_color_fix(result, base)
    return result
