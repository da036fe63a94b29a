"""The cleanup pass under ComfyUI: weights from the models folder (or the installed package), run on
ComfyUI's device with a ProgressBar and the interrupt check between tiles."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import comfy.utils
import folder_paths
import torch
from comfy import model_management

from ..core.cleanup import (
    CLEANUP_MODEL_FOLDER,
    DEFAULT_TILE,
    CleanupChoice,
    UpConv7,
    clean,
    clean_batch,
    cleanup_model_filename,
    load_cleanup_net,
    load_cleanup_net_file,
)
from .interrupts import interrupt_checks
from .memory import halve_tile_on_oom

_MIN_TILE = 32


def register_cleanup_folder() -> None:
    """Make `models/hires_cleanup` a ComfyUI model folder (extra_model_paths.yaml can add more)."""
    if CLEANUP_MODEL_FOLDER not in folder_paths.folder_names_and_paths:
        folder_paths.folder_names_and_paths[CLEANUP_MODEL_FOLDER] = (
            [os.path.join(folder_paths.models_dir, CLEANUP_MODEL_FOLDER)], {".safetensors"},
        )


def _load(level: int) -> UpConv7:
    """The converted file when the bootstrap (or the user) put one in the models folder, else the package."""
    register_cleanup_folder()
    path = folder_paths.get_full_path(CLEANUP_MODEL_FOLDER, cleanup_model_filename(level))
    return load_cleanup_net_file(path) if path else load_cleanup_net(level)


def cleanup_function(level: CleanupChoice) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A function that cleans a BCHW RGB image at its own size, or None for no cleanup.

    "auto" measures each image of the batch and picks its level (or none) from the damage found.
    """
    if level is None:
        return None
    return functools.partial(clean_batch, level=level, run=lambda chosen, x: run_cleanup(_load(chosen), x))


def run_cleanup(net: UpConv7, image: torch.Tensor) -> torch.Tensor:
    """Run the denoiser tiled on ComfyUI's device; a smaller tile on out-of-memory."""
    device = model_management.get_torch_device()
    tile = DEFAULT_TILE
    model_management.free_memory(256 * (tile + 16) ** 2 * 4 * 3 + image.nelement() * image.element_size() * 2, device)
    net.to(device)
    pbar = comfy.utils.ProgressBar(1)

    def on_tile(done: int, total: int) -> None:
        model_management.throw_exception_if_processing_interrupted()
        pbar.update_absolute(done, total)

    def run(tile: int) -> torch.Tensor:
        return clean(net, image, tile=tile, on_tile=on_tile).to(model_management.intermediate_device())

    try:
        with interrupt_checks(net):
            return halve_tile_on_oom(run, tile, _MIN_TILE, "the cleanup pass",
                                     lower="the input image's size (the cleanup runs at the source resolution), or "
                                     "set cleanup to off")
    finally:
        net.to("cpu")
