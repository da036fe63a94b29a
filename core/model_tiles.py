"""Tile sides for ComfyUI's tiled_scale, fitted to the image so the overlap is not wasted."""

from __future__ import annotations

import math


def fitted_tile(side: int, max_tile: int, overlap: int) -> int:
    """The smallest tile side that covers `side` pixels in as few tiles as tiles of `max_tile` would,
    with ComfyUI's tiled_scale placement (tiles step by tile - overlap). 512 px with at most 256 px tiles
    and a 32 px overlap: three tiles of 192 px (2.25x the pixels with 256 px tiles, 1.27x with 192)."""
    if side <= max_tile:
        return side
    if max_tile <= overlap:
        raise ValueError(f"the tile ({max_tile}) must be larger than the overlap ({overlap})")
    tiles = math.ceil((side - overlap) / (max_tile - overlap))
    return math.ceil((side - overlap) / tiles) + overlap
