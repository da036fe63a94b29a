"""The pack's example photos (example_images/), which the shipped workflows load and the pack copies into
ComfyUI's input folder at start-up (nodes/example_images.py).

usage: .hires/venv/bin/python scripts/example_images.py [--check]

Made from two photographs bundled with scikit-image (bench/photos.py; both public domain or CC0): chelsea, the
cat, centre-cropped to 3:2 at EXAMPLE_SIZE (the upscaling and background workflows), and astronaut, a portrait
for the face workflows at FACE_SIZE. PNG with no time stamp, so the output is the same bytes on every run.
`--check` writes nothing and exits 1 when a file differs.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hires_studio.catalog.shipped_workflows import EXAMPLE_FACE_IMAGE, EXAMPLE_IMAGE
from hires_studio.nodes.example_images import EXAMPLE_DIR

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE_SIZE = (384, 256)
"""The example photo: 3:2, small enough that a CPU runs the shipped upscales in seconds to a minute."""
FACE_SIZE = 320
"""The portrait: square, with a face large enough for the face detector."""


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def render() -> dict[str, bytes]:
    from hires_studio.devtools.staging import example_face_photo, example_photo

    photo = example_photo(EXAMPLE_SIZE[0])
    assert photo.shape[:2] == (EXAMPLE_SIZE[1], EXAMPLE_SIZE[0]), photo.shape
    face = cv2.resize(example_face_photo(512), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return {EXAMPLE_IMAGE: _png(photo), EXAMPLE_FACE_IMAGE: _png(face)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    files = render()
    differ = [name for name, data in files.items()
              if not (EXAMPLE_DIR / name).is_file() or (EXAMPLE_DIR / name).read_bytes() != data]
    if args.check:
        for name in differ:
            sys.stderr.write(f"out of date: example_images/{name} (run scripts/example_images.py)\n")
        return 1 if differ else 0
    EXAMPLE_DIR.mkdir(exist_ok=True)
    for name in differ:
        (EXAMPLE_DIR / name).write_bytes(files[name])
        sys.stdout.write(f"wrote example_images/{name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
