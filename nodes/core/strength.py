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

DEFAULT_STRENGTH = 5
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


def strength_preset(strength: int) -> StrengthPreset:
    """The row of the table for `strength` (1..9)."""
    if isinstance(strength, bool) or not isinstance(strength, int) or not 1 <= strength <= 9:
        raise HiResInputError(
            "upscale_strength", strength, "must be a whole number from 1 to 9",
            f"use 1-3 (strong), 4-6 (medium) or 7-9 (no diffusion); {DEFAULT_STRENGTH} is the default",
        )
    band, path = divmod(strength - 1, 3)
    effect, lora_scale = _BANDS[band]
    return StrengthPreset(strength, _BASE_PATHS[path], lora_scale, effect)
