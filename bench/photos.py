"""Real photographs for quality checks, read from an installed package (nothing is downloaded).

scikit-image's wheel bundles a few classic test photographs under ``skimage/data``: astronaut, chelsea,
coffee, rocket and camera are public domain or CC0; motorcycle_left is from the Middlebury 2014 stereo
benchmark (provenance in the docstrings of ``skimage/data/_fetchers.py``). They are read straight from the
installed files with OpenCV, so ``skimage`` itself is never imported, and nothing is redistributed here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PHOTO_FILES", "MAX_SIDE", "load_photos", "photo_dir"]

PHOTO_FILES: tuple[str, ...] = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "camera.png",
)
"""Real photographs in ``skimage/data``; greyscale ``camera.png`` comes back as three equal channels."""

MAX_SIDE = 512


def photo_dir() -> Path:
    """The installed ``skimage/data`` folder; :class:`FileNotFoundError` if scikit-image is not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-image is not installed (it is in requirements-dev.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _center_crop(image: np.ndarray, max_side: int, multiple: int) -> np.ndarray:
    height, width = image.shape[:2]
    new_h = min(height, max_side) // multiple * multiple
    new_w = min(width, max_side) // multiple * multiple
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return image[top : top + new_h, left : left + new_w]


def load_photos(max_side: int = MAX_SIDE, multiple: int = 4) -> list[tuple[str, np.ndarray]]:
    """``(name, HxWx3 uint8 RGB)`` for each photo, centre-cropped to at most ``max_side`` per side and to a
    multiple of ``multiple`` (no resampling, so the pixels are the camera's)."""
    folder = photo_dir()
    photos: list[tuple[str, np.ndarray]] = []
    for filename in PHOTO_FILES:
        path = folder / filename
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR; greyscale files come back with 3 channels
        if image is None:
            raise FileNotFoundError(f"cannot read {path}")
        rgb = np.ascontiguousarray(_center_crop(image, max_side, multiple)[:, :, ::-1])
        photos.append((Path(filename).stem, rgb))
    return photos
