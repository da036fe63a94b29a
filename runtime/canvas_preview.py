"""Live previews of the whole canvas while it is sampled, through ComfyUI's own latent previews.

ComfyUI picks the preview decoder (Latent2RGB, TAESD, or none) from the user's preview method, as it does for
KSampler; the pictures travel with the progress bar's updates, so the editor shows them on the node. A
CanvasPreview keeps the latest estimate of the clean canvas latent:
- after every sampler step it is the sampler's own estimate (x0, as KSampler previews it);
- on a canvas of many tiles, each tile batch's estimate is pasted into it as soon as the batch is evaluated
  (cond and uncond combined with the CFG scale when the call has both), so a long step shows progress too.
A preview is decoded only when the PreviewPacer allows it, so previews take at most a small share of the
pass; nothing here touches a tensor the sampler uses, so previews never change the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import latent_preview
import torch
import torch.nn.functional as F

from ..core.preview_pacing import PreviewPacer, preview_latent_size
from ..core.tiling import Tile

PREVIEW_FORMAT = "JPEG"
"""The format ComfyUI's previewers are asked for (KSampler's)."""

COND, UNCOND = 0, 1
"""ComfyUI's indices of the positive and the negative conditioning in `cond_or_uncond`."""


# --- ComfyUI's preview API (the same in ComfyUI 0.3.75 and 0.38.1) ------------------------------------------


def host_previewer(model_patcher) -> Any | None:
    """The preview decoder ComfyUI picks for this model under the user's preview method (None: previews off).
    `latent_preview.get_previewer` reads the method when called, so a per-prompt choice of it (newer ComfyUI's
    editor setting) is honoured too."""
    return latent_preview.get_previewer(model_patcher.load_device, model_patcher.model.latent_format)


def host_preview_size() -> int:
    """The user's largest preview side in pixels (ComfyUI's --preview-size)."""
    return int(latent_preview.MAX_PREVIEW_RESOLUTION or 0)


def first_sample(x0: Any) -> torch.Tensor:
    """The first image of a sampler's x0 as a (1, C, ...) tensor. For a model with several latents ComfyUI
    hands a comfy.nested_tensor.NestedTensor, whose first latent is the image (as KSampler's preview takes it)."""
    if getattr(x0, "is_nested", False):
        x0 = x0.unbind()[0]
    return x0[:1]


# --------------------------------------------------------------------------------------------------------------


PROBE_SIDE = 8


def decode_scale(previewer: Any, latent_format: Any, device: Any) -> int:
    """Preview pixels per latent pixel: 1 for Latent2RGB, the VAE's ratio for TAESD (8 for SD1.5), from the
    preview of a small blank latent. A canvas is shrunk to the preview size by this before it is decoded, so
    a TAESD preview of a large canvas never decodes more pixels than are shown."""
    if getattr(latent_format, "latent_dimensions", 2) != 2:
        return 1
    probe = torch.zeros(1, latent_format.latent_channels, PROBE_SIDE, PROBE_SIDE, device=device)
    image = previewer.decode_latent_to_preview_image(PREVIEW_FORMAT, probe)[1]
    return max(1, image.size[0] // PROBE_SIDE)


class CanvasPreview:
    """The whole canvas as it forms, decoded by ComfyUI's previewer when the pacer allows."""

    def __init__(self, previewer: Any, cfg: float, max_side: int, pacer: PreviewPacer | None = None,
                 scale: int = 1) -> None:
        self.previewer = previewer
        self.cfg = cfg
        self.max_side = max_side
        self.scale = scale
        """Preview pixels per latent pixel (see decode_scale)."""
        self.pacer = pacer if pacer is not None else PreviewPacer()
        self.canvas: torch.Tensor | None = None

    @classmethod
    def for_model(cls, model_patcher, cfg: float, pacer: PreviewPacer | None = None) -> CanvasPreview | None:
        """The preview for a pass of this model (paced by `pacer`, by default within PREVIEW_SHARE of the
        pass), or None when the user's preview method is off."""
        previewer = host_previewer(model_patcher)
        if previewer is None:
            return None
        scale = decode_scale(previewer, model_patcher.model.latent_format, model_patcher.load_device)
        return cls(previewer, cfg, host_preview_size(), pacer=pacer, scale=scale)

    def begin(self, latent: torch.Tensor) -> None:
        """The canvas before the first step: the latent the pass starts from (the encoded base image), so that
        the first tile batches of a long first step show already."""
        self.canvas = first_sample(latent).detach().clone()

    def after_step(self, x0: torch.Tensor) -> tuple | None:
        """A sampler step ended with the estimate `x0`: the canvas becomes it; the preview image, if due."""
        self.canvas = first_sample(x0).detach().clone()
        return self._image()

    def after_tiles(self, out: torch.Tensor, tiles: Sequence[Tile], cond_or_uncond: Sequence[int],
                    canvas: tuple[int, int]) -> tuple | None:
        """A batch of tiles of a `canvas` (height, width) was evaluated mid-step (`out`: the model's estimates,
        group-major then tile then sample, as core.tiling.crop_tiles lays them out): they are pasted into the
        canvas; the preview image, if due. Without a canvas yet (no `begin`, no step) nothing is shown, and a
        call without the positive group (or on a part of the canvas only) leaves the canvas as it is."""
        if self.canvas is None or COND not in cond_or_uncond or tuple(self.canvas.shape[-2:]) != tuple(canvas) \
                or out.shape[1] != self.canvas.shape[1]:
            return None
        groups = len(cond_or_uncond)
        y = out.reshape(groups, len(tiles), -1, *out.shape[1:])[:, :, 0]
        estimate = y[cond_or_uncond.index(COND)]
        if UNCOND in cond_or_uncond:
            uncond = y[cond_or_uncond.index(UNCOND)]
            estimate = uncond + self.cfg * (estimate - uncond)
        for k, tile in enumerate(tiles):
            region = self.canvas[0, :, tile.y:tile.y + tile.h, tile.x:tile.x + tile.w]
            region.copy_(estimate[k].to(region.device, region.dtype))
        return self._image()

    def _image(self) -> tuple | None:
        if self.canvas is None or not self.pacer.due():
            return None
        began = self.pacer.clock()
        latent = self.canvas
        if latent.ndim == 4:
            size = preview_latent_size(latent.shape[-2], latent.shape[-1], self.max_side // self.scale)
            if size != tuple(latent.shape[-2:]):
                latent = F.interpolate(latent, size=size, mode="area")
        image = self.previewer.decode_latent_to_preview_image(PREVIEW_FORMAT, latent)
        self.pacer.record(began)
        return image
