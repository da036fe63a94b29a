"""HiResGenerate's run: each image of the batch generated at the model's native budget (its own seed), then
brought to exactly the planned size by the plan's finish (an AI or bicubic resize, or the generative upscale),
with the adapter's kept pixels pasted back."""

from __future__ import annotations

from dataclasses import replace

import torch

from ..core.adapter import DEFAULT_CONTROL_SCALE
from ..core.adapter_recipe import paste_kept, recipe_for
from ..core.plan import GenerationPlan
from ..core.resize import bchw_to_bhwc, split_alpha
from .conditioning import adapter_conditioning
from .diffusion_pass import DiffusionSettings
from .native_generation import generate_native
from .upscale_pipeline import EdgeControl, upscale_image

SEED_SPACE = 1 << 64
"""Seeds wrap around ComfyUI's 64-bit range (image i of a batch uses sample_num + i)."""


def generate_images(plan: GenerationPlan, model, vae, clip, adapter, settings: DiffusionSettings, *,
                    upscale_model=None, lora_name: str, lora_strength: float,
                    node: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The plan's `num_images` images as ComfyUI IMAGEs (B, H, W, C): the finished ones and the native ones.
    `settings` carries the first image's seed (image i uses seed + i); its denoise is replaced by the finish's."""
    positive, negative = adapter_conditioning(adapter, clip, node)
    image = None if adapter is None else adapter.image
    rgb, alpha = (None, None) if image is None else split_alpha(image)
    adapter_type = None if adapter is None else adapter.adapter_type
    recipe = recipe_for(adapter_type, rgb, alpha, None if adapter is None else adapter.mask,
                        bool(adapter is not None and adapter.face_id), plan.generation, plan.target)
    control_net = None if adapter is None else adapter.control_net
    control_scale = DEFAULT_CONTROL_SCALE if adapter is None else adapter.control_scale
    batch = 1 if image is None else image.shape[0]
    edge_control = EdgeControl(control_net, control_scale) if adapter_type in ("control", "control2") else None
    regenerate = None if recipe.regenerate is None else recipe.regenerate[:, 0]
    finish = plan.finish.route.diffusion

    images, natives = [], []
    for i in range(plan.num_images):
        image_settings = replace(settings, seed=(settings.seed + i) % SEED_SPACE,
                                 denoise=1.0 if finish is None else finish.denoise)
        native_image = generate_native(model, vae, positive, negative, recipe, plan.generation, batch,
                                       image_settings, control_net, control_scale)
        out = upscale_image(
            bchw_to_bhwc(native_image), plan.finish, image_settings if finish is not None else None,
            upscale_model=upscale_model, model=model, vae=vae, positive=positive, negative=negative,
            lora_name=lora_name, lora_strength=lora_strength, edge_control=edge_control, mask=regenerate,
        )
        images.append(paste_kept(out.movedim(-1, 1), recipe))
        natives.append(native_image)
    return bchw_to_bhwc(torch.cat(images)).contiguous(), bchw_to_bhwc(torch.cat(natives)).contiguous()
