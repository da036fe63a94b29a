"""Benchmark of the generative pass (prints tables; not a test).

usage: .hires/venv/bin/python bench/tiled_diffusion.py
           [--model tiny|full] [--sides 1024 2048 3072 4096] [--methods tiled usdu untiled separate]
           [--repeats 3] [--steps 2] [--cfg 7] [--denoise 0.35] [--tile 512] [--log FILE]
       python bench/tiled_diffusion.py --summarize FILE [FILE ...]

From a 512 px image upscaled by bicubic to each side, the same steps, sampler (euler/normal), denoise and seed:
  tiled     GenerativeUpscale's pass: overlapping latent tiles blended into one canvas at every model
            evaluation, the VAE streamed in tiles;
  usdu      tile by tile as Ultimate SD Upscale does it (linear order, no seam fix, force_uniform_tiles): the
            image cut into ceil(side / tile) cells per axis, each cell's crop taken with 32 px of padding on
            every side, resized to tile + padding (544 px for 512), VAE-encoded, sampled and decoded on its
            own, resized back and pasted with a feathered mask (the cell blurred by 8 px);
  untiled   one image-to-image pass over the whole canvas (the VAE untiled too);
  separate  this pack's tiles denoised one after another as independent images, pasted with the same blend
            weights at the end.
Each row runs in a fresh process; the runs are interleaved (every method at every size, then again) and each
finished row is appended to the log as JSON at once, so a crash loses nothing. `--summarize` prints the
median table and the goals of issue 10 from one or more logs.

Models: `tiny` is the test suite's tiny SD1.5 checkpoint (a 32M-parameter UNet, TAESD); `full` has the real
SD1.5 UNet architecture (860M parameters, random weights, made by tests/fixtures/make_bench_models.py into
.hires/bench-models on first use) with the same CLIP and TAESD.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from hires_studio.bench.pass_inputs import (
    PassModels,
    add_pass_options,
    load_pass_models,
    pass_settings,
    upscaled_input,
)
from hires_studio.devtools.comfy_host import InProcessComfy, ensure_tiny_models, make_comfy_base

ROOT = Path(__file__).resolve().parents[1]
BENCH_MODELS = ROOT / ".hires" / "bench-models"
CHECKPOINTS = {"tiny": "tiny_sd15.safetensors", "full": "full_sd15_unet.safetensors"}
METHODS = ("tiled", "usdu", "untiled", "separate")
"""The methods the docstring describes, in its order (the tables' order)."""
USDU_PADDING = 32
USDU_MASK_BLUR = 8


def ensure_bench_models(tiny: Path) -> Path:
    target = BENCH_MODELS / "checkpoints" / CHECKPOINTS["full"]
    if not target.exists():
        comfy_dir = ROOT / ".hires" / "ComfyUI"
        subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "make_bench_models.py"), str(tiny),
                        str(BENCH_MODELS)], cwd=comfy_dir, check=True)
    return BENCH_MODELS


def seam_score(image: torch.Tensor, xs: list[int], ys: list[int]) -> float:
    """Gradient energy on the given boundary lines against the whole image (HWC in [0, 1])."""
    gx = (image[:, 1:] - image[:, :-1]).abs().mean(dim=(0, 2))
    gy = (image[1:] - image[:-1]).abs().mean(dim=(1, 2))
    xs = [x for x in xs if 0 <= x < gx.shape[0]]
    ys = [y for y in ys if 0 <= y < gy.shape[0]]
    if not xs and not ys:
        return 1.0
    return float(torch.cat([gx[xs], gy[ys]]).mean() / torch.cat([gx, gy]).mean())


def grid_lines(grid, scale: int = 8) -> tuple[list[int], list[int]]:
    xs = sorted({c * scale - 1 for c in grid.cols[1:]} | {(c + grid.tile_w) * scale - 1 for c in grid.cols[:-1]})
    ys = sorted({r * scale - 1 for r in grid.rows[1:]} | {(r + grid.tile_h) * scale - 1 for r in grid.rows[:-1]})
    return xs, ys


