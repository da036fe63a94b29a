"""The generative pass of GenerativeUpscale (and of HiResGenerate's upscale step): encode the base image,
re-noise and denoise it with tiled diffusion on the whole canvas, decode, colour-fix, crop to the size.

Sizes are never squashed to a multiple of 8: the base image is padded inside to the VAE's multiple and the
padding is cropped away at the end.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import comfy.sample
import torch
import torch.nn.functional as F
from comfy import model_management

from ..core.color_fix import ColorFix, color_fix
from ..core.native import native_side
from ..core.resize import bchw_to_bhwc, bhwc_to_bchw
from ..core.tiling import diffusion_overlap
from . import tiled_vae
from .canvas_preview import CanvasPreview
from .memory import halve_tile_on_oom
from .tiled_diffusion import (
    EvaluationProgress,
    TileBatchTooLarge,
    TiledModelWrapper,
    TileSettings,
    auto_batch_size,
    size_memory_for_tiles,
    wrap_controls,
)

log = logging.getLogger(__name__)

MIN_TILE_LATENT = 16


@dataclass(frozen=True)
class DiffusionSettings:
    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    denoise: float
    tile_size: int = 0
    """Largest tile side in pixels; 0 = the model's native resolution."""
    tile_batch: int = 0
    """Tiles per model call; 0 = automatic (see tiled_diffusion.auto_batch_size)."""
    color_fix: ColorFix = "wavelet"


@dataclass
class PassReport:
    """What the pass did, for the log and the benchmarks."""

    tiles: int = 0
    tile_latent: tuple[int, int] = (0, 0)
    overlap_ratio: float = 1.0
    batch_size: int = 0
    model_calls: int = 0
    vae_tiled: bool = False

    def note_grid(self, tiles: int, tile_h: int, tile_w: int, overlap_ratio: float, batch_size: int) -> None:
        """The tile grid the pass runs with, kept and logged once per attempt (a smaller tile after an OOM
        replaces it)."""
        self.tiles, self.tile_latent, self.overlap_ratio, self.batch_size = \
            tiles, (tile_h, tile_w), overlap_ratio, batch_size
        log.info("generative pass: %d tiles of %dx%d latent px (overlap ratio %.3f), %d per call",
                 tiles, tile_w, tile_h, overlap_ratio, batch_size)


def model_family(model_patcher) -> str:
    """The name of ComfyUI's model-config class (SD15, SDXL, Flux, ...)."""
    return type(model_patcher.model.model_config).__name__


