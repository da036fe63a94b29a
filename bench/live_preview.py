"""Benchmark: the generative pass with live previews on and off (prints a table; not a test).

usage: .hires/venv/bin/python bench/live_preview.py
           [--side 2048] [--steps 2] [--cfg 7] [--denoise 0.35] [--tile 512] [--repeats 1]

A 512 px image upscaled by bicubic to side x side, then GenerativeUpscale's pass on the test suite's tiny SD1.5
checkpoint, once with ComfyUI's preview method off and once with Latent2RGB (what `--preview-method auto`
picks), each run in a fresh process, the runs interleaved (off, on, off, on ...). With previews on, a progress
hook does what ComfyUI's server does with every preview picture (fit it into --preview-size and encode it as
JPEG), in the pass's own thread, so its cost is counted. Printed per run: the pass's wall and CPU time, the
model calls, the previews made and the seconds spent making them (decode and encode); then the median on/off
ratios. The goal: previews on costs at most 3% more time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from hires_studio.bench.pass_inputs import add_pass_options, load_pass_models, pass_settings, upscaled_input
from hires_studio.devtools.comfy_host import HIRES, InProcessComfy, ensure_tiny_models, make_comfy_base

ROOT = Path(__file__).resolve().parents[1]


def _time_previewer(spent: dict) -> None:
    """Wrap ComfyUI's previewer so the seconds it spends decoding each preview add up in spent["seconds"]."""
    import latent_preview

    get_previewer = latent_preview.get_previewer

    class Timed:
        """ComfyUI's previewer, timed."""

        def __init__(self, inner) -> None:
            self.inner = inner

        def decode_latent_to_preview_image(self, preview_format, x0):
            began = time.perf_counter()
            image = self.inner.decode_latent_to_preview_image(preview_format, x0)
            spent["seconds"] += time.perf_counter() - began
            return image

    def timed_previewer(device, latent_format):
        previewer = get_previewer(device, latent_format)
        return None if previewer is None else Timed(previewer)

    latent_preview.get_previewer = timed_previewer


def _encode_previews(spent: dict) -> None:
    """Hook the progress bar to do with every preview what ComfyUI's server does, counted and timed in spent."""
    import comfy.utils
    from PIL import ImageOps

    def hook(value, total, preview, node_id=None):
        """What ComfyUI's server does with a preview picture: fit it into the preview size, encode as JPEG."""
        if preview is None:
            return
        began = time.perf_counter()
        kind, image, max_size = preview
        image = ImageOps.contain(image, (max_size, max_size))
        image.save(io.BytesIO(), format=kind, quality=95)
        spent["previews"] += 1
        spent["seconds"] += time.perf_counter() - began

    comfy.utils.set_progress_bar_global_hook(hook)


def _timed_pass(host, args: argparse.Namespace) -> tuple:
    """GenerativeUpscale's pass on a 512 px image upscaled to side x side; its report, output, wall and CPU
    seconds (the model is loaded before the clock starts)."""
    from comfy import model_management

    models = load_pass_models(host, "tiny_sd15.safetensors")
    image = upscaled_input(args.side)
    settings = pass_settings(models, args, seed=0)
    model_management.load_models_gpu([models.model])  # load time is not the pass's
    report = models.diffusion_pass.PassReport()
    started, cpu_started = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        out = models.diffusion_pass.generative_pass(models.model, models.vae, models.positive, models.negative,
                                                    image, settings, report=report)
    return report, out, time.perf_counter() - started, time.process_time() - cpu_started


def run_one(args: argparse.Namespace) -> dict:
    """One pass in this process; returns the row."""

    base = make_comfy_base(Path(args.base), [ensure_tiny_models(), HIRES / "base" / "models"])
    host = InProcessComfy(base)
    from comfy import model_management
    from comfy.cli_args import LatentPreviewMethod
    from comfy.cli_args import args as comfy_args

    comfy_args.preview_method = LatentPreviewMethod.Latent2RGB if args.previews else LatentPreviewMethod.NoPreviews
    spent = {"previews": 0, "seconds": 0.0}
    _time_previewer(spent)
    _encode_previews(spent)
    report, out, elapsed, cpu = _timed_pass(host, args)
    return {
        "previews_on": args.previews, "side": args.side, "steps": args.steps, "tiles": report.tiles,
        "calls": report.model_calls, "previews": spent["previews"], "preview_seconds": round(spent["seconds"], 3),
        "seconds": round(elapsed, 1), "cpu_seconds": round(cpu, 1),
        "checksum": hashlib.sha256(out.float().cpu().numpy().tobytes()).hexdigest(),
        "device": str(model_management.get_torch_device()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=2048)
    add_pass_options(parser)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--previews", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return

    rows = []
    print(f"tiny SD1.5, {args.side}x{args.side}, {args.steps} steps, cfg {args.cfg}, denoise {args.denoise}, "
          f"{args.tile} px tiles, euler/normal; each run a fresh process\n")
    print("| previews | tiles | model calls | previews made | preview s | wall s | CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as base:
        for _ in range(args.repeats):
            for previews in (False, True):
                cmd = [sys.executable, __file__, "--one", "--base", base, "--side", str(args.side),
                       "--steps", str(args.steps), "--cfg", str(args.cfg), "--denoise", str(args.denoise),
                       "--tile", str(args.tile), *(["--previews"] if previews else [])]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"| {'on' if previews else 'off'} | {row['tiles']} | {row['calls']} | {row['previews']} "
                      f"| {row['preview_seconds']} | {row['seconds']} | {row['cpu_seconds']} |", flush=True)
    on = [r for r in rows if r["previews_on"]]
    off = [r for r in rows if not r["previews_on"]]
    same = {r["checksum"] for r in rows}
    print(f"\ndevice {rows[0]['device']}; the same bytes with previews on and off: {len(same) == 1}")
    for key, name in (("seconds", "wall time"), ("cpu_seconds", "CPU time")):
        ratio = statistics.median(r[key] for r in on) / statistics.median(r[key] for r in off)
        print(f"{name} previews on / off (median of {len(on)}): {ratio:.3f}x (goal <= 1.03x)")
    share = statistics.median(r["preview_seconds"] / r["seconds"] for r in on)
    print(f"time spent making previews, share of the pass with previews on: {share:.2%}")


if __name__ == "__main__":
    main()
