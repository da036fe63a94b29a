"""The plan's execution, shared by GenerativeUpscale, BicubicClean and HiResGenerate: the route's base path,
then (when the route has one) the tiled generative pass with the LoRA at the route's scale, on the exact
canvas; with canvas_fill outpaint, the canvas gap generated around the finished image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..core.base_route import make_base, resize_alpha
from ..core.edges import canny_edges
from ..core.plan import OUTPAINT_DENOISE, Plan
from ..core.resize import bicubic, canvas_mask, crop_box, merge_alpha, place_on_canvas, split_alpha
from ..core.sizing import SizePlan
from .cleanup_model import cleanup_function
from .conditioning import apply_controlnet
from .diffusion_pass import DiffusionSettings, PassReport, generative_pass
from .lora import apply_lora
from .upscale_model import upscale_with_model


@dataclass(frozen=True)
class EdgeControl:
    """The `control` adapter during an upscale: the base image's Canny edges through a ControlNet."""

    control_net: object
    scale: float


OUTPAINT_START = 0.5
"""The gap starts from mid gray before it is re-noised all the way."""


def upscale_image(
    image: torch.Tensor,
    plan: Plan,
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
    clean: Callable[[torch.Tensor], torch.Tensor] | None = None,
    report: PassReport | None = None,
) -> torch.Tensor:
    """A ComfyUI IMAGE brought to the plan's canvas. Inputs are assumed checked by the plan."""
    rgb, alpha = split_alpha(image)
    upscale = None
    if upscale_model is not None:
        def upscale(x: torch.Tensor, passes: int) -> torch.Tensor:
            return upscale_with_model(upscale_model, x, passes)

    size = plan.size
    outpaint = plan.outpaint and size.padded
    # With outpaint the image is finished on its own first; the gap is generated around it afterwards.
    body_size = SizePlan(size.source, size.source_box, size.resized, size.resized, (0, 0)) if outpaint else size
    base = make_base(
        rgb, body_size, plan.route.base_path, upscale=upscale,
        upscale_scale=float(getattr(upscale_model, "scale", 4.0)), clean=clean or cleanup_function("auto"),
        fill=plan.fill,
    )
    diffusion = plan.route.diffusion
    if diffusion is not None and settings is not None:
        patched = apply_lora(model, lora_name, diffusion.lora_scale * lora_strength)
        add_controls = None
        if edge_control is not None:
            def add_controls(pos: list, neg: list, padded: torch.Tensor) -> tuple[list, list]:
                return apply_controlnet(pos, neg, edge_control.control_net, canny_edges(padded),
                                        edge_control.scale, vae)
        noise_mask = None if mask is None else mask_to_canvas(mask, body_size)
        base = generative_pass(patched, vae, positive, negative, base, replace(settings, denoise=diffusion.denoise),
                               noise_mask=noise_mask, add_controls=add_controls, report=report)
    if outpaint:
        base = outpaint_gap(base, size, model, vae, positive, negative, settings, report)
    if alpha is not None and outpaint:  # the generated gap is opaque
        alpha = place_on_canvas(bicubic(crop_box(alpha, size), size.resized), size, 1.0)
    elif alpha is not None:
        alpha = resize_alpha(alpha, size)
    return merge_alpha(base, alpha)


def outpaint_gap(body: torch.Tensor, size: SizePlan, model, vae, positive: list, negative: list,
                 settings: DiffusionSettings, report: PassReport | None = None) -> torch.Tensor:
    """The finished image (BCHW at `size.resized`) placed on the canvas and the gap generated around it by a
    masked diffusion pass; the image's own pixels are put back bit for bit."""
    canvas = place_on_canvas(body, size, OUTPAINT_START)
    gap = canvas_mask(size, canvas).expand(canvas.shape[0], 1, -1, -1)
    generated = generative_pass(model, vae, positive, negative, canvas,
                                replace(settings, denoise=OUTPAINT_DENOISE, color_fix="none"), noise_mask=gap,
                                report=report)
    return torch.where(gap.bool().expand_as(canvas), generated.to(canvas), canvas)


def mask_to_canvas(mask: torch.Tensor, plan: SizePlan) -> torch.Tensor:
    """A source-sized MASK (B, H, W) or (H, W) -> (B, 1, H, W) on the canvas; padding is regenerated."""
    m = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    return place_on_canvas(bicubic(crop_box(m, plan), plan.resized), plan, 1.0)