def usdu_cells(side: int, tile: int) -> list[int]:
    """Cell edges along one axis: ceil(side / tile) cells (at least one), as even as whole pixels allow."""
    count = max(1, math.ceil(side / tile))
    return [round(i * side / count) for i in range(count + 1)]


def feather_mask(h: int, w: int, y0: int, y1: int, x0: int, x1: int, blur: int) -> torch.Tensor:
    """The cell (y0:y1, x0:x1) inside an h x w crop as 1, blurred by a Gaussian of radius `blur` (as PIL's
    GaussianBlur on USDU's mask), (1, 1, h, w)."""
    mask = torch.zeros(1, 1, h, w)
    mask[..., y0:y1, x0:x1] = 1.0
    sigma = blur
    radius = 3 * sigma
    k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).reshape(1, 1, 1, -1)
    pad = torch.nn.functional.pad
    mask = torch.nn.functional.conv2d(pad(mask, (radius, radius, 0, 0), mode="replicate"), k)
    mask = torch.nn.functional.conv2d(pad(mask, (0, 0, radius, radius), mode="replicate"), k.transpose(-1, -2))
    return mask


def run_usdu(comfy_sample, bicubic, model, vae, positive, negative, base: torch.Tensor, args, count) -> tuple:
    """Ultimate SD Upscale's redraw pass (see the module docstring). Returns (BCHW image, latent px per step,
    cell edges)."""
    side_h, side_w = base.shape[-2:]
    ys, xs = usdu_cells(side_h, args.tile), usdu_cells(side_w, args.tile)
    out = base.clone()
    evaluated = 0
    for y0, y1 in zip(ys, ys[1:], strict=False):
        for x0, x1 in zip(xs, xs[1:], strict=False):
            # crop = the cell plus padding, expanded to a square of that size inside the image (force_uniform)
            want = max(y1 - y0, x1 - x0) + 2 * USDU_PADDING
            ch, cw = min(want, side_h), min(want, side_w)
            cy = min(max(0, (y0 + y1) // 2 - ch // 2), side_h - ch)
            cx = min(max(0, (x0 + x1) // 2 - cw // 2), side_w - cw)
            crop = out[..., cy:cy + ch, cx:cx + cw]  # USDU crops the result so far, as it pastes tile by tile
            proc = math.ceil((args.tile + USDU_PADDING) / 8) * 8
            ph = proc if ch == want else math.ceil(ch * proc / want / 8) * 8
            pw = proc if cw == want else math.ceil(cw * proc / want / 8) * 8
            latent = vae.encode(bicubic(crop, (pw, ph)).movedim(1, -1))
            noise = comfy_sample.prepare_noise(latent, args.seed)
            samples = comfy_sample.sample(model, noise, args.steps, args.cfg, "euler", "normal", positive, negative,
                                          latent, denoise=args.denoise, disable_pbar=True, seed=args.seed)
            evaluated += samples.shape[-1] * samples.shape[-2]
            tile = bicubic(vae.decode(samples).movedim(-1, 1).clamp(0, 1), (cw, ch))
            mask = feather_mask(ch, cw, y0 - cy, y1 - cy, x0 - cx, x1 - cx, USDU_MASK_BLUR)
            region = out[..., cy:cy + ch, cx:cx + cw]
            out[..., cy:cy + ch, cx:cx + cw] = region * (1 - mask) + tile * mask
    return out, evaluated, (ys, xs)


@dataclass(frozen=True)
class Loaded:
    """What every method runs with: the same models (the model's calls counted in `calls`), input image,
    settings and the pack's tile grid for it."""

    models: PassModels
    image: torch.Tensor
    settings: Any
    grid: Any
    calls: list[int]


def _host(args: argparse.Namespace):
    """ComfyUI imported in this process on the bench's base directory, with the models of --model."""

    tiny = ensure_tiny_models()
    sources = [tiny, ROOT / ".hires" / "base" / "models"]
    if args.model == "full":
        sources.append(ensure_bench_models(tiny))
    return InProcessComfy(make_comfy_base(Path(args.base), sources))


def _counting_calls(model, calls: list[int]):
    """A clone of the model that adds one to calls[0] at every evaluation."""

    def count(apply_model, a):
        calls[0] += 1
        return apply_model(a["input"], a["timestep"], **a["c"])

    counted = model.clone()
    counted.set_model_unet_function_wrapper(count)
    return counted


def load(args: argparse.Namespace) -> Loaded:
    """The checkpoint loaded onto its device (its load time is not the pass's) and the input: a 512 px image
    upscaled by bicubic to side x side."""
    host = _host(args)
    from comfy import model_management

    from hires_studio.core.tiling import diffusion_grid

    models = load_pass_models(host, CHECKPOINTS[args.model])
    settings = pass_settings(models, args, seed=args.seed, tile_batch=args.batch)
    grid = diffusion_grid(args.side // 8, args.side // 8, args.tile // 8)
    calls = [0]
    counted = _counting_calls(models.model, calls)
    model_management.load_models_gpu([models.model])  # load time is not the pass's
    return Loaded(replace(models, model=counted), upscaled_input(args.side), settings, grid, calls)


def run_separate(comfy_sample, loaded: Loaded) -> torch.Tensor:
    """The pack's tiles denoised one after another as independent images, pasted with the same blend weights at
    the end. Returns the BCHW image."""
    from hires_studio.core.tiling import blend_weights

    settings, grid, models = loaded.settings, loaded.grid, loaded.models
    latent = models.vae.encode(loaded.image.movedim(1, -1))
    noise = comfy_sample.prepare_noise(latent, settings.seed)
    weights = blend_weights(grid, 1)
    result = torch.zeros_like(latent)
    for weight, tile in zip(weights, grid.tiles, strict=True):
        region = (..., slice(tile.y, tile.y + tile.h), slice(tile.x, tile.x + tile.w))
        samples = comfy_sample.sample(
            models.model, noise[region], settings.steps, settings.cfg, settings.sampler_name,
            settings.scheduler, models.positive, models.negative, latent[region], denoise=settings.denoise,
            disable_pbar=True, seed=settings.seed)
        result[region] += samples * weight.to(samples.dtype)
    return models.vae.decode(result).movedim(-1, 1)


def run_one(args: argparse.Namespace) -> dict:
    """One (method, size) in this process; returns the row."""
    loaded = load(args)
    import comfy.sample
    from comfy import model_management

    from hires_studio.core.resize import bicubic

    side, grid, models = args.side, loaded.grid, loaded.models
    diffusion_pass = models.diffusion_pass
    model_inputs = (models.model, models.vae, models.positive, models.negative, loaded.image)
    tiles, minimum = len(grid.tiles), math.ceil(side / args.tile) ** 2
    lines = grid_lines(grid)
    started, cpu_started = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        if args.method == "tiled":
            report = diffusion_pass.PassReport()
            out = diffusion_pass.generative_pass(*model_inputs, loaded.settings, report=report)
            evaluated = report.overlap_ratio
            loaded.calls[0] = report.model_calls
        elif args.method == "untiled":
            whole = diffusion_pass.DiffusionSettings(**{**loaded.settings.__dict__, "tile_size": side * 4})
            out = diffusion_pass.generative_pass(*model_inputs, whole)
            evaluated, tiles = 1.0, 1
        elif args.method == "usdu":
            out, per_step, (ys, xs) = run_usdu(comfy.sample, bicubic, *model_inputs, args, loaded.calls)
            evaluated = per_step / (side // 8) ** 2
            tiles = (len(ys) - 1) * (len(xs) - 1)
            lines = ([x - 1 for x in xs[1:-1]], [y - 1 for y in ys[1:-1]])
        else:
            out = run_separate(comfy.sample, loaded)
            evaluated = grid.overlap_ratio
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    image = out[0].movedim(0, -1).clamp(0, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "model": args.model, "method": args.method, "side": side, "megapixels": round(side * side / 1e6, 2),
        "steps": args.steps, "cfg": args.cfg, "denoise": args.denoise, "tile": args.tile, "calls": loaded.calls[0],
        "evaluated": round(evaluated, 3), "minimum_tiles": minimum, "tiles": tiles,
        "seconds": round(elapsed, 1), "cpu_seconds": round(cpu, 1),
        "peak_mib": round(peak), "seam": round(seam_score(image, *lines), 3),
        "device": str(model_management.get_torch_device()), "finished": time.strftime("%H:%M:%S"),
    }


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def cpu_median(rows: list[dict]) -> str:
    """Process CPU seconds (user + system): on a shared machine less sensitive to load than wall time."""
    have = [r["cpu_seconds"] for r in rows if "cpu_seconds" in r]
    return f"{statistics.median(have):.1f}" if have else "-"


Groups = dict[tuple[int, str], list[dict]]
"""One model's rows by (side, method)."""


def _median_table(model: str, first: dict, groups: Groups) -> list[str]:
    """The medians of each (side, method), smallest side first, the methods in the docstring's order."""
    out = [f"\n{model}: {CHECKPOINTS[model]}, {first['steps']} steps, cfg {first['cfg']}, denoise "
           f"{first['denoise']}, euler/normal, tile {first['tile']} px, device {first['device']}\n",
           "| method | output | tiles (no-overlap min) | evaluated / canvas latent px | model calls | runs "
           "| wall s (median) | CPU s (median) | peak RSS MiB (median) | seam score |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (side, method), group in sorted(groups.items(), key=lambda kv: (kv[0][0], METHODS.index(kv[0][1]))):
        r = group[0]
        out.append(f"| {method} | {side}x{side} ({r['megapixels']} MP) | {r['tiles']} ({r['minimum_tiles']}) "
                   f"| {r['evaluated']} | {r['calls']} | {len(group)} | {_median(group, 'seconds'):.1f} "
                   f"| {cpu_median(group)} "
                   f"| {_median(group, 'peak_mib'):.0f} | {r['seam']} |")
    return out


def _ratio(groups: Groups, method: str, key: str, side: int) -> str:
    """Tiled's median of `key` over `method`'s at one side; '-' where either has no row."""
    a, b = groups.get((side, "tiled")), groups.get((side, method))
    return f"{_median(a, key) / _median(b, key):.2f}x" if a and b else "-"


def _cpu_ratio(groups: Groups, method: str, side: int) -> str:
    """Tiled's median CPU seconds over `method`'s at one side; '-' where either has none."""
    a, b = groups.get((side, "tiled")), groups.get((side, method))
    if not a or not b or cpu_median(a) == "-" or cpu_median(b) == "-":
        return "-"
    return f"{float(cpu_median(a)) / float(cpu_median(b)):.2f}x"


def _goal_table(groups: Groups) -> list[str]:
    """The goals of issue 10 that compare methods, one column per side."""
    sides = sorted({s for s, _ in groups})
    return [
        "",
        "| goal | " + " | ".join(f"{s}²" for s in sides) + " |",
        "| --- |" + " ---: |" * len(sides),
        "| wall time tiled / usdu (goal <= 0.9x at 2048² and above) | "
        + " | ".join(_ratio(groups, "usdu", "seconds", s) for s in sides) + " |",
        "| CPU time tiled / usdu | " + " | ".join(_cpu_ratio(groups, "usdu", s) for s in sides) + " |",
        "| wall time tiled / untiled (goal <= 0.5x at 2048² and above) | "
        + " | ".join(_ratio(groups, "untiled", "seconds", s) for s in sides) + " |",
        "| CPU time tiled / untiled | " + " | ".join(_cpu_ratio(groups, "untiled", s) for s in sides) + " |",
        "| peak RSS tiled / usdu (goal <= 1.2x at 3072²) | "
        + " | ".join(_ratio(groups, "usdu", "peak_mib", s) for s in sides) + " |",
        "| evaluated / canvas latent px, tiled (goal <= 1.10 at 2048² and above) | "
        + " | ".join(str(groups[(s, "tiled")][0]["evaluated"]) if (s, "tiled") in groups else "-" for s in sides)
        + " |",
    ]


def _tiled_scaling(groups: Groups) -> list[str]:
    """The goals of issue 10 on how the tiled pass grows with the output: time linear in megapixels, memory no
    more than the output's buffers."""
    out = []
    tiled = sorted((s, _median(g, "seconds"), _median(g, "peak_mib")) for (s, m), g in groups.items()
                   if m == "tiled")
    fit = [(s * s / 1e6, t) for s, t, _ in tiled if s * s / 1e6 <= 9.5]
    if len(fit) >= 3:
        xs, ys = [f[0] for f in fit], [f[1] for f in fit]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in fit) / sum((x - mx) ** 2 for x in xs)
        residual = sum((y - (my + slope * (x - mx))) ** 2 for x, y in fit)
        total = sum((y - my) ** 2 for y in ys)
        out.append(f"\nTime per output MP, tiled, {xs[0]:.2f} to {xs[-1]:.2f} MP: {slope:.2f} s/MP, R² = "
                   f"{1 - residual / total:.4f} (goal: linear)")
    small = [t for t in tiled if t[0] <= 1024]
    large = [t for t in tiled if 2900 <= t[0] <= 3100]
    if small and large:
        (s1, _, m1), (s9, _, m9) = small[0], large[0]
        buffers = (s9 * s9 - s1 * s1) * 3 * 4 * 3 / 2 ** 20
        out.append(f"Peak RSS, tiled, {s1}² -> {s9}²: +{m9 - m1:.0f} MiB; three float32 RGB images of the "
                   f"output grow by {buffers:.0f} MiB (goal: no more than the output buffers)")
    return out


def summarize(rows: list[dict]) -> str:
    """The median table per model and the goals of issue 10."""
    out = []
    for model in sorted({r["model"] for r in rows}, key=lambda m: list(CHECKPOINTS).index(m)):
        mine = [r for r in rows if r["model"] == model]
        groups: Groups = {}
        for r in mine:
            groups.setdefault((r["side"], r["method"]), []).append(r)
        out += _median_table(model, mine[0], groups)
        out += _goal_table(groups)
        out += _tiled_scaling(groups)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(CHECKPOINTS), default="tiny")
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 3072, 4096])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--untiled-max", type=int, default=3072, help="largest side for the untiled row")
    parser.add_argument("--repeats", type=int, default=3)
    add_pass_options(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--log", default=str(ROOT / ".hires" / "bench-tiled-diffusion.jsonl"))
    parser.add_argument("--summarize", nargs="+", help="print the tables from these logs and exit")
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", default=str(ROOT / ".hires" / "bench-base"))
    args = parser.parse_args()
    if args.summarize:
        rows = [json.loads(line) for path in args.summarize for line in Path(path).read_text().splitlines()
                if line.strip()]
        print(summarize(rows))
        return
    if args.method:
        print("ROW " + json.dumps(run_one(args)), flush=True)
        return
    rows = []
    for _ in range(args.repeats):
        for side in args.sides:
            for method in args.methods:
                if method == "untiled" and side > args.untiled_max:
                    continue
                cmd = [sys.executable, __file__, "--method", method, "--side", str(side)]
                for key in ("model", "steps", "cfg", "denoise", "seed", "tile", "batch", "base"):
                    cmd += [f"--{key}", str(getattr(args, key))]
                done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
                found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
                if not found:
                    print(f"{method} {side}: failed: {done.stderr.strip().splitlines()[-3:]}", flush=True)
                    continue
                row = json.loads(found[0])
                rows.append(row)
                with open(args.log, "a") as log:
                    log.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(summarize(rows), flush=True)


if __name__ == "__main__":
    main()
