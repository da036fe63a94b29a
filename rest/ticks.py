"""A loop that outlives its errors: the REST job watcher runs on it, so one bad tick (a broken config, a
store error, a surprise from ComfyUI's queue) is logged and retried instead of silently ending every later
job's updates. Pure asyncio: no ComfyUI import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class TickHealth:
    """How the loop is doing, for the status route: failed ticks in a row and in all, and the last error."""

    failed_in_a_row: int = 0
    failed_total: int = 0
    last_error: str | None = None


async def run_ticks(tick: Callable[[], Awaitable[None]], pause_s: float, retry_s: float, health: TickHealth,
                    name: str = "tick") -> None:
    """Call `tick` every `pause_s` until cancelled. A tick that raises is logged with its traceback and the
    next one comes after `retry_s`; nothing but cancellation ends the loop."""
    while True:
        await asyncio.sleep(pause_s)
        try:
            await tick()
            health.failed_in_a_row = 0
        except asyncio.CancelledError:
            raise
        except Exception as error:
            health.failed_in_a_row += 1
            health.failed_total += 1
            health.last_error = type(error).__name__
            log.exception("HiRes Studio API: the %s failed (%d in a row); retrying in %g s", name,
                          health.failed_in_a_row, retry_s)
            await asyncio.sleep(retry_s)
