"""Tiled diffusion inside ComfyUI's sampler: a model function wrapper that evaluates the model on batches of
overlapping latent tiles and blends them into one canvas at every evaluation (see `core.tiling`).

The sampler, the noise, the schedule and CFG stay ComfyUI's own and run over the whole canvas; only the
model evaluations are tiled. Conditioning that is spatial (concat latents, ControlNet hints) is cropped per
tile, so every tile sees its own part of it, never the whole image squashed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import comfy.controlnet
import comfy.patcher_extension
import comfy.utils
import torch
from comfy import model_management

from .. import host
from ..core.tiling import (
    TILE_STRETCH,
    Tile,
    TileGrid,
    blend_weights,
    crop_tiles,
    plan_grid,
    repeat_per_tile,
    tiled_apply,
)
from .canvas_preview import CanvasPreview

log = logging.getLogger(__name__)


class TileBatchTooLarge(Exception):
    """Out of memory with a tile batch of one: the caller retries the whole pass with smaller tiles."""


@dataclass
class TileSettings:
    tile: int
    """Largest tile side in latent pixels."""
    overlap: int
    """Smallest overlap between neighbouring tiles in latent pixels."""
    batch_size: int
    """Tiles per model call."""
    margin: int = 1
    """Latent pixels at a tile's inner edge that get no weight."""
    stretch: float = TILE_STRETCH
    """How far over `tile` a tile may grow to save a row or column (see core.tiling.plan_grid)."""


@dataclass
class EvaluationProgress:
    """A ProgressBar counted in tile batches; the interrupt is checked before every model call."""

    total: int
    bar: comfy.utils.ProgressBar = field(init=False)
    done: int = 0

    def __post_init__(self) -> None:
        self.bar = comfy.utils.ProgressBar(self.total)

    def before_call(self) -> None:
        model_management.throw_exception_if_processing_interrupted()

    def after_call(self) -> None:
        self.done += 1
        self.bar.update_absolute(min(self.done, self.total), self.total)

    def show(self, preview: tuple) -> None:
        """A preview image from ComfyUI's previewer, sent with the count as it stands."""
        self.bar.update_absolute(min(self.done, self.total), self.total, preview)


@dataclass
class _DeferredControl:
    """What a TiledControl hands ComfyUI's sampler in place of control residuals: the inputs to compute them
    per tile batch inside the wrapper."""

    control: TiledControl
    batched_number: int
    transformer_options: dict


