"""Run an UPSCALE_MODEL (spandrel) the way core ComfyUI does: free memory first, tile the image with a
ProgressBar, halve the tile on out-of-memory, and give the model back to the CPU afterwards."""

from __future__ import annotations

import logging

import comfy.utils
import torch
from comfy import model_management

from ..core.model_tiles import fitted_tile
from .interrupts import interrupt_checks
from .memory import halve_tile_on_oom

log = logging.getLogger(__name__)

_TILE = 512
_CPU_TILE = 192
"""On a CPU one layer of Real-ESRGAN x4plus on a 512 px tile runs for seconds, longer than Cancel may take:
smaller tiles keep every layer short (the interrupt is checked before each one), for about 1.3x the pixels."""
_OVERLAP = 32
_MIN_TILE = 64


def upscale_with_model(upscale_model, image: torch.Tensor, passes: int) -> torch.Tensor:
    """Apply `upscale_model` `passes` times to a BCHW RGB image in [0, 1]; returns it on the
    intermediate device, clamped to [0, 1]."""
    if passes <= 0:
        return image
    device = model_management.get_torch_device()
    scale = float(upscale_model.scale)
    out_pixels = image.shape[0] * image.shape[-2] * image.shape[-1] * max(scale, 1.0) ** (2 * passes)
    memory_required = model_management.module_size(upscale_model.model)
    memory_required += (_TILE * _TILE * 3) * image.element_size() * max(scale, 1.0) * 384.0
    memory_required += out_pixels * 3 * image.element_size()
    model_management.free_memory(memory_required, device)

    upscale_model.to(device)
    try:
        with interrupt_checks(upscale_model.model):
            x = image
            for index in range(passes):
                x = _one_pass(upscale_model, x, scale, device)
                log.debug("upscale pass %d/%d -> %dx%d", index + 1, passes, x.shape[-1], x.shape[-2])
        return x
    finally:
        upscale_model.to("cpu")


def _one_pass(upscale_model, x: torch.Tensor, scale: float, device: torch.device) -> torch.Tensor:
    def run(tile: int) -> torch.Tensor:
        tile_x, tile_y = (fitted_tile(side, tile, _OVERLAP) for side in (x.shape[-1], x.shape[-2]))
        steps = x.shape[0] * comfy.utils.get_tiled_scale_steps(x.shape[-1], x.shape[-2], tile_x, tile_y, _OVERLAP)
        y = comfy.utils.tiled_scale(
            x.to(device), _interruptible(upscale_model), tile_x=tile_x, tile_y=tile_y, overlap=_OVERLAP,
            upscale_amount=scale, pbar=comfy.utils.ProgressBar(steps),
            output_device=model_management.intermediate_device(),
        )
        return y.clamp(0.0, 1.0)

    first = _CPU_TILE if device.type == "cpu" else _TILE
    return halve_tile_on_oom(run, first, _MIN_TILE, "the upscale model", lower="the output size (width, height "
                             "or scale_by) or the image's size")


def _interruptible(upscale_model):
    def run(tile: torch.Tensor) -> torch.Tensor:
        model_management.throw_exception_if_processing_interrupted()
        return upscale_model(tile)

    return run
