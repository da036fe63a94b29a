"""The README's demo: upscale a real photo through a real ComfyUI server with real weights.

usage (what `make demo` runs): PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes python scripts/demo.py [OUT]

A real photo (from scikit-image's bundled data) is shrunk 4x and JPEG-compressed at quality 40, the kind of
image people want to upscale. ComfyUI then brings it back 4x three ways, through /prompt: plain bicubic
(BicubicClean with cleanup off), BicubicClean (auto cleanup) and Real-ESRGAN x4plus (GenerativeUpscale,
strength 7: the upscale_4 path, no diffusion). The results, a side-by-side PNG and the PSNR of each against
the original photo are written under OUT (default out/demo).
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from pathlib import Path

import cv2
import numpy as np
from comfy_host import HIRES, ROOT, ComfyServer

from hires_studio.bench.cleanup_quality import degrade
from hires_studio.bench.photos import load_photos

PHOTO = "chelsea"
JPEG_QUALITY = 40
SCALE = 4
SIZE = {"width": 0, "height": 0, "fit": "canvas", "scale_by": float(SCALE)}


def demo_prompt(image_name: str) -> dict:
    """The API-format graph: one LoadImage feeding the three upscalers, each saved under hires_demo/."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "BicubicClean", "inputs": {"image": ["1", 0], "cleanup": "off", **SIZE}},
        "3": {"class_type": "BicubicClean", "inputs": {"image": ["1", 0], "cleanup": "auto", **SIZE}},
        "4": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "RealESRGAN_x4plus.safetensors"}},
        "5": {"class_type": "GenerativeUpscale", "inputs": {
            "image": ["1", 0], "upscale_model": ["4", 0], **SIZE, "upscale_strength": 7, "seed": 0,
            "lora_name": "none", "lora_strength": 1.0, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
            "scheduler": "normal", "denoise_override": 0.0, "tile_size": 0, "tile_batch": 0, "color_fix": "wavelet",
        }},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "hires_demo/bicubic"}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "hires_demo/bicubic_clean"}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "hires_demo/realesrgan"}},
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(image.copy())
    cv2.rectangle(out, (0, 0), (out.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    base = HIRES / "base"
    photo = dict(load_photos())[PHOTO]
    small = degrade(photo, JPEG_QUALITY, SCALE)
    input_name = "hires_demo_input.png"
    cv2.imwrite(str(base / "input" / input_name), small[:, :, ::-1])
    cv2.imwrite(str(out_dir / "input.png"), small[:, :, ::-1])
    cv2.imwrite(str(out_dir / "original.png"), photo[:, :, ::-1])

    started = time.monotonic()
    server = ComfyServer(base)
    try:
        print(f"ComfyUI up on {server.url} in {time.monotonic() - started:.1f} s; queueing the demo graph")
        status, reply = server.post_prompt(demo_prompt(input_name))
        if status != 200:
            print(f"ComfyUI refused the prompt: {reply}")
            return 1
        entry = server.wait(reply["prompt_id"])
        if entry["status"]["status_str"] != "success":
            print(f"the demo failed: {entry['status']}")
            return 1
        results = {}
        for node, name in (("6", "bicubic"), ("7", "bicubic_clean"), ("8", "realesrgan")):
            info = entry["outputs"][node]["images"][0]
            query = urllib.parse.urlencode({"filename": info["filename"], "subfolder": info["subfolder"],
                                            "type": "output"})
            _, png = server.request(f"/view?{query}", raw=True)
            image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
            cv2.imwrite(str(out_dir / f"{name}.png"), image[:, :, ::-1])
            results[name] = image
    finally:
        server.stop()
    print(f"ran in {time.monotonic() - started:.1f} s (start-up included)")

    h, w = photo.shape[:2]
    shown = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    panels = [labelled(shown, f"input {small.shape[1]}x{small.shape[0]} (JPEG q{JPEG_QUALITY})")]
    for name, title in (("bicubic", "bicubic"), ("bicubic_clean", "BicubicClean"), ("realesrgan", "Real-ESRGAN x4")):
        image = results[name]
        assert image.shape[:2] == (h, w), (name, image.shape)
        quality = psnr(image, photo)
        print(f"{title:>15}: {w}x{h}, PSNR {quality:.2f} dB against the original photo")
        panels.append(labelled(image, f"{title} {w}x{h}, {quality:.2f} dB"))
    side_by_side = np.concatenate(panels, axis=1)
    cv2.imwrite(str(out_dir / "side_by_side.png"), side_by_side[:, :, ::-1])
    print(f"wrote {out_dir}/side_by_side.png and the single images beside it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
