"""GenerativeUpscale's pipeline, shared with HiResGenerate: the base path of the strength table, then
(for strengths 1..6) the tiled generative pass with the LoRA at the preset's scale, on the exact canvas."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.base_path import make_base, resize_alpha
from ..core.edges import canny_edges
from ..core.resize import bicubic, crop_box, merge_alpha, place_on_canvas, split_alpha
from ..core.sizing import SizePlan
from ..core.strength import StrengthPreset
from .cleanup_model import cleanup_function
from .conditioning import apply_controlnet
from .generative import DiffusionSettings, PassReport, generative_pass
from .lora import apply_lora
from .upscale_model import upscale_with_model


@dataclass(frozen=True)
class EdgeControl:
    """The `control` adapter during an upscale: the base image's Canny edges through a ControlNet."""

    control_net: object
    scale: float


def upscale_image(
    image: torch.Tensor,
    plan: SizePlan,
    preset: StrengthPreset,
    settings: DiffusionSettings | None,
    *,
    upscale_model=None,
    model=None,
    vae=None,
    positive: list | None = None,
    negative: list | None = None,
    lora_name: str = "none",
    lora_strength: float = 1.0,
    edge_control: EdgeControl | None = None,
    mask: torch.Tensor | None = None,
    report: PassReport | None = None,
) -> torch.Tensor:
    """A ComfyUI IMAGE brought to the plan's canvas. Inputs are assumed validated by the node."""
    rgb, alpha = split_alpha(image)
    upscale = None
    if upscale_model is not None:
        def upscale(x: torch.Tensor, passes: int) -> torch.Tensor:
            return upscale_with_model(upscale_model, x, passes)

    base = make_base(
        rgb, plan, preset.base_path, upscale=upscale,
        upscale_scale=float(getattr(upscale_model, "scale", 4.0)), clean=cleanup_function("auto"),
    )
    if preset.generative and settings is not None:
        patched = apply_lora(model, lora_name, preset.lora_scale * lora_strength)
        add_controls = None
        if edge_control is not None:
            def add_controls(pos: list, neg: list, padded: torch.Tensor) -> tuple[list, list]:
                return apply_controlnet(pos, neg, edge_control.control_net, canny_edges(padded),
                                        edge_control.scale, vae)
        noise_mask = None if mask is None else mask_to_canvas(mask, plan)
        base = generative_pass(patched, vae, positive, negative, base, settings, noise_mask=noise_mask,
                               add_controls=add_controls, report=report)
    return merge_alpha(base, None if alpha is None else resize_alpha(alpha, plan))


def mask_to_canvas(mask: torch.Tensor, plan: SizePlan) -> torch.Tensor:
    """A source-sized MASK (B, H, W) or (H, W) -> (B, 1, H, W) on the canvas; padding is regenerated."""
    m = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    return place_on_canvas(bicubic(crop_box(m, plan), plan.resized), plan, 1.0)
