"""The generative pass as the benchmarks run it: one input image, one pair of prompts, one sampler, and the same
pass options on every benchmark's command line, so their figures compare."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch

from hires_studio.core.resize import bicubic
from hires_studio.devtools.comfy_host import InProcessComfy, pack_module

PROMPT = "a detailed photo, high quality, highly detailed, 8K"
SOURCE_SIDE = 512
"""The input: a seeded 8 x 8 noise picture brought to 512 px by bicubic, then to the benchmark's side."""


def add_pass_options(parser: argparse.ArgumentParser) -> None:
    """--steps, --cfg, --denoise and --tile, with the same defaults in every benchmark."""
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--denoise", type=float, default=0.35)
    parser.add_argument("--tile", type=int, default=512)


def upscaled_input(side: int) -> torch.Tensor:
    """The pass's input, BCHW: the seeded 512 px source upscaled by bicubic to side x side."""
    source = bicubic(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)), (SOURCE_SIDE, SOURCE_SIDE))
    return bicubic(source, (side, side))


@dataclass(frozen=True)
class PassModels:
    """A checkpoint's model and VAE, the prompts encoded with its CLIP, and the pack's pass module."""

    diffusion_pass: Any
    model: Any
    vae: Any
    positive: Any
    negative: Any


def load_pass_models(host: InProcessComfy, checkpoint: str) -> PassModels:
    diffusion_pass = pack_module(host, "runtime.diffusion_pass")
    conditioning = pack_module(host, "runtime.conditioning")
    model, clip, vae = host.node("CheckpointLoaderSimple")().load_checkpoint(checkpoint)[:3]
    return PassModels(diffusion_pass, model, vae, conditioning.encode_text(clip, PROMPT),
                      conditioning.encode_text(clip, ""))


def pass_settings(models: PassModels, args: argparse.Namespace, seed: int, tile_batch: int = 0) -> Any:
    """The pass's settings from add_pass_options' values: euler/normal, no colour fix."""
    return models.diffusion_pass.DiffusionSettings(
        seed=seed, steps=args.steps, cfg=args.cfg, sampler_name="euler", scheduler="normal", denoise=args.denoise,
        tile_size=args.tile, tile_batch=tile_batch, color_fix="none")
