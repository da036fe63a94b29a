"""deep-image's upscale_strength table."""

import pytest

from hires_studio.core.errors import HiResInputError
from hires_studio.core.strength import DEFAULT_STRENGTH, strength_preset

TABLE = {
    1: ("upscale_4", 1.0, "strong"), 2: ("bicubic", 1.0, "strong"), 3: ("bicubic_clean", 1.0, "strong"),
    4: ("upscale_4", 0.5, "medium"), 5: ("bicubic", 0.5, "medium"), 6: ("bicubic_clean", 0.5, "medium"),
    7: ("upscale_4", 0.0, "off"), 8: ("bicubic", 0.0, "off"), 9: ("bicubic_clean", 0.0, "off"),
}


@pytest.mark.parametrize("strength", sorted(TABLE))
def test_table_rows(strength):
    preset = strength_preset(strength)
    assert (preset.base_path, preset.lora_scale, preset.effect) == TABLE[strength]
    assert preset.generative == (strength <= 6)
    assert (preset.denoise > 0) == preset.generative


def test_lower_is_more_creative():
    assert strength_preset(1).denoise > strength_preset(4).denoise > strength_preset(7).denoise == 0


def test_default_is_5():
    assert DEFAULT_STRENGTH == 5 and strength_preset(DEFAULT_STRENGTH).base_path == "bicubic"


@pytest.mark.parametrize("bad", [0, 10, -1, 2.5, "5", True])
def test_bad_strength_is_a_clear_error(bad):
    with pytest.raises(HiResInputError, match=r"upscale_strength=.*from 1 to 9.*Fix:"):
        strength_preset(bad)
