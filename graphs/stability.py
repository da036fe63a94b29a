"""Stability v1's `image-to-image/upscale` as a graph: its two engines, sized by Stability's rules
(size_rules stability-v1), with the text prompts combined by weight and split by sign."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..core.sizing import (
    STABILITY_CFG_SCALE,
    STABILITY_DEFAULT_CFG_SCALE,
    STABILITY_DEFAULT_STEPS,
    STABILITY_PROMPT_MAX_CHARS,
    STABILITY_SEED_MAX,
    STABILITY_STEPS,
)
from ..core.strength import DEFAULT_PLAIN_STRENGTH
from .building import Graph, Link, load_image, node, output, save
from .models import CHECKPOINT, REALESRGAN, checkpoint_loader

STABILITY_ENGINES = ("esrgan-v1-x2plus", "stable-diffusion-x4-latent-upscaler")
"""Stability v1's `image-to-image/upscale` engines."""
STABILITY_OUTPUT_NAMES = {"esrgan-v1-x2plus": "stability_esrgan_x2_upscale",
                          "stable-diffusion-x4-latent-upscaler": "stability_latent_x4_upscale"}
"""The SaveImage prefix of each engine's graph: the shipped workflow's name."""
STABILITY_LATENT_STRENGTH = 5
"""The latent upscaler as a generative upscale: bicubic base, medium diffusion pass (denoise 0.35)."""
WEIGHT_DECIMALS = 2
"""ConditioningAverage's strength widget steps by 0.01: the combined weights are written to that precision."""
Prompts = Sequence[tuple[str, float]]
"""(text, weight) pairs: Stability's text_prompts."""


def combine_by_weight(graph: Graph, clip: Link, prompts: Prompts, title: str) -> Link:
    """One CONDITIONING for several prompts: each encoded, then averaged by weight with ComfyUI's own
    ConditioningAverage (a running mean: the kept side's share is the weight so far over the new total)."""
    combined, total = None, 0.0
    for text, weight in prompts:
        encoded = graph.add(node("CLIPTextEncode", f"{title} (weight {weight:g})", text=text, clip=clip))
        if combined is None:
            combined, total = encoded, weight
            continue
        share = round(total / (total + weight), WEIGHT_DECIMALS)
        combined = graph.add(node("ConditioningAverage", f"{title}: combined by weight",
                                  conditioning_to=combined, conditioning_from=encoded,
                                  conditioning_to_strength=share))
        total += weight
    if combined is None:
        combined = graph.add(node("CLIPTextEncode", f"{title} (none given)", text="", clip=clip))
    return combined


def split_prompts(prompts: Prompts) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Stability's text_prompts split by sign: a negative weight is a negative prompt (its size its weight)."""
    positive, negative = [], []
    for index, (text, weight) in enumerate(prompts):
        name = f"text_prompts[{index}]"
        if not isinstance(text, str) or not text.strip() or len(text) > STABILITY_PROMPT_MAX_CHARS:
            raise HiResInputError(f"{name}[text]", text, f"must be 1 to {STABILITY_PROMPT_MAX_CHARS} characters",
                                  "give the prompt's text")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight == 0:
            raise HiResInputError(f"{name}[weight]", weight, "must be a finite number other than 0",
                                  "use a positive weight for a prompt, a negative one for a negative prompt")
        (positive if weight > 0 else negative).append((text, abs(float(weight))))
    return positive, negative


def _check_range(name: str, value: Any, low: float, high: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        low_text, high_text = (str(int(v)) if float(v).is_integer() else f"{v:g}" for v in (low, high))
        raise HiResInputError(name, value, f"must be {what} from {low_text} to {high_text}",
                              f"use a value in {low_text}..{high_text}")


def check_upscale_request(engine: str, prompts: Prompts, seed: int, steps: int,
                          cfg_scale: float) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The request's engine, settings and prompts, each against Stability's limits; the prompts split by sign."""
    if engine not in STABILITY_ENGINES:
        raise HiResInputError("engine_id", engine, f"The specified engine (ID {engine}) was not found",
                              f"use one of {', '.join(STABILITY_ENGINES)}")
    _check_range("seed", seed, 0, STABILITY_SEED_MAX, "a whole number")
    _check_range("steps", steps, *STABILITY_STEPS, "a whole number")
    _check_range("cfg_scale", cfg_scale, *STABILITY_CFG_SCALE, "a number")
    split = split_prompts(prompts)
    if engine == "esrgan-v1-x2plus" and prompts:
        raise HiResInputError("text_prompts", len(prompts), "esrgan-v1-x2plus takes no prompts",
                              "leave text_prompts out, or use stable-diffusion-x4-latent-upscaler")
    return split


def stability_upscale_graph(
    engine: str, *, image: str, width: int = 0, height: int = 0, prompts: Prompts = (), seed: int = 0,
    steps: int = STABILITY_DEFAULT_STEPS, cfg_scale: float = STABILITY_DEFAULT_CFG_SCALE,
    checkpoint: str = CHECKPOINT, upscale_model: str = REALESRGAN, rng: random.Random | None = None,
) -> ApiPrompt:
    """Stability v1's `image-to-image/upscale` request on the input file `image`, as a graph. Both engines size
    by Stability's rules (2x by default, or one of width or height). `esrgan-v1-x2plus` is the AI upscaler alone
    (no diffusion, no checkpoint); `stable-diffusion-x4-latent-upscaler` is the generative upscale guided by
    `prompts` ((text, weight), ...: negative weight = negative prompt, several combined by weight), with `seed`
    (0 = random, drawn here), `steps` (10-150) and `cfg_scale` (0-35)."""
    positive, negative = check_upscale_request(engine, prompts, seed, steps, cfg_scale)
    graph = Graph()
    loaded = graph.add(load_image(image))
    size = {"width": width, "height": height, "size_rules": "stability-v1"}
    if engine == "esrgan-v1-x2plus":
        upscaler = graph.add(node("UpscaleModelLoader", "Load Upscale Model (ESRGAN)", model_name=upscale_model))
        upscaled = graph.add(node("GenerativeUpscale", "Generative Upscale (ESRGAN alone, Stability's rules)",
                                  image=loaded, upscale_model=upscaler, upscale_strength=DEFAULT_PLAIN_STRENGTH,
                                  **size))
    else:
        if seed == 0:
            seed = (rng or random.SystemRandom()).randint(1, STABILITY_SEED_MAX)
        ckpt = graph.add(checkpoint_loader(checkpoint))
        clip = output(ckpt, 1)
        positive_cond = combine_by_weight(graph, clip, positive, "Prompt")
        negative_cond = combine_by_weight(graph, clip, negative, "Negative prompt")
        adapter = graph.add(node("AdapterSelect", "Adapter Select (text_prompts)", adapter_type="upscale",
                                 positive=positive_cond, negative=negative_cond))
        upscaled = graph.add(node(
            "GenerativeUpscale", "Generative Upscale (latent upscaler, Stability's rules)", image=loaded,
            model=output(ckpt, 0), vae=output(ckpt, 2), adapter=adapter, upscale_strength=STABILITY_LATENT_STRENGTH,
            seed=int(seed), steps=int(steps), cfg=float(cfg_scale), **size))
    graph.add(save(upscaled[0], STABILITY_OUTPUT_NAMES[engine]))
    return graph.prompt
