"""What a fresh ControlNet copy per tile batch costs (prints a table; not a test).

usage: .hires/venv/bin/python bench/controlnet_tiles.py
           [--sides 32 64] [--tiles 1 4] [--repeats 3]

The tiled pass computes a tile batch's ControlNet residuals on a fresh copy of the chain, given that batch's crop
through `set_cond_hint` and cleaned up after the call (so that no hint cache of any ComfyUI version serves one
tile another tile's hint). This times the copy's own work (making it, cropping the hint, set_cond_hint, pre_run,
cleanup) against the ControlNet call, on the tests' tiny random-weight ControlNet (whose own forward is cheap, so
the copy's share is as large as it gets) and the tiny SD1.5 checkpoint.
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
    parser.add_argument("--sides", type=int, nargs="+", default=[32, 64], help="tile side, latent px")
    parser.add_argument("--tiles", type=int, nargs="+", default=[1, 4], help="tiles per call")
    parser.add_argument("--repeats", type=int, default=3, help="ControlNet calls timed (copies: 10x)")
    args = parser.parse_args()

    from hires_studio.devtools.comfy_host import InProcessComfy, ensure_tiny_models, make_comfy_base

    host = InProcessComfy(make_comfy_base(ROOT / ".hires" / "bench-base", [ensure_tiny_models()]))
    import comfy.model_management as mm

    model, clip = host.node("CheckpointLoaderSimple")().load_checkpoint("tiny_sd15.safetensors")[:2]
    control_net = host.node("ControlNetLoader")().load_controlnet("tiny_controlnet.safetensors")[0]
    mm.load_models_gpu([model])
    device = mm.get_torch_device()
    text = clip.encode_from_tokens_scheduled(clip.tokenize("a photo"))[0][0].to(device)
    print(f"tiny ControlNet on tiny SD1.5, device {device}, cond + uncond per call; medians of {args.repeats} calls "
          f"and {args.repeats * 10} copies\n")
    print("| tile side (latent px) | tiles per call | fresh copy: copy, crop, set_cond_hint, pre_run, cleanup (ms) "
          "| the ControlNet call (ms) | copy / call |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    with torch.inference_mode():
        for side in args.sides:
            for count in args.tiles:
                copy, call = measure(model, control_net, text, side, count, args.repeats)
                print(f"| {side} | {count} | {copy:.2f} | {call:.1f} | {copy / call:.3f} |")


def median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(model, control_net, text: torch.Tensor, side: int, count: int, repeats: int) -> tuple[float, float]:
    """ms per call of a row of `count` tiles of `side` latent px: (making and dropping the fresh copy, the
    ControlNet's own call)."""
    from hires_studio.core.tiling import Tile
    from hires_studio.runtime.tiled_diffusion import TiledControl

    device = text.device
    sampling = model.model.model_sampling
    canvas = (side, side * count)
    hint = torch.rand(1, 3, canvas[0] * 8, canvas[1] * 8)
    control = control_net.copy().set_cond_hint(hint, 0.5)
    tiles = [Tile(0, side * i, side, side) for i in range(count)]
    x = torch.randn(2 * count, 4, side, side, device=device)
    t = torch.full((2 * count,), 500.0, device=device)
    cond = {"c_crossattn": text.expand(2 * count, -1, -1)}

    proxy = TiledControl(control)
    proxy.pre_run(model.model, sampling.percent_to_sigma)
    old = control.copy()
    old.pre_run(model.model, sampling.percent_to_sigma)
    crops = torch.cat([hint[..., :, tl.x * 8:(tl.x + tl.w) * 8] for tl in tiles])

    def controlnet_call() -> None:
        old.cond_hint_original = crops
        old.cond_hint = None
        old.get_control(x, t, cond, 2, {})

    def fresh_copy_only() -> None:
        head = proxy._chain_for(canvas, tiles, 1)[0]
        head.pre_run(*proxy._run_args)
        head.cleanup()

    return median_ms(fresh_copy_only, repeats * 10), median_ms(controlnet_call, repeats)

if __name__ == "__main__":
    main()