class TiledControl(comfy.controlnet.ControlBase):
    """Stands in for a ControlNet chain in the conditioning. ComfyUI calls get_control on the whole canvas;
    this defers it, and the wrapper computes the residuals per tile batch from each tile's crop of the hint.

    Each tile batch gets a fresh copy of the chain, given its crop through `set_cond_hint` (ComfyUI's own way to
    give a control its hint) and run once: a ControlNet or T2I adapter caches what it prepares from its hint
    (by the latent's size since ComfyUI 0.38), and a fresh copy holds nothing another tile batch left behind.
    The caller's ControlNet objects are never changed."""

    def __init__(self, control) -> None:
        super().__init__()
        chain = []
        node = control
        while node is not None:
            chain.append(node.copy())
            node = node.previous_controlnet
        for a, b in zip(chain, chain[1:], strict=False):
            a.set_previous_controlnet(b)
        self.chain = chain
        self.hints = [c.cond_hint_original for c in chain]
        # ComfyUI walks `previous_controlnet` to collect hooks: let it see the real chain.
        self.previous_controlnet = chain[0]
        self._full: dict[tuple, torch.Tensor] = {}
        self._run_args: tuple | None = None

    # The ControlBase surface the sampler uses. The chain itself never runs (only its per-batch copies do), so
    # pre_run keeps the sampler's arguments for those copies and cleanup has nothing of the chain's to free.
    def pre_run(self, model, percent_to_timestep_function) -> None:
        self._run_args = (model, percent_to_timestep_function)

    def cleanup(self) -> None:
        self._run_args = None
        self._full.clear()

    def get_models(self) -> list:
        return self.chain[0].get_models()

    def get_extra_hooks(self) -> list:
        return self.chain[0].get_extra_hooks()

    def inference_memory_requirements(self, dtype) -> int:
        return self.chain[0].inference_memory_requirements(dtype)

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options) -> _DeferredControl:
        return _DeferredControl(self, batched_number, transformer_options)

    @staticmethod
    def _ratio(control) -> int:
        """Hint pixels per latent pixel (a ControlNet that VAE-encodes its hint also scales by the VAE's)."""
        vae = getattr(control, "vae", None)
        return control.compression_ratio * (vae.spacial_compression_encode() if vae is not None else 1)

    def _full_size(self, index: int, image: torch.Tensor, key: tuple, height: int, width: int) -> torch.Tensor:
        """`image` resized once to the whole canvas in hint pixels (latent size times the hint's ratio)."""
        control = self.chain[index]
        ratio = self._ratio(control)
        key = (index, *key, height, width)
        if key not in self._full:
            self._full[key] = comfy.utils.common_upscale(image, width * ratio, height * ratio,
                                                         control.upscale_algorithm, "center")
        return self._full[key]

    def _tile_crops(self, index: int, image: torch.Tensor, key: tuple, canvas: tuple[int, int],
                    tiles: Sequence[Tile], samples: int) -> torch.Tensor:
        """Each tile's crop of `image` (sized to the canvas), `samples` times each, stacked tile after tile."""
        ratio = self._ratio(self.chain[index])
        full = self._full_size(index, image, key, *canvas)
        crops = [full[..., tl.y * ratio:(tl.y + tl.h) * ratio, tl.x * ratio:(tl.x + tl.w) * ratio] for tl in tiles]
        return torch.cat([comfy.utils.repeat_to_batch_size(crop, samples) for crop in crops])

    def _chain_for(self, canvas: tuple[int, int], tiles: Sequence[Tile], samples: int) -> list:
        """A fresh copy of the chain whose hints (and spatial extra inputs, such as an inpainting ControlNet's
        mask) are the tiles' crops."""
        fresh = []
        for index, control in enumerate(self.chain):
            hint = self._tile_crops(index, self.hints[index], ("hint",), canvas, tiles, samples)
            extra = [self._tile_crops(index, image, ("extra", number), canvas, tiles, samples)
                     if image.ndim == 4 and image.shape[-2:] != (1, 1) else image
                     for number, image in enumerate(control.extra_concat_orig)]
            fresh.append(control.copy().set_cond_hint(hint, control.strength, control.timestep_percent_range,
                                                      vae=control.vae, extra_concat=extra))
        for a, b in zip(fresh, fresh[1:], strict=False):
            a.set_previous_controlnet(b)
        return fresh

    def for_tiles(self, x: torch.Tensor, t: torch.Tensor, c: dict, canvas: tuple[int, int], tiles: Sequence[Tile],
                  deferred: _DeferredControl):
        """ControlNet residuals for a batch of tiles, each computed from that tile's crop of the hint."""
        per_group = x.shape[0] // deferred.batched_number
        head = self._chain_for(canvas, tiles, per_group // len(tiles))[0]
        head.pre_run(*self._run_args)
        try:
            return head.get_control(x, t, c, deferred.batched_number, deferred.transformer_options)
        finally:
            head.cleanup()


def wrap_controls(conditioning: list) -> list:
    """A copy of the conditioning with each ControlNet chain replaced by one TiledControl (shared between
    positive and negative where they share the chain, as ComfyUI's batching compares them by identity)."""
    proxies: dict[int, TiledControl] = {}
    out = []
    for embedding, values in conditioning:
        values = values.copy()
        control = values.get("control")
        if control is not None:
            if id(control) not in proxies:
                proxies[id(control)] = TiledControl(control)
            values["control"] = proxies[id(control)]
        out.append([embedding, values])
    return out


def _tile_conditioning(c: dict, x: torch.Tensor, tiles: Sequence[Tile], groups: int) -> dict:
    """Per-tile model kwargs: spatial tensors cropped, per-sample tensors repeated, the rest as is."""
    out = {}
    for key, value in c.items():
        if isinstance(value, torch.Tensor) and value.ndim == x.ndim and value.shape[-2:] == x.shape[-2:] \
                and value.shape[0] == x.shape[0]:
            out[key] = crop_tiles(value, tiles, groups)
        elif isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == x.shape[0]:
            out[key] = repeat_per_tile(value, len(tiles), groups)
        else:
            out[key] = value
    return out


@dataclass
class TiledModelWrapper:
    """ComfyUI `model_function_wrapper`: every model evaluation runs on tiles and is blended back."""

    settings: TileSettings
    progress: EvaluationProgress | None = None
    inner: Callable | None = None
    """A model_function_wrapper that was already on the model; called per tile batch."""
    preview: CanvasPreview | None = None
    """Shown the estimates of every tile batch on a canvas of several tiles (None: previews off)."""
    grids: dict[tuple[int, int], tuple[TileGrid, torch.Tensor]] = field(default_factory=dict)

    def grid_for(self, height: int, width: int) -> tuple[TileGrid, torch.Tensor]:
        key = (height, width)
        if key not in self.grids:
            s = self.settings
            grid = plan_grid(height, width, s.tile, s.overlap, stretch=s.stretch)
            self.grids[key] = (grid, blend_weights(grid, s.margin))
        return self.grids[key]

    def __call__(self, apply_model: Callable, args: dict) -> torch.Tensor:
        x, t, c = args["input"], args["timestep"], args["c"]
        cond_or_uncond = args["cond_or_uncond"]
        groups = len(cond_or_uncond)
        grid, weights = self.grid_for(x.shape[-2], x.shape[-1])
        deferred = c.get("control")
        deferred = deferred if isinstance(deferred, _DeferredControl) else None

        def run_tiles(x_tiles: torch.Tensor, tiles: Sequence[Tile]) -> torch.Tensor:
            if self.progress is not None:
                self.progress.before_call()
            whole = len(tiles) == 1 and x_tiles.shape[-2:] == x.shape[-2:]
            t_tiles = t if whole else repeat_per_tile(t, len(tiles), groups)
            c_tiles = dict(c) if whole else _tile_conditioning(c, x, tiles, groups)
            if deferred is not None:
                c_tiles["control"] = deferred.control.for_tiles(
                    x_tiles, t_tiles, c_tiles, (x.shape[-2], x.shape[-1]), tiles, deferred
                )
            try:
                if self.inner is not None:
                    out = self.inner(apply_model, {"input": x_tiles, "timestep": t_tiles, "c": c_tiles,
                                                   "cond_or_uncond": cond_or_uncond})
                else:
                    out = apply_model(x_tiles, t_tiles, **c_tiles)
            except Exception as error:
                if not host.is_oom(error):
                    raise
                raise _BatchOOM(len(tiles)) from error
            if self.progress is not None:
                self.progress.after_call()
                if self.preview is not None and not whole:
                    image = self.preview.after_tiles(out, tiles, cond_or_uncond, (x.shape[-2], x.shape[-1]))
                    if image is not None:
                        self.progress.show(image)
            return out

        while True:
            try:
                return tiled_apply(run_tiles, x, grid, weights, groups, self.settings.batch_size)
            except _BatchOOM as error:
                if error.batch <= 1:
                    raise TileBatchTooLarge() from error
                self.settings.batch_size = max(1, error.batch // 2)
                log.warning("out of memory with %d tiles per call; retrying with %d", error.batch,
                            self.settings.batch_size)
                model_management.soft_empty_cache()


class _BatchOOM(Exception):
    def __init__(self, batch: int) -> None:
        super().__init__(batch)
        self.batch = batch


TILE_MEMORY_KEY = "hires_studio_tile_memory"


def tile_batch_shape(shape: Sequence[int], batch_size: int, tile_h: int, tile_w: int) -> list[int]:
    """The input shape the model sees when a canvas of `shape` runs `batch_size` tiles per call."""
    return [shape[0] * batch_size, *shape[1:-2], min(tile_h, shape[-2]), min(tile_w, shape[-1])]


class TileSizedEstimate:
    """The model as ComfyUI's cond batching sees it: its memory estimate counts one tile batch.

    `_calc_cond_batch` runs cond and uncond in one model call only when the estimate for the input it is
    handed fits in free memory; it is handed the whole canvas, so on a large canvas it runs them apart (twice
    the calls), although the wrapper below only ever gives the model one tile batch. Everything but the
    estimate is the model's own; nothing on the model is changed."""

    def __init__(self, model, batch_size: int, tile_h: int, tile_w: int) -> None:
        self._model = model
        self._tiles = (batch_size, tile_h, tile_w)

    def memory_required(self, input_shape: Sequence[int], cond_shapes: dict | None = None, **kwargs: Any) -> float:
        """The model's estimate for one tile batch; any other keyword a newer sampler passes goes to the model."""
        shape = tile_batch_shape(input_shape, *self._tiles)
        return self._model.memory_required(shape, cond_shapes=cond_shapes or {}, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def size_memory_for_tiles(model_patcher, batch_size: int, tile_h: int, tile_w: int) -> None:
    """Make ComfyUI's memory estimates count one tile batch, not the whole canvas.

    - comfy.sample sizes the memory it frees (and whether it falls back to low-VRAM loading) from the noise
      shape: a PREPARE_SAMPLING wrapper hands it the tile batch's shape instead (as ComfyUI's own context
      windows do for their window length).
    - The sampler batches cond and uncond together only when its estimate fits: a CALC_COND_BATCH wrapper
      hands it the model behind a TileSizedEstimate (at 2048² on a CPU this halves the model calls)."""

    def estimate_for_tiles(executor, model, noise_shape, *args, **kwargs):
        return executor(model, tile_batch_shape(noise_shape, batch_size, tile_h, tile_w), *args, **kwargs)

    def batch_conds_for_tiles(executor, model, *args, **kwargs):
        return executor(TileSizedEstimate(model, batch_size, tile_h, tile_w), *args, **kwargs)

    wrappers = comfy.patcher_extension.WrappersMP
    for kind, wrapper in ((wrappers.PREPARE_SAMPLING, estimate_for_tiles),
                          (wrappers.CALC_COND_BATCH, batch_conds_for_tiles)):
        model_patcher.remove_wrappers_with_key(kind, TILE_MEMORY_KEY)
        model_patcher.add_wrapper_with_key(kind, TILE_MEMORY_KEY, wrapper)


def auto_batch_size(model_patcher, tile_shape: Sequence[int], tiles: int, groups: int = 2) -> int:
    """How many tiles fit one model call in the memory free on the device (at least 1, at most all), from the
    model's own estimate and the memory the patcher says a call may use, as ComfyUI's cond batching sizes its
    batches (see host.model_memory_required and host.free_memory).

    On a CPU the model is compute-bound and a bigger batch only costs cache locality (1 MP, tiny SD1.5: 19.3 s
    with one tile per call, 21.7 s with all nine), so there it is one tile per call.
    """
    device = model_management.get_torch_device()
    if device.type == "cpu":
        return 1
    per_tile = host.model_memory_required(model_patcher, [groups, *tile_shape])
    free = host.free_memory(model_patcher, device)
    fit = int(free * 0.7 // max(per_tile, 1))
    return max(1, min(tiles, fit))
