"""Benchmark of the generative pass (prints a table; not a test).

usage: PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts python bench/tiled_diffusion.py \
           [--ckpt tiny_sd15.safetensors] [--megapixels 1 2 4] [--steps 2] [--tile 512] [--batches 0]

From a 512 px image, output 1, 2 and 4 megapixels with three methods at the same steps and denoise:
  tiled     GenerativeUpscale's pass: overlapping tiles blended into one canvas at every model evaluation;
  untiled   (a) one image-to-image pass over the whole canvas;
  separate  (b) the same tiles denoised one after another, each a full image-to-image of its own, pasted with
            the same blend weights only at the end (what tile-by-tile upscalers do).
Per row: model calls, latent pixels evaluated per canvas pixel (the no-overlap minimum is 1.0), wall time,
peak RSS of the process (each row runs in a fresh process), and a seam score (mean gradient on tile
boundary lines / mean gradient elsewhere; 1.0 = no seam).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def seam_score(image: torch.Tensor, grid) -> float:
    """Gradient energy on the tile boundary lines against the whole image (BHWC in [0, 1])."""
    img = image[0]
    gx = (img[:, 1:] - img[:, :-1]).abs().mean(dim=(0, 2))
    gy = (img[1:] - img[:-1]).abs().mean(dim=(1, 2))
    xs = sorted({c * 8 - 1 for c in grid.cols[1:]} | {(c + grid.tile_w) * 8 - 1 for c in grid.cols[:-1]})
    ys = sorted({r * 8 - 1 for r in grid.rows[1:]} | {(r + grid.tile_h) * 8 - 1 for r in grid.rows[:-1]})
    xs = [x for x in xs if 0 <= x < gx.shape[0]]
    ys = [y for y in ys if 0 <= y < gy.shape[0]]
    if not xs and not ys:
        return 1.0
    on = torch.cat([gx[xs], gy[ys]]).mean()
    return float(on / torch.cat([gx, gy]).mean())


def run_one(args: argparse.Namespace) -> dict:
    """One (method, size) in this process; returns the row."""
    from comfy_host import InProcessComfy, ensure_tiny_models, make_comfy_base

    base = make_comfy_base(Path(args.base), [ensure_tiny_models(), ROOT / ".hires" / "base" / "models"])
    host = InProcessComfy(base)
    import comfy.sample
    from comfy import model_management

    from hires_studio.nodes.core.resize import bicubic
    from hires_studio.nodes.core.tiling import blend_weights, plan_grid

    package = host.node("GenerativeUpscale").__module__.rsplit(".", 1)[0]
    generative = sys.modules[f"{package}.runtime.generative"]
    conditioning = sys.modules[f"{package}.runtime.conditioning"]

    model, clip, vae = host.node("CheckpointLoaderSimple")().load_checkpoint(args.ckpt)[:3]
    positive = conditioning.encode_text(clip, "a detailed photo, high quality, highly detailed, 8K")
    negative = conditioning.encode_text(clip, "")
    side = int((args.megapixels[0] * 1e6) ** 0.5) // 8 * 8
    g = torch.Generator().manual_seed(0)
    source = bicubic(torch.rand(1, 3, 8, 8, generator=g), (512, 512))
    base_image = bicubic(source, (side, side))
    settings = generative.DiffusionSettings(seed=1, steps=args.steps, cfg=7.0, sampler_name="euler",
                                            scheduler="normal", denoise=0.5, tile_size=args.tile,
                                            tile_batch=args.batch, color_fix="none")
    grid = plan_grid(side // 8, side // 8, args.tile // 8, max(4, args.tile // 64))
    calls = [0]

    def count(apply_model, a):
        calls[0] += 1
        return apply_model(a["input"], a["timestep"], **a["c"])

    counted = model.clone()
    counted.set_model_unet_function_wrapper(count)
    started = time.perf_counter()
    with torch.inference_mode():
        if args.method == "tiled":
            report = generative.PassReport()
            out = generative.generative_pass(counted, vae, positive, negative, base_image, settings, report=report)
            evaluated = report.overlap_ratio
            calls[0] = report.model_calls
        elif args.method == "untiled":
            whole = generative.DiffusionSettings(**{**settings.__dict__, "tile_size": side * 4})
            out = generative.generative_pass(counted, vae, positive, negative, base_image, whole)
            evaluated = 1.0
        else:
            latent = vae.encode(base_image.movedim(1, -1))
            noise = comfy.sample.prepare_noise(latent, settings.seed)
            weights = blend_weights(grid, 1)
            result = torch.zeros_like(latent)
            for weight, tile in zip(weights, grid.tiles, strict=True):
                region = (..., slice(tile.y, tile.y + tile.h), slice(tile.x, tile.x + tile.w))
                samples = comfy.sample.sample(
                    counted, noise[region], settings.steps, settings.cfg, settings.sampler_name,
                    settings.scheduler, positive, negative, latent[region], denoise=settings.denoise,
                    disable_pbar=True, seed=settings.seed)
                result[region] += samples * weight.to(samples.dtype)
            out = vae.decode(result).movedim(-1, 1)
            evaluated = grid.overlap_ratio
    elapsed = time.perf_counter() - started
    image = out.movedim(1, -1).clamp(0, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": args.method, "megapixels": round(side * side / 1e6, 2), "side": side, "calls": calls[0],
        "evaluated": round(evaluated, 3), "minimum_tiles": grid.minimum_tiles(args.tile // 8),
        "tiles": len(grid.tiles), "seconds": round(elapsed, 1), "peak_mib": round(peak),
        "seam": round(seam_score(image, grid), 3), "device": str(model_management.get_torch_device()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="tiny_sd15.safetensors")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1, 2, 4])
    parser.add_argument("--methods", nargs="+", default=["tiled", "untiled", "separate"])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--base", default=str(ROOT / ".hires" / "bench-base"))
    args = parser.parse_args()
    if args.method:
        print("ROW " + json.dumps(run_one(args)), flush=True)
        return
    print(f"| method | output | tiles (no-overlap min) | px evaluated / canvas px | model calls | time s "
          f"| peak RSS MiB | seam score |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |  ({args.ckpt}, "
          f"{args.steps} steps, denoise 0.5, tile {args.tile} px)", flush=True)
    for megapixels in args.megapixels:
        for method in args.methods:
            cmd = [sys.executable, __file__, "--method", method, "--megapixels", str(megapixels), "--ckpt",
                   args.ckpt, "--steps", str(args.steps), "--tile", str(args.tile), "--batch", str(args.batch),
                   "--base", args.base]
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            rows = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
            if not rows:
                print(f"| {method} | {megapixels} MP | failed: {done.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(rows[0])
            print(f"| {r['method']} | {r['side']}x{r['side']} ({r['megapixels']} MP) | {r['tiles']} "
                  f"({r['minimum_tiles']}) | {r['evaluated']} | {r['calls']} | {r['seconds']} | {r['peak_mib']} "
                  f"| {r['seam']} |", flush=True)


if __name__ == "__main__":
    main()
