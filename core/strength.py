"""deep-image's `upscale_strength` table (1..9): the base path, the LoRA scale and the generative effect.

Lower is more creative. How "strong" and "medium" map to denoise is ours: strong re-noises half the way
(0.5), medium a third (0.35), in the range Stability's creative and conservative upscalers document for
their creativity dial (0.1..0.5). A user may override the denoise on the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import HiResInputError

BasePath = Literal["upscale_4", "bicubic", "bicubic_clean"]
Effect = Literal["strong", "medium", "off"]

STRENGTHS: tuple[int, ...] = tuple(range(1, 10))
"""The table's rows, 1 (most creative) to 9 (most conservative)."""
DEFAULT_STRENGTH = 5
"""The default row when a diffusion pass is asked for: medium, bicubic base."""
DEFAULT_PLAIN_STRENGTH = 7
"""The default row without a diffusion pass: the AI upscaler alone (upscale_4)."""
EFFECT_DENOISE: dict[Effect, float] = {"strong": 0.5, "medium": 0.35, "off": 0.0}
_BASE_PATHS: tuple[BasePath, ...] = ("upscale_4", "bicubic", "bicubic_clean")
_BANDS: tuple[tuple[Effect, float], ...] = (("strong", 1.0), ("medium", 0.5), ("off", 0.0))


@dataclass(frozen=True)
class StrengthPreset:
    strength: int
    base_path: BasePath
    lora_scale: float
    effect: Effect

    @property
    def denoise(self) -> float:
        return EFFECT_DENOISE[self.effect]

    @property
    def generative(self) -> bool:
        """False for 7..9: no diffusion pass at all."""
        return self.effect != "off"

    @property
    def uses_upscale_model(self) -> bool:
        """The upscale_4 base path: the row needs an AI upscaler (an UPSCALE_MODEL)."""
        return uses_upscale_model(self.base_path)

    @property
    def base_path_only(self) -> int:
        """The row with the same base path and no diffusion pass (7, 8 or 9)."""
        return next(s for s in STRENGTHS if _row(s) == (self.base_path, "off"))


def uses_upscale_model(base_path: BasePath) -> bool:
    """Whether a base path runs an AI upscaler (an UPSCALE_MODEL): upscale_4 alone does."""
    return base_path == "upscale_4"


def strength_preset(strength: int) -> StrengthPreset:
    """The row of the table for `strength` (1..9)."""
    if isinstance(strength, bool) or not isinstance(strength, int) or strength not in STRENGTHS:
        raise HiResInputError(
            "upscale_strength", strength, "must be a whole number from 1 to 9",
            f"use 1-3 (strong), 4-6 (medium) or 7-9 (no diffusion); {DEFAULT_STRENGTH} is the default",
        )
    base_path, effect = _row(strength)
    return StrengthPreset(strength, base_path, dict(_BANDS)[effect], effect)


def _row(strength: int) -> tuple[BasePath, Effect]:
    """The table's layout: three bands of effect (strong, medium, off), each over the three base paths."""
    band, path = divmod(strength - 1, 3)
    return _BASE_PATHS[path], _BANDS[band][0]


UPSCALE_MODEL_STRENGTHS: tuple[int, ...] = tuple(s for s in STRENGTHS if strength_preset(s).uses_upscale_model)
"""The rows on the upscale_4 path (1, 4, 7): the ones that need an UPSCALE_MODEL."""
