"""Overlapping tiles over a latent canvas, their blend weights, and one blended model evaluation.

MultiDiffusion-style: at every model evaluation each tile is denoised and all tiles are blended into one
canvas with weights that sum to one everywhere, so neighbouring tiles agree at every step and no seam can
form. The weights fall smoothly to zero `margin` pixels before a tile's inner edge, so a model that only sees
`margin` pixels around each position gives exactly the untiled result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


@dataclass(frozen=True)
class TileGrid:
    height: int
    width: int
    tile_h: int
    tile_w: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @property
    def tiles(self) -> list[Tile]:
        return [Tile(y, x, self.tile_h, self.tile_w) for y in self.rows for x in self.cols]

    @property
    def overlap_ratio(self) -> float:
        """Tile pixels evaluated per canvas pixel (1.0 = no overlap waste)."""
        return len(self.rows) * len(self.cols) * self.tile_h * self.tile_w / (self.height * self.width)

    def minimum_tiles(self, tile: int) -> int:
        """Tiles of `tile` x `tile` that a grid with no overlap at all would need."""
        return math.ceil(self.height / tile) * math.ceil(self.width / tile)


DIFFUSION_OVERLAP = 3 / 64
"""Overlap of the diffusion tiles as a fraction of the tile side (at least MIN_DIFFUSION_OVERLAP latent px).

Every model evaluation is blended, so the overlap only has to carry the blend, not hide a seam: with the
1-pixel margin a 3-pixel overlap keeps tiled equal to untiled for a model that sees locally, and measured on
the tiny checkpoint the boundary-gradient score stays at the level of wide overlaps (bench/overlap_sweep.py)."""
MIN_DIFFUSION_OVERLAP = 3
TILE_STRETCH = 1 / 8
"""How far over the nominal tile side the planner may go to save a row or column of tiles."""


def _axis(length: int, tile: int, overlap: int, multiple: int, stretch: float = 0.0) -> tuple[int, tuple[int, ...]]:
    """Tile size and start positions along one axis: the fewest tiles of at most `tile` (times 1 + `stretch`)
    that overlap by at least `overlap`, shrunk so the overlap stays near that minimum, spread evenly."""
    largest = max(tile, int(tile * (1 + stretch)) // multiple * multiple)
    if length <= largest:
        return length, (0,)
    count = max(2, math.ceil((length - overlap) / (largest - overlap)))
    while True:
        size = math.ceil((length + (count - 1) * overlap) / count)
        size = math.ceil(size / multiple) * multiple
        if size <= largest or count >= length:
            break
        count += 1
    span = length - size
    return size, tuple(round(i * span / (count - 1)) for i in range(count))


def plan_grid(height: int, width: int, tile: int, overlap: int, multiple: int = 1, stretch: float = 0.0) -> TileGrid:
    """A grid of equal tiles (at most `tile` x (1 + `stretch`) per side, a multiple of `multiple`) covering
    the canvas."""
    if tile <= overlap:
        raise ValueError(f"tile {tile} must be larger than the overlap {overlap}")
    tile_h, rows = _axis(height, tile, overlap, multiple, stretch)
    tile_w, cols = _axis(width, tile, overlap, multiple, stretch)
    return TileGrid(height, width, tile_h, tile_w, rows, cols)


def diffusion_overlap(tile: int) -> int:
    """The overlap (latent px) between diffusion tiles of side `tile`."""
    return max(MIN_DIFFUSION_OVERLAP, round(tile * DIFFUSION_OVERLAP))


def diffusion_grid(height: int, width: int, tile: int) -> TileGrid:
    """The diffusion pass's grid over a latent canvas for a nominal tile side (latent px)."""
    return plan_grid(height, width, tile, diffusion_overlap(tile), stretch=TILE_STRETCH)


def _ramp(n: int, margin: int) -> torch.Tensor:
    """Weights rising from 0 to 1 across an overlap of n pixels: 0 for the first `margin` pixels, then a
    cosine ramp; never exactly 1 inside the overlap so the partner tile keeps a share."""
    inner = max(n - 2 * margin, 1)
    u = ((torch.arange(n, dtype=torch.float64) - margin + 0.5) / inner).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * u)


def _axis_profiles(starts: Sequence[int], size: int, length: int, margin: int) -> list[torch.Tensor]:
    """One axis's weight profile per tile, normalised so the profiles sum to exactly one along the axis."""
    profiles = []
    for i, start in enumerate(starts):
        w = torch.ones(size, dtype=torch.float64)
        if i > 0:
            before = starts[i - 1] + size - start
            w[:before] *= _ramp(before, margin)
        if i + 1 < len(starts):
            after = start + size - starts[i + 1]
            w[size - after:] *= _ramp(after, margin).flip(0)
        profiles.append(w)
    total = torch.zeros(length, dtype=torch.float64)
    for w, start in zip(profiles, starts, strict=True):
        total[start:start + size] += w
    if (total <= 0).any():
        raise ValueError("the tile overlap is too small for the blend margin: some pixels get no weight")
    return [w / total[start:start + size] for w, start in zip(profiles, starts, strict=True)]


