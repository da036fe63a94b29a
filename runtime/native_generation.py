"""HiResGenerate's native-size generation: one sampler run at the model's pixel budget from noise or from a
start image, with the regenerate mask and the edge ControlNet of the adapter's Recipe."""

from __future__ import annotations

import comfy.sample
import comfy.utils
import torch
from comfy import model_management

from ..core.adapter import DEFAULT_CONTROL_SCALE
from ..core.adapter_recipe import Recipe
from ..core.preview_pacing import every_step
from .canvas_preview import CanvasPreview
from .conditioning import apply_controlnet
from .diffusion_pass import DiffusionSettings, PassReport, decode, encode, pad_to_multiple


def _progress(model, steps: int, cfg: float):
    """The sampler's callback: the editor's progress bar with a live preview (as KSampler's, when the user's
    preview method is on), and Cancel checked at every step."""
    bar = comfy.utils.ProgressBar(steps)
    preview = CanvasPreview.for_model(model, cfg, every_step())

    def callback(step: int, denoised, x, total_steps: int) -> None:
        model_management.throw_exception_if_processing_interrupted()
        bar.update_absolute(step + 1, total_steps, None if preview is None else preview.after_step(denoised))

    return callback


def generate_native(model, vae, positive: list, negative: list, recipe: Recipe, size: tuple[int, int],
                    batch: int, settings: DiffusionSettings, control_net=None,
                    control_scale: float = DEFAULT_CONTROL_SCALE) -> torch.Tensor:
    """A BCHW image of `size` (width, height) in [0, 1]."""
    report = PassReport()
    ratio = vae.spacial_compression_encode()
    width, height = size
    if recipe.start is not None:
        latent = encode(vae, pad_to_multiple(recipe.start, ratio), report)
    else:
        latent = torch.zeros([batch, 4, -(-height // ratio), -(-width // ratio)],
                             device=model_management.intermediate_device())
    latent = comfy.sample.fix_empty_latent_channels(model, latent)
    if recipe.hint is not None and control_net is not None:
        positive, negative = apply_controlnet(positive, negative, control_net, recipe.hint, control_scale, vae)
    mask = None if recipe.regenerate is None else pad_to_multiple(recipe.regenerate, ratio)
    noise = comfy.sample.prepare_noise(latent, settings.seed)
    samples = comfy.sample.sample(
        model, noise, settings.steps, settings.cfg, settings.sampler_name, settings.scheduler, positive, negative,
        latent, denoise=recipe.denoise, noise_mask=mask, callback=_progress(model, settings.steps, settings.cfg),
        disable_pbar=True, seed=settings.seed,
    )
    return decode(vae, samples, report)[..., :height, :width].clamp(0.0, 1.0)

