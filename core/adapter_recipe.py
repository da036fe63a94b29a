"""HiResGenerate's adapter recipes: what each adapter type feeds the sampler (start image, regenerate mask,
edge hint, denoise) and keeps pixel-exact at the end. The sizes come from core/plan.py's plan."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .edges import canny_edges
from .masks import face_mask, object_mask
from .resize import bicubic, canvas_mask, place_on_canvas
from .sizing import plan_size

CONTROL_DENOISE = 0.75
"""`control` is image-to-image: the start image is re-noised this far, the edges hold the structure."""
PAD_GRAY = 0.5
"""Where the image does not cover the frame, generation starts from mid gray (the area is regenerated)."""


@dataclass(frozen=True)
class Recipe:
    """What the sampler gets at the generation size, and what is pasted back at the target size."""

    start: torch.Tensor | None
    """BCHW start image at the generation size (None = from pure noise)."""
    regenerate: torch.Tensor | None
    """B1HW at the generation size: 1 = generate, 0 = keep (None = generate everywhere)."""
    hint: torch.Tensor | None
    """BCHW Canny edges at the generation size for the ControlNet (None = no ControlNet)."""
    denoise: float
    keep_image: torch.Tensor | None = None
    """BCHW at the target size: the pixels that come back unchanged where keep_mask is 1."""
    keep_mask: torch.Tensor | None = None
    """B1HW at the target size, exactly 0 or 1."""


def frame(rgb: torch.Tensor, size: tuple[int, int], fill: float = PAD_GRAY) -> tuple[torch.Tensor, torch.Tensor]:
    """The image fitted inside a `size` frame (canvas fit, never squashed) and the frame's padding mask."""
    plan = plan_size(rgb.shape[-1], rgb.shape[-2], size[0], size[1], "canvas")
    placed = place_on_canvas(bicubic(rgb, plan.resized), plan, fill)
    return placed, canvas_mask(plan, placed).expand(rgb.shape[0], 1, -1, -1)


def _on_frame(mask: torch.Tensor, rgb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A source-sized keep mask (B1HW) carried onto the frame, as exact 0/1 (padding is never kept)."""
    plan = plan_size(rgb.shape[-1], rgb.shape[-2], size[0], size[1], "canvas")
    return (place_on_canvas(bicubic(mask, plan.resized), plan, 0.0) > 0.5).float()


def keep_mask_for(adapter_type: str, rgb: torch.Tensor, alpha: torch.Tensor | None, mask: torch.Tensor | None,
                  face_id: bool) -> torch.Tensor | None:
    """B1HW keep mask at the source size (1 = keep) for the adapters that keep something."""
    masks = []
    for i in range(rgb.shape[0]):
        one_mask = None if mask is None else mask[min(i, mask.shape[0] - 1)]
        one_alpha = None if alpha is None else alpha[i]
        if adapter_type == "generate_background":
            masks.append(object_mask(rgb[i], one_alpha, one_mask))
        elif adapter_type == "face":
            masks.append(face_mask(rgb[i], face_id))
        elif adapter_type == "inpainting":
            masks.append(1.0 - (one_mask.float() > 0.5).float())
        else:
            return None
    return torch.stack(masks).unsqueeze(1)


def recipe_for(adapter_type: str | None, rgb: torch.Tensor | None, alpha: torch.Tensor | None,
               mask: torch.Tensor | None, face_id: bool, gen: tuple[int, int], target: tuple[int, int]) -> Recipe:
    """The Recipe of one adapter type. Text only (no adapter, or `upscale`) generates from noise."""
    if adapter_type in (None, "upscale") or rgb is None:
        return Recipe(None, None, None, 1.0)
    start, padding = frame(rgb, gen)
    if adapter_type == "control":
        return Recipe(start, None, canny_edges(start), CONTROL_DENOISE)
    if adapter_type == "control2":
        return Recipe(None, None, canny_edges(start), 1.0)
    keep = keep_mask_for(adapter_type, rgb, alpha, mask, face_id)
    regenerate = torch.maximum(1.0 - _on_frame(keep, rgb, gen), padding)
    keep_image, _ = frame(rgb, target)
    return Recipe(start, regenerate, None, 1.0, keep_image, _on_frame(keep, rgb, target))


def paste_kept(image: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """The kept pixels put back exactly (BCHW at the target size)."""
    if recipe.keep_mask is None:
        return image
    keep = recipe.keep_mask.to(image)
    return image * (1.0 - keep) + recipe.keep_image.to(image) * keep
