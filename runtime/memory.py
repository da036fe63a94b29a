"""Out-of-memory handling shared by the tiled runners: retry with half the tile until a floor, then fail with
ComfyUI's own out-of-memory error (so its handler unloads the models) and a message that says what to lower."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from comfy import model_management

from .. import host
from ..core.input_checks import out_of_memory_message

log = logging.getLogger(__name__)
T = TypeVar("T")


def halve_tile_on_oom(run: Callable[[int], T], tile: int, min_tile: int, what: str,
                      errors: tuple[type[BaseException], ...] | None = None,
                      lower: str = "the output size (width, height or scale_by)", unit_px: int = 1) -> T:
    """`run(tile)`, retried with half the tile after each out-of-memory error, down to `min_tile`; past it, an
    OOM_EXCEPTION that names `what` ran out and what to `lower` (`unit_px`: image pixels per tile unit, for the
    message). Out of memory is what ComfyUI counts as such (`host.is_oom`), unless `errors` names the exception
    types that mean it for `run`; any other error goes up untouched."""
    while True:
        try:
            return run(tile)
        except Exception as error:
            if not (isinstance(error, errors) if errors else host.is_oom(error)):
                raise
            if tile // 2 < min_tile:
                raise model_management.OOM_EXCEPTION(out_of_memory_message(what, tile * unit_px, lower)) from error
            tile //= 2
            log.warning("out of memory in %s; retrying with %d px tiles", what, tile)
            model_management.soft_empty_cache()
