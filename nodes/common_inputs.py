"""Inputs that several nodes share, declared once so names, ranges and tooltips agree everywhere."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..core.color_fix import COLOR_FIXES
from ..core.request_rules import CANVAS_FILLS, SIZE_DEFAULTS, SIZE_RULES
from ..core.sizing import CROP_FOCI, FITS, MAX_SIDE
from ..core.strength import DEFAULT_STRENGTH, EFFECT_DENOISE, STRENGTHS
from ..runtime.lora import NO_LORA, lora_choices

CATEGORY = "HiRes Studio"
"""The Node Library folder of every node of the pack; each display name ends with it in brackets."""


def display_name(title: str) -> str:
    """How the editor names a node: its title, then the pack, so a search shows whose node it is."""
    return f"{title} ({CATEGORY})"


AdapterIO = io.Custom("HIRES_ADAPTER")
"""The ADAPTER value AdapterSelect outputs and the generators take."""


def size_inputs(default_scale: float = SIZE_DEFAULTS.scale_by) -> list[io.Input]:
    return [
        io.Int.Input(
            "width", default=SIZE_DEFAULTS.width, min=0, max=MAX_SIDE, step=1,
            tooltip="Output width in pixels. 0 = keep the aspect ratio from height (or use scale_by if both are 0).",
        ),
        io.Int.Input(
            "height", default=SIZE_DEFAULTS.height, min=0, max=MAX_SIDE, step=1,
            tooltip="Output height in pixels. 0 = keep the aspect ratio from width (or use scale_by if both are 0).",
        ),
        io.Combo.Input(
            "fit", options=list(FITS), default=SIZE_DEFAULTS.fit,
            tooltip="When both width and height are set: canvas = fit inside and pad to exactly WxH; crop = cover "
            "and crop the centre to exactly WxH; bounds = fit inside (output may be smaller); cover = cover "
            "(output may be larger). The image is never squashed.",
        ),
        io.Float.Input(
            "scale_by", default=default_scale, min=0.0, max=64.0, step=0.05,
            tooltip="Scale factor used only when width and height are both 0.",
        ),
    ]


def strength_input() -> io.Int.Input:
    return io.Int.Input(
        "upscale_strength", display_name="upscale_strength (1-3 strong, 4-6 medium, 7-9 none)",
        default=DEFAULT_STRENGTH, min=STRENGTHS[0], max=STRENGTHS[-1], step=1,
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
        io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1,
                       tooltip="Classifier-free guidance (Stability's cfg_scale: 0-35, default 7)."),
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


def size_rules_input() -> io.Combo.Input:
    return io.Combo.Input(
        "size_rules", options=list(SIZE_RULES), default=SIZE_DEFAULTS.size_rules, optional=True,
        tooltip="Whose size rules apply. deep-image: width/height/fit/scale_by as described. stability-v1: "
        "Stability's upscale: 2x by default, or only one of width or height (at least 512); input at most "
        "1,048,576 px, output at most 4,194,304 px.",
    )


def resize_inputs() -> list[io.Input]:
    """deep-image's resize fields beyond the size: margin, minimum side, crop window and canvas fill. Optional,
    with SIZE_DEFAULTS' values, so an API prompt that leaves them out stays valid, sized by width, height, fit
    and scale_by alone."""
    return [
        io.String.Input("padding", default=SIZE_DEFAULTS.padding, optional=True,
                        tooltip="A margin inside the output: pixels ('24') or a percentage of the shorter side "
                        "('5%'). The output keeps its size; the image is fitted inside the margin."),
        io.Int.Input("min_length", default=SIZE_DEFAULTS.min_length, min=0, max=MAX_SIDE, optional=True,
                     tooltip="The output's shorter side is at least this long (0 = no minimum)."),
        io.Combo.Input("crop_focus", options=list(CROP_FOCI), default=SIZE_DEFAULTS.crop_focus, optional=True,
                       tooltip="fit crop only: where the window goes. center; item = keep the main object whole "
                       "(alpha, else GrabCut, as generate_background finds it); content = the most detailed "
                       "region."),
        io.Combo.Input("canvas_fill", options=list(CANVAS_FILLS), default=SIZE_DEFAULTS.canvas_fill, optional=True,
                       tooltip="The gap of fit canvas (and of padding): color = fill_color; outpaint = generated "
                       "by a masked diffusion pass (needs a model); the image's own pixels stay unchanged."),
        io.String.Input("fill_color", default=SIZE_DEFAULTS.fill_color, optional=True,
                        tooltip=f"The gap's colour for canvas_fill color, as hex ('{SIZE_DEFAULTS.fill_color}', "
                        "'#fff')."),
    ]
