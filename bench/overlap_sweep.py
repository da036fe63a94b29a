"""How narrow the diffusion tiles' overlap can be (prints a table; not a test).

usage: .hires/venv/bin/python bench/overlap_sweep.py [--overlaps 2 3 4 8]

For each overlap (latent px, blend margin 1), GenerativeUpscale on the tiny checkpoint with 128 px tiles:
  exact     max |tiled - untiled| with the UNet replaced by a 3x3 convolution (a model that sees locally);
  seam      the boundary-gradient score of tests/comfy (mean gradient on the tile boundary lines over the mean
            gradient everywhere, worse of x and y; the test's bar is 1.3) on the tiny checkpoint itself;
  ratio     evaluated / canvas latent px of that grid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from hires_studio.devtools.comfy_host import InProcessComfy, ensure_tiny_models, make_comfy_base, pack_module

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[2, 3, 4, 8])
    args = parser.parse_args()

    host = InProcessComfy(make_comfy_base(ROOT / ".hires" / "bench-base", [ensure_tiny_models()]))
    from hires_studio.core.resize import bicubic
    from hires_studio.core.tiling import TILE_STRETCH, plan_grid

    diffusion_pass = pack_module(host, "runtime.diffusion_pass")
    model, clip, vae = host.node("CheckpointLoaderSimple")().load_checkpoint("tiny_sd15.safetensors")[:3]
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(0)) * 0.1)
        conv.bias.zero_()
    local = model.clone()
    local.set_model_unet_function_wrapper(lambda apply_model, a: conv(a["input"]))
    g = torch.Generator().manual_seed(0)
    image = bicubic(torch.rand(1, 3, 5, 7, generator=g), (96, 96)).movedim(1, -1).contiguous()
    common = dict(width=0, height=0, fit="canvas", scale_by=3.0, seed=7, lora_name="none", lora_strength=1.0,
                  steps=3, cfg=5.0, sampler_name="euler", scheduler="normal", denoise_override=0.0, tile_batch=0,
                  color_fix="none", vae=vae, clip=clip)

    def run(m, tile_size: int, strength: int = 5) -> torch.Tensor:
        with torch.inference_mode():
            return host.node("GenerativeUpscale").execute(image=image, model=m, tile_size=tile_size,
                                                          upscale_strength=strength, **common)[0]

    untiled = run(local, 4096)
    print("| overlap (latent px) | tiles | evaluated / canvas px | max abs tiled - untiled (local model) "
          "| seam score (tiny checkpoint) |\n| ---: | ---: | ---: | ---: | ---: |", flush=True)
    for overlap in args.overlaps:
        diffusion_pass.diffusion_overlap = lambda tile, o=overlap: o
        grid = plan_grid(36, 36, 16, overlap, stretch=TILE_STRETCH)
        exact = float((run(local, 128) - untiled).abs().max())
        out = run(model, 128, strength=2)[0]
        gx = (out[:, 1:] - out[:, :-1]).abs().mean(dim=(0, 2))
        gy = (out[1:] - out[:-1]).abs().mean(dim=(1, 2))
        xs = sorted({c * 8 - 1 for c in grid.cols[1:]} | {(c + grid.tile_w) * 8 - 1 for c in grid.cols[:-1]})
        ys = sorted({r * 8 - 1 for r in grid.rows[1:]} | {(r + grid.tile_h) * 8 - 1 for r in grid.rows[:-1]})
        seam = max(float(gx[xs].mean() / gx.mean()), float(gy[ys].mean() / gy.mean()))
        print(f"| {overlap} | {len(grid.tiles)} | {grid.overlap_ratio:.3f} | {exact:.1e} | {seam:.3f} |", flush=True)


if __name__ == "__main__":
    main()
