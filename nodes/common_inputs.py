"""Inputs that several nodes share, declared once so names, ranges and tooltips agree everywhere."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from .core.color_fix import COLOR_FIXES
from .core.errors import HiResInputError
from .core.sizing import FITS, MAX_SIDE, plan_size
from .core.strength import DEFAULT_STRENGTH, EFFECT_DENOISE, StrengthPreset
from .runtime.generative import DiffusionSettings
from .runtime.lora import NO_LORA, lora_choices

CLEANUP_CHOICES = ("auto", "off", "light", "medium", "strong", "strongest")
"""BicubicClean's cleanup strength: auto measures the damage; the others are waifu2x denoise levels 0..3."""
CLEANUP_LEVELS: dict[str, int | None] = {"off": None, "light": 0, "medium": 1, "strong": 2, "strongest": 3}


def size_inputs(default_scale: float = 2.0) -> list[io.Input]:
    return [
        io.Int.Input(
            "width", default=0, min=0, max=MAX_SIDE, step=1,
            tooltip="Output width in pixels. 0 = keep the aspect ratio from height (or use scale_by if both are 0).",
        ),
        io.Int.Input(
            "height", default=0, min=0, max=MAX_SIDE, step=1,
            tooltip="Output height in pixels. 0 = keep the aspect ratio from width (or use scale_by if both are 0).",
        ),
        io.Combo.Input(
            "fit", options=list(FITS), default="canvas",
            tooltip="When both width and height are set: canvas = fit inside and pad to exactly WxH; crop = cover "
            "and crop the centre to exactly WxH; bounds = fit inside (output may be smaller); cover = cover "
            "(output may be larger). The image is never squashed.",
        ),
        io.Float.Input(
            "scale_by", default=default_scale, min=0.0, max=64.0, step=0.05,
            tooltip="Scale factor used only when width and height are both 0.",
        ),
    ]


def check_size_inputs(width: int, height: int, fit: str, scale_by: float) -> bool | str:
    """validate_inputs for the size inputs: True, or the message ComfyUI shows before the run.

    A square stand-in image is enough: none of these rules depends on the aspect ratio of the source.
    """
    try:
        plan_size(1024, 1024, width, height, fit, scale_by)
    except HiResInputError as error:
        return str(error)
    return True


def strength_input() -> io.Int.Input:
    return io.Int.Input(
        "upscale_strength", display_name="upscale_strength (1-3 strong, 4-6 medium, 7-9 none)",
        default=DEFAULT_STRENGTH, min=1, max=9, step=1,
        tooltip="deep-image's dial: the generative effect by band, 1-3 strong, 4-6 medium, 7-9 none (no diffusion, "
        "no checkpoint). Within each band: upscale model (upscale_4), bicubic, bicubic + cleanup. Lower is more "
        "creative; 5 is the default.",
    )


def diffusion_inputs(seed_name: str = "seed", seed_tooltip: str = "Noise seed; the noise is drawn once for the "
                     "whole canvas.") -> list[io.Input]:
    """The diffusion settings; the defaults suit SD-family checkpoints."""
    return [
        io.Int.Input(seed_name, default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                     tooltip=seed_tooltip),
        io.Combo.Input("lora_name", options=lora_choices(), default=NO_LORA,
                       tooltip="A LoRA applied during the diffusion pass at the strength table's scale "
                       "(1.0 strong, 0.5 medium) times lora_strength."),
        io.Float.Input("lora_strength", default=1.0, min=-4.0, max=4.0, step=0.05,
                       tooltip="Multiplies the table's LoRA scale."),
        io.Int.Input("steps", default=20, min=1, max=200,
                     tooltip="Model evaluations of the diffusion pass (ComfyUI runs this many whatever the denoise)."),
        io.Float.Input("cfg", default=7.0, min=0.0, max=30.0, step=0.1, tooltip="Classifier-free guidance."),
        io.Combo.Input("sampler_name", options=list(comfy.samplers.KSampler.SAMPLERS), default="euler",
                       tooltip="The sampling algorithm (any of ComfyUI's): euler is a safe default; turbo and "
                       "distilled models name theirs (e.g. res_multistep for Z-Image-Turbo)."),
        io.Combo.Input("scheduler", options=list(comfy.samplers.KSampler.SCHEDULERS), default="normal",
                       tooltip="How the noise levels are spaced over the steps (any of ComfyUI's): normal for "
                       "SD-family checkpoints, simple for flow models such as Flux, Qwen-Image or Z-Image."),
        io.Float.Input("denoise_override", default=0.0, min=0.0, max=1.0, step=0.01,
                       tooltip=f"0 = from upscale_strength (strong {EFFECT_DENOISE['strong']}, medium "
                       f"{EFFECT_DENOISE['medium']}); otherwise the denoise of the diffusion pass."),
        io.Int.Input("tile_size", default=0, min=0, max=MAX_SIDE, step=8,
                     tooltip="Largest diffusion tile side in pixels; 0 = the model's native resolution."),
        io.Int.Input("tile_batch", default=0, min=0, max=256,
                     tooltip="Tiles per model call; 0 = automatic: as many as fit in free memory on a "
                     "GPU, one on a CPU."),
        io.Combo.Input("color_fix", options=list(COLOR_FIXES), default="wavelet",
                       tooltip="Keep the base image's colours: wavelet (low band from the base), adain (mean and "
                       "deviation) or none."),
    ]


def diffusion_settings(preset: StrengthPreset, seed: int, steps: int, cfg: float, sampler_name: str,
                       scheduler: str, denoise_override: float, tile_size: int, tile_batch: int,
                       color_fix: str) -> DiffusionSettings:
    return DiffusionSettings(
        seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
        denoise=denoise_override or preset.denoise, tile_size=tile_size, tile_batch=tile_batch, color_fix=color_fix,
    )
