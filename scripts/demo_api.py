"""`make demo-api`: one seed request, Stability's esrgan upscale curl, answered by a local ComfyUI with this pack.

usage: .hires/venv/bin/python scripts/demo_api.py [OUT]

A real ComfyUI server on loopback (a temporary base directory with the bootstrap's real Real-ESRGAN weights)
gets a one-off API key through HIRES_STUDIO_API_KEYS; then the seed's curl, with the host changed, upscales a
real photo 2x. The curl line, the response headers and the result's size are printed; the image is written
under OUT (default out/demo_api).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

from hires_studio.bench.photos import load_photos
from hires_studio.devtools.comfy_host import HIRES, ROOT, ComfyServer, make_comfy_base
from hires_studio.rest.config import KEYS_ENV
from hires_studio.rest.keys import new_key

PHOTO = "chelsea"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "demo_api"
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("curl") is None:
        print("curl is not installed: apt-get install curl", file=sys.stderr)
        return 1
    rgb = dict(load_photos())[PHOTO]
    small = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
    source = out / f"{PHOTO}.png"
    cv2.imwrite(str(source), small[:, :, ::-1])
    key = new_key()
    os.environ[KEYS_ENV] = f"demo={key}"
    with tempfile.TemporaryDirectory() as tmp:
        server = ComfyServer(make_comfy_base(Path(tmp) / "base", [HIRES / "base" / "models"]))
        try:
            result = out / f"{PHOTO}_2x.png"
            curl = ["curl", "--silent", "--show-error", "--noproxy", "*", "--dump-header", "-", "--request", "POST",
                    f"{server.url}/v1/generation/esrgan-v1-x2plus/image-to-image/upscale",
                    "--header", f"Authorization: Bearer {key}", "--header", "Accept: image/png",
                    "--form", f"image=@{source}", "--output", str(result)]
            print(" ".join(part if " " not in part else repr(part) for part in curl).replace(key, "$KEY"))
            answer = subprocess.run(curl, capture_output=True, text=True, check=True)
            print(answer.stdout.strip())
        finally:
            server.stop()
    image = cv2.imread(str(result))
    if image is None:
        print(f"no image came back: see {result}", file=sys.stderr)
        return 1
    print(f"{source.name} {small.shape[1]}x{small.shape[0]} -> {result} {image.shape[1]}x{image.shape[0]} "
          "(Real-ESRGAN x4plus, real weights, brought to Stability's 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
