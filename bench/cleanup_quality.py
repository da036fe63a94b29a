"""Does BicubicClean beat plain bicubic on damaged real photos, and leave clean ones alone?

usage: PYTHONPATH=.hires/base/custom_nodes python bench/cleanup_quality.py

For each real photo (:mod:`bench.photos`): downscale 4x (area), optionally JPEG-compress at quality 30
(OpenCV, 4:2:0), then bring it back to the original size with
  * bicubic: ``F.interpolate(..., mode="bicubic", antialias=True)``, clamped to [0, 1];
  * BicubicClean: the cleanup pass at the source resolution (denoise level from :func:`estimate_damage`;
    ``None`` means no cleanup), then the same bicubic resize.
PSNR (RGB) and SSIM (luma, Gaussian 11x11, see :mod:`nodes.core.quality`) against the original.
Everything is deterministic, so the unit tests assert the same numbers.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

if importlib.util.find_spec("hires_studio") is None:  # no PYTHONPATH: import the pack from its folder
    _ROOT = Path(__file__).resolve().parents[1]
    _spec = importlib.util.spec_from_file_location(
        "hires_studio", _ROOT / "__init__.py", submodule_search_locations=[str(_ROOT)]
    )
    if _spec is None or _spec.loader is None:
        raise ImportError("cannot import the pack as hires_studio")
    sys.modules["hires_studio"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["hires_studio"])

from hires_studio.bench.photos import load_photos  # noqa: E402
from hires_studio.nodes.core.cleanup import UpConv7, clean, estimate_damage, load_cleanup_net  # noqa: E402
from hires_studio.nodes.core.quality import psnr, ssim  # noqa: E402

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


def bicubic(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The pack's plain resize: bicubic with antialiasing, clamped to [0, 1]."""
    resized = F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False)
    return resized.clamp(0.0, 1.0)


class BicubicClean:
    """Cleanup at the source resolution with an automatically chosen level, then :func:`bicubic`."""

    def __init__(self) -> None:
        self._nets: dict[int, UpConv7] = {}

    def __call__(self, image: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, int | None]:
        level = estimate_damage(image)
        if level is not None:
            if level not in self._nets:
                self._nets[level] = load_cleanup_net(level)
            image = clean(self._nets[level], image)
        return bicubic(image, size), level


def evaluate(quality: int | None, photos: list[tuple[str, np.ndarray]] | None = None) -> list[Result]:
    """:class:`Result` per photo for one degradation (``quality=None``: no JPEG)."""
    method = BicubicClean()
    results: list[Result] = []
    for name, photo in photos if photos is not None else load_photos():
        reference = to_tensor(photo)
        size = (photo.shape[0], photo.shape[1])
        source = to_tensor(degrade(photo, quality))
        plain = bicubic(source, size)
        cleaned, level = method(source, size)
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
