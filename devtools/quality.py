"""Image quality metrics for benchmarks and tests: PSNR and SSIM of ``(N, 3, H, W)`` RGB in ``[0, 1]``.

* PSNR is over all RGB values.
* SSIM follows Wang et al. (2004) with an 11x11 Gaussian window (sigma 1.5), ``K1 = 0.01``, ``K2 = 0.03``, on
  the luma channel (ITU-R BT.601 ``Y = 0.299 R + 0.587 G + 0.114 B``, the way super-resolution papers usually
  report it), over the "valid" region only (the window never leaves the image), averaged over pixels and
  images. It matches ``kornia.metrics.ssim(..., padding="valid")`` on the luma channel.

Both run in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["luma", "psnr", "ssim"]

_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03
_BT601 = (0.299, 0.587, 0.114)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"metrics need two (N, C, H, W) tensors of one shape, got {a.shape} and {b.shape}")


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``(N, 1, H, W)`` of an ``(N, 3, H, W)`` RGB tensor."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"luma needs (N, 3, H, W) RGB, got {tuple(rgb.shape)}")
    r, g, b = rgb.unbind(1)
    return (_BT601[0] * r + _BT601[1] * g + _BT601[2] * b)[:, None]


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all values (``inf`` for identical inputs)."""
    _check_pair(a, b)
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0.0 else 10.0 * torch.log10(torch.tensor(data_range**2 / mse)).item()


def _gaussian_kernel() -> torch.Tensor:
    coords = torch.arange(_WINDOW, dtype=torch.float64) - (_WINDOW - 1) / 2
    g = torch.exp(-(coords**2) / (2 * _SIGMA**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean luma SSIM of two RGB batches (see the module docstring); images must be at least 11x11."""
    _check_pair(a, b)
    if min(a.shape[-2:]) < _WINDOW:
        raise ValueError(f"SSIM needs images of at least {_WINDOW}x{_WINDOW}, got {tuple(a.shape[-2:])}")
    x, y = luma(a.double()), luma(b.double())
    g = _gaussian_kernel()
    # the five local moments at once, as a batch of single-channel images; separable Gaussian, no padding
    stack = torch.cat([x, y, x * x, y * y, x * y])
    blurred = F.conv2d(F.conv2d(stack, g.view(1, 1, _WINDOW, 1)), g.view(1, 1, 1, _WINDOW))
    mu_x, mu_y, e_xx, e_yy, e_xy = blurred.chunk(5)
    var_x = e_xx - mu_x**2
    var_y = e_yy - mu_y**2
    cov = e_xy - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean().item()
