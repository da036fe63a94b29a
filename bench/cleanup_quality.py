"""Does BicubicClean beat plain bicubic on damaged real photos, and leave clean ones alone?

usage: .hires/venv/bin/python bench/cleanup_quality.py

For each real photo (:mod:`bench.photos`): downscale 4x (area), optionally JPEG-compress at quality 30
(OpenCV, 4:2:0), then bring it back to the original size with
  * bicubic: ``F.interpolate(..., mode="bicubic", antialias=True)``, clamped to [0, 1];
  * BicubicClean: the cleanup pass at the source resolution (denoise level from :func:`estimate_damage`;
    ``None`` means no cleanup), then the same bicubic resize.
PSNR (RGB) and SSIM (luma, Gaussian 11x11, see devtools/quality.py) against the original.
Everything is deterministic, so the unit tests assert the same numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from hires_studio.bench.photos import load_photos
from hires_studio.core.base_route import make_base
from hires_studio.core.cleanup import clean, clean_batch, estimate_damage, load_cleanup_net
from hires_studio.core.resize import bicubic
from hires_studio.core.sizing import plan_size
from hires_studio.devtools.quality import psnr, ssim

SCALE = 4
JPEG_QUALITY = 30


@dataclass(frozen=True)
class Result:
    """One photo under one degradation."""

    name: str
    level: int | None
    psnr_bicubic: float
    psnr_clean: float
    ssim_bicubic: float
    ssim_clean: float

    @property
    def gain_db(self) -> float:
        """PSNR of BicubicClean minus PSNR of bicubic."""
        return self.psnr_clean - self.psnr_bicubic


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0


def degrade(photo: np.ndarray, quality: int | None, scale: int = SCALE) -> np.ndarray:
    """Area-downscale by ``scale`` and, unless ``quality`` is None, round-trip through JPEG at ``quality``."""
    height, width = photo.shape[:2]
    small = cv2.resize(photo, (width // scale, height // scale), interpolation=cv2.INTER_AREA)
    if quality is None:
        return small
    ok, encoded = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def bicubic_clean(image: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, int | None]:
    """BicubicClean's own composition (the node runs exactly this, on ComfyUI's device)."""
    plan = plan_size(image.shape[-1], image.shape[-2], size[1], size[0])
    level = estimate_damage(image)
    cleanup = functools.partial(clean_batch, level="auto", run=lambda lv, x: clean(load_cleanup_net(lv), x))
    return make_base(image, plan, "bicubic_clean", clean=cleanup), level


def plain_bicubic(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The pack's plain resize: bicubic with antialiasing when shrinking, clamped to [0, 1]."""
    return bicubic(image, (size[1], size[0]))


def evaluate(quality: int | None, photos: list[tuple[str, np.ndarray]] | None = None) -> list[Result]:
    """:class:`Result` per photo for one degradation (``quality=None``: no JPEG)."""
    results: list[Result] = []
    for name, photo in photos if photos is not None else load_photos():
        reference = to_tensor(photo)
        size = (photo.shape[0], photo.shape[1])
        source = to_tensor(degrade(photo, quality))
        plain = plain_bicubic(source, size)
        cleaned, level = bicubic_clean(source, size)
        results.append(
            Result(name, level, psnr(plain, reference), psnr(cleaned, reference),
                   ssim(plain, reference), ssim(cleaned, reference))
        )
    return results


def mean_of(results: list[Result], field: str) -> float:
    """Average of one attribute over the photos."""
    return float(np.mean([getattr(result, field) for result in results]))


def format_table(title: str, results: list[Result]) -> str:
    """Markdown table with a row per photo and the averages."""
    lines = [
        f"### {title}",
        "",
        "| photo | level | PSNR bicubic | PSNR BicubicClean | gain dB | SSIM bicubic | SSIM BicubicClean |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.level} | {r.psnr_bicubic:.2f} | {r.psnr_clean:.2f} | {r.gain_db:+.2f} "
            f"| {r.ssim_bicubic:.4f} | {r.ssim_clean:.4f} |"
        )
    lines.append(
        f"| **average** | | {mean_of(results, 'psnr_bicubic'):.2f} | {mean_of(results, 'psnr_clean'):.2f} "
        f"| {mean_of(results, 'gain_db'):+.2f} | {mean_of(results, 'ssim_bicubic'):.4f} "
        f"| {mean_of(results, 'ssim_clean'):.4f} |"
    )
    return "\n".join(lines)


def main() -> None:
    """Print both tables."""
    torch.set_grad_enabled(False)
    photos = load_photos()
    print(format_table(f"downscale {SCALE}x (area), JPEG q{JPEG_QUALITY}, upscale {SCALE}x",
                       evaluate(JPEG_QUALITY, photos)))
    print()
    print(format_table(f"downscale {SCALE}x (area), no JPEG, upscale {SCALE}x", evaluate(None, photos)))


if __name__ == "__main__":
    main()
