"""What one tile costs the UNet, by tile side (prints a table; not a test).

usage: .hires/venv/bin/python bench/unet_tile_cost.py
           [--model tiny|full] [--sides 64 67 68 72] [--repeats 3]

One model call on cond + uncond (a batch of 2) of a square latent tile, timed after the model is loaded. An SD
UNet halves the tile three times and rounds each half up, so its deepest levels see ceil(side / 8) latent px:
every side from 65 to 72 pays there for 72. Counting evaluated pixels therefore overstates what a narrower
overlap saves: at 512 px tiles both this pack's 67-px tiles and Ultimate SD Upscale's 68-px ones cost the
same call.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("tiny", "full"), default="full")
    parser.add_argument("--sides", type=int, nargs="+", default=[64, 67, 68, 72])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from hires_studio.bench.tiled_diffusion import CHECKPOINTS, ensure_bench_models
    from hires_studio.devtools.comfy_host import InProcessComfy, ensure_tiny_models, make_comfy_base

    tiny = ensure_tiny_models()
    sources = [tiny, ROOT / ".hires" / "base" / "models"]
    if args.model == "full":
        sources.append(ensure_bench_models(tiny))
    host = InProcessComfy(make_comfy_base(ROOT / ".hires" / "bench-base", sources))
    from comfy import model_management

    model, clip = host.node("CheckpointLoaderSimple")().load_checkpoint(CHECKPOINTS[args.model])[:2]
    model_management.load_models_gpu([model])
    device = model_management.get_torch_device()
    text = clip.encode_from_tokens_scheduled(clip.tokenize("a photo"))[0][0].to(device)
    print(f"{args.model}: {CHECKPOINTS[args.model]}, device {device}, one call on a batch of 2 (cond + uncond)\n")
    print("| tile side (latent px) | pixels | deepest level (px) | s per call (median) | s per call / pixels, "
          f"against {args.sides[0]} |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    first = None
    with torch.inference_mode():
        for side in args.sides:
            x = torch.randn(2, 4, side, side, device=device)
            t = torch.full((2,), 500.0, device=device)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                model.model.apply_model(x, t, c_crossattn=torch.cat([text, text]))
                model_management.soft_empty_cache()
                times.append(time.perf_counter() - started)
            seconds = statistics.median(times)
            per_px = seconds / (side * side)
            first = first or per_px
            print(f"| {side} | {side * side} | {-(-side // 8)} | {seconds:.2f} | {per_px / first:.3f} |", flush=True)


if __name__ == "__main__":
    main()
