"""Out-of-memory handling shared by the tiled runners: retry with half the tile until a floor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from comfy import model_management

log = logging.getLogger(__name__)
T = TypeVar("T")


def halve_tile_on_oom(run: Callable[[int], T], tile: int, min_tile: int, what: str,
                      errors: tuple[type[BaseException], ...] = (model_management.OOM_EXCEPTION,)) -> T:
    """`run(tile)`, retried with half the tile after each out-of-memory error (`errors`), down to `min_tile`."""
    while True:
        try:
            return run(tile)
        except errors:
            if tile // 2 < min_tile:
                raise
            tile //= 2
            log.warning("out of memory in %s; retrying with %d px tiles", what, tile)
            model_management.soft_empty_cache()