def default_tile_pixels(model_patcher) -> int:
    return native_side(model_family(model_patcher))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad a BCHW image at the right and bottom to a multiple of `multiple`."""
    ph = -x.shape[-2] % multiple
    pw = -x.shape[-1] % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


VAE_ESTIMATE_SLACK = 4.0
"""ComfyUI's VAE memory estimate is sized for the largest VAEs and runs several times high (measured 9x for
TAESD at 4 MP); the VAE's own encode/decode already fall back to tiles on out-of-memory. So a canvas within
one VAE tile is tiled up front only when the estimate passes free memory by this factor."""


VAE_TILING = tiled_vae.DEFAULT_VAE_TILING
"""The VAE tile budget of the pass (a canvas larger than one tile streams through tiles)."""


def _vae_tiling(vae, shape, decode: bool) -> tiled_vae.VaeTiling | None:
    """The tiling for a VAE call, or None to run it whole: tiles when the latent canvas is larger than one VAE
    tile (tile-bounded memory on every device), half-size tiles when ComfyUI's estimate says even one would
    not fit."""
    ratio = 1 if decode else vae.spacial_compression_encode()
    height, width = shape[-2] // ratio, shape[-1] // ratio
    if tiled_vae.needs_tiles(height, width, VAE_TILING):
        return VAE_TILING
    used = (vae.memory_used_decode if decode else vae.memory_used_encode)(shape, vae.vae_dtype)
    if used > model_management.get_free_memory(vae.device) * VAE_ESTIMATE_SLACK:
        return tiled_vae.VaeTiling(max(16, VAE_TILING.tile // 2), VAE_TILING.overlap, VAE_TILING.margin)
    return None


def encode(vae, pixels: torch.Tensor, report: PassReport) -> torch.Tensor:
    """BCHW pixels (a multiple of the VAE's ratio) -> latent; streamed in tiles when larger than one tile."""
    tiling = _vae_tiling(vae, pixels.shape, decode=False)
    if tiling is not None:
        report.vae_tiled = True
        return tiled_vae.encode_tiled(vae, pixels, tiling)
    return vae.encode(bchw_to_bhwc(pixels))


def decode(vae, latent: torch.Tensor, report: PassReport) -> torch.Tensor:
    """Latent -> BCHW pixels; streamed in tiles when larger than one tile."""
    tiling = _vae_tiling(vae, latent.shape, decode=True)
    if tiling is not None:
        report.vae_tiled = True
        return tiled_vae.decode_tiled(vae, latent, tiling)
    return bhwc_to_bchw(vae.decode(latent))


def _show_steps(preview: CanvasPreview, progress: EvaluationProgress) -> Callable:
    """The sampler's callback: the canvas after every step, shown with the bar's count of model calls."""

    def callback(step: int, x0: torch.Tensor, x: torch.Tensor, total_steps: int) -> None:
        image = preview.after_step(x0)
        if image is not None:
            progress.show(image)

    return callback


def _with_controls(positive: list, negative: list, padded: torch.Tensor,
                   add_controls: Callable[[list, list, torch.Tensor], tuple[list, list]] | None) -> tuple[list, list]:
    """The conditioning with the ControlNets `add_controls` attaches (hinted from the padded base), each wrapped
    so that every tile gets its own crop of the hint."""
    if add_controls is not None:
        positive, negative = add_controls(positive, negative, padded)
    return wrap_controls(positive), wrap_controls(negative)


def generative_pass(
    model,
    vae,
    positive: list,
    negative: list,
    base: torch.Tensor,
    settings: DiffusionSettings,
    *,
    noise_mask: torch.Tensor | None = None,
    add_controls: Callable[[list, list, torch.Tensor], tuple[list, list]] | None = None,
    report: PassReport | None = None,
) -> torch.Tensor:
    """Re-noise and denoise a BCHW RGB base image in [0, 1]; returns the result at the base's size.

    `add_controls(positive, negative, padded_base)` may attach ControlNets whose hint is made from the padded
    base (so the hint lines up with the canvas); each tile then gets its own crop of the hint.
    """
    report = report if report is not None else PassReport()
    ratio = vae.spacial_compression_encode()
    padded = pad_to_multiple(base, ratio)
    positive, negative = _with_controls(positive, negative, padded, add_controls)

    latent = encode(vae, padded, report)
    latent = comfy.sample.fix_empty_latent_channels(model, latent)
    noise = comfy.sample.prepare_noise(latent, settings.seed)
    mask = None if noise_mask is None else pad_to_multiple(noise_mask.reshape(-1, 1, *noise_mask.shape[-2:]), ratio)

    preview = CanvasPreview.for_model(model, settings.cfg)

    def sample(tile: int) -> torch.Tensor:
        """The whole pass with tiles of at most `tile` latent pixels."""
        tiles_settings = TileSettings(tile=tile, overlap=diffusion_overlap(tile), batch_size=1, margin=1)
        wrapper = TiledModelWrapper(tiles_settings, inner=model.model_options.get("model_function_wrapper"))
        grid, _ = wrapper.grid_for(latent.shape[-2], latent.shape[-1])
        tiles = len(grid.tiles)
        tile_shape = [latent.shape[1], grid.tile_h, grid.tile_w]
        tiles_settings.batch_size = min(settings.tile_batch or auto_batch_size(model, tile_shape, tiles), tiles)
        wrapper.progress = EvaluationProgress(settings.steps * math.ceil(tiles / tiles_settings.batch_size))
        wrapper.preview = preview
        if preview is not None:
            preview.begin(latent)
        patched = model.clone()
        patched.set_model_unet_function_wrapper(wrapper)
        size_memory_for_tiles(patched, tiles_settings.batch_size, grid.tile_h, grid.tile_w)
        report.note_grid(tiles, grid.tile_h, grid.tile_w, grid.overlap_ratio, tiles_settings.batch_size)
        samples = comfy.sample.sample(
            patched, noise, settings.steps, settings.cfg, settings.sampler_name, settings.scheduler,
            positive, negative, latent, denoise=settings.denoise, noise_mask=mask, disable_pbar=True,
            seed=settings.seed, callback=None if preview is None else _show_steps(preview, wrapper.progress),
        )
        report.model_calls = wrapper.progress.done
        return samples

    first_tile = max(MIN_TILE_LATENT, (settings.tile_size or default_tile_pixels(model)) // ratio)
    samples = halve_tile_on_oom(sample, first_tile, MIN_TILE_LATENT, "the diffusion pass", (TileBatchTooLarge,),
                                unit_px=ratio)
    out = decode(vae, samples, report)[..., :base.shape[-2], :base.shape[-1]]
    out = out.to(base.device, base.dtype).clamp(0.0, 1.0)
    return color_fix(out, base, settings.color_fix)
