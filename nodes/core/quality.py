"""Image quality metrics for benchmarks and tests: PSNR and SSIM on ``(N, C, H, W)`` tensors in ``[0, 1]``.

SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``,
computed on each RGB channel separately over the "valid" region (no padding: the window never leaves the
image) and averaged over channels, pixels and images. PSNR is over all RGB values. Both run in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim"]

_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"metrics need two (N, C, H, W) tensors of one shape, got {a.shape} and {b.shape}")


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all values (``inf`` for identical inputs)."""
    _check_pair(a, b)
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0.0 else 10.0 * torch.log10(torch.tensor(data_range**2 / mse)).item()


def _gaussian_window(channels: int) -> torch.Tensor:
    coords = torch.arange(_WINDOW, dtype=torch.float64) - (_WINDOW - 1) / 2
    g = torch.exp(-(coords**2) / (2 * _SIGMA**2))
    g = g / g.sum()
    return torch.outer(g, g).expand(channels, 1, _WINDOW, _WINDOW).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean structural similarity (see the module docstring); images must be at least 11x11."""
    _check_pair(a, b)
    if min(a.shape[-2:]) < _WINDOW:
        raise ValueError(f"SSIM needs images of at least {_WINDOW}x{_WINDOW}, got {tuple(a.shape[-2:])}")
    x, y = a.double(), b.double()
    channels = x.shape[1]
    window = _gaussian_window(channels).to(x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean().item()