@dataclass(frozen=True)
class BlendProfiles:
    """The blend weights of a grid kept as one row and one column profile per tile: a tile's weight is their
    outer product. The sum over the canvas is one because it is one along each axis; nothing canvas-sized is
    ever built, which is what lets a tiled VAE blend full-resolution tiles in tile-bounded memory."""

    ys: tuple[torch.Tensor, ...]
    xs: tuple[torch.Tensor, ...]

    def weight(self, index: int) -> torch.Tensor:
        """(tile_h, tile_w) float64 weights of tile `index` in TileGrid.tiles' order."""
        wy = self.ys[index // len(self.xs)]
        wx = self.xs[index % len(self.xs)]
        return wy[:, None] * wx[None, :]


def blend_profiles(grid: TileGrid, margin: int = 1) -> BlendProfiles:
    return BlendProfiles(tuple(_axis_profiles(grid.rows, grid.tile_h, grid.height, margin)),
                         tuple(_axis_profiles(grid.cols, grid.tile_w, grid.width, margin)))


def blend_weights(grid: TileGrid, margin: int = 1) -> torch.Tensor:
    """Per-tile weights (n_tiles, tile_h, tile_w), normalised so they sum to exactly one over the canvas."""
    profiles = blend_profiles(grid, margin)
    return torch.stack([profiles.weight(i) for i in range(len(grid.rows) * len(grid.cols))])


def scale_grid(grid: TileGrid, factor: int) -> TileGrid:
    """The same grid in units `factor` times finer (latent px -> image px)."""
    return TileGrid(grid.height * factor, grid.width * factor, grid.tile_h * factor, grid.tile_w * factor,
                    tuple(r * factor for r in grid.rows), tuple(c * factor for c in grid.cols))


def crop_tiles(x: torch.Tensor, tiles: Sequence[Tile], groups: int) -> torch.Tensor:
    """(groups * B, C, H, W) -> (groups * T * B, C, h, w): group-major, then tile, then sample, so each
    cond/uncond group stays one contiguous block as ComfyUI's batching expects."""
    g = x.reshape(groups, -1, *x.shape[1:])
    crops = [g[:, :, :, t.y:t.y + t.h, t.x:t.x + t.w] for t in tiles]
    return torch.stack(crops, dim=1).reshape(-1, *x.shape[1:-2], tiles[0].h, tiles[0].w)


def repeat_per_tile(v: torch.Tensor, tiles: int, groups: int) -> torch.Tensor:
    """A per-sample tensor (groups * B, ...) repeated for each tile in crop_tiles' order."""
    g = v.reshape(groups, -1, *v.shape[1:])
    return g.unsqueeze(1).expand(-1, tiles, *g.shape[1:]).reshape(-1, *v.shape[1:])


TileFn = Callable[[torch.Tensor, Sequence[Tile]], torch.Tensor]
"""(tiles stacked as crop_tiles makes them, the tiles) -> the model's output for them, same layout."""


def tiled_apply(
    fn: TileFn,
    x: torch.Tensor,
    grid: TileGrid,
    weights: torch.Tensor,
    groups: int,
    batch_size: int,
    on_batch: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """One blended model evaluation over the whole canvas: `fn` on batches of `batch_size` tiles, every
    output written back with its blend weights. Output channels may differ from the input's."""
    tiles = grid.tiles
    if len(tiles) == 1 and tiles[0].h == x.shape[-2] and tiles[0].w == x.shape[-1]:
        out = fn(x, tiles)
        if on_batch is not None:
            on_batch(1, 1)
        return out
    n = x.shape[0] // groups
    out = None
    batches = [tiles[i:i + batch_size] for i in range(0, len(tiles), batch_size)]
    index = 0
    for done, batch in enumerate(batches, start=1):
        y = fn(crop_tiles(x, batch, groups), batch)
        y = y.reshape(groups, len(batch), n, *y.shape[1:])
        if out is None:
            out = y.new_zeros(groups, n, y.shape[3], x.shape[-2], x.shape[-1])
        for k, t in enumerate(batch):
            w = weights[index + k].to(device=y.device, dtype=y.dtype)
            out[:, :, :, t.y:t.y + t.h, t.x:t.x + t.w] += y[:, k] * w
        index += len(batch)
        if on_batch is not None:
            on_batch(done, len(batches))
    return out.reshape(groups * n, *out.shape[2:])
