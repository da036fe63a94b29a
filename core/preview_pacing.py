"""When to show a live preview, and at what latent size: previews must cost at most a small share of the pass.

Pure: no ComfyUI import. The clock is passed in, so the rules are tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

PREVIEW_SHARE = 0.02
"""The largest share of the pass's time that previews may take (the goal is at most 3% more time)."""

MIN_PREVIEW_INTERVAL_S = 0.25
"""No two previews closer than this: a fast GPU pass would otherwise send more pictures than anyone sees."""


@dataclass
class PreviewPacer:
    """Allows a preview only while the time spent on previews stays within `share` of the time since the
    pass started, and no sooner than `min_interval` after the last one. The first preview is always allowed
    (its cost is not known until it has been measured)."""

    share: float = PREVIEW_SHARE
    min_interval: float = MIN_PREVIEW_INTERVAL_S
    clock: Callable[[], float] = time.perf_counter
    started: float = field(init=False)
    spent: float = 0.0
    last_cost: float = 0.0
    last_shown: float | None = None
    shown: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def due(self) -> bool:
        """Whether a preview may be made now."""
        now = self.clock()
        if self.last_shown is None:
            return True
        if now - self.last_shown < self.min_interval:
            return False
        return self.spent + self.last_cost <= self.share * (now - self.started)

    def record(self, began: float) -> None:
        """Count a preview that began at `began` (a value of the same clock) and has just ended."""
        now = self.clock()
        self.last_cost = now - began
        self.spent += self.last_cost
        self.last_shown = now
        self.shown += 1


def every_step(clock: Callable[[], float] = time.perf_counter) -> PreviewPacer:
    """KSampler's pace, for a sampler run on one native-size canvas: a preview after every step (unless
    previews would take more time than the steps themselves)."""
    return PreviewPacer(share=1.0, min_interval=0.0, clock=clock)


def preview_latent_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """The latent size a preview is decoded at: the canvas's, shrunk (aspect ratio kept) so that neither side
    passes `max_side` latent pixels (the preview size over the previewer's pixels per latent pixel): a preview
    is never shown larger, so a larger latent only costs time."""
    if max_side <= 0 or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
