"""The adapter value's rules, the colour fix and the Canny hint."""

import pytest
import torch

from hires_studio.core.adapter import ADAPTER_TYPES, Adapter, build_prompt, check_adapter, check_consumer
from hires_studio.core.color_fix import adain_color_fix, color_fix, wavelet_color_fix
from hires_studio.core.edges import canny_edges
from hires_studio.core.errors import HiResInputError


def test_quality_suffix_is_appended_once():
    assert build_prompt("a cottage", True) == "a cottage, high quality, highly detailed, 8K"
    assert build_prompt("a cottage, high quality, highly detailed, 8K", True).count("8K") == 1
    assert build_prompt("a cottage", False) == "a cottage"
    assert build_prompt("", True) == "high quality, highly detailed, 8K"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"adapter_type": "control"}, "control_net"),
        ({"adapter_type": "control2", "control_net": object()}, "image"),
        ({"adapter_type": "inpainting", "image": torch.zeros(1, 4, 4, 3)}, "mask"),
        ({"adapter_type": "face"}, "image"),
        ({"adapter_type": "upscale", "control_scale": 1.5}, "controlnet_conditioning_scale"),
        ({"adapter_type": "stretch"}, "adapter_type"),
        ({"adapter_type": "upscale", "face_id": True}, "face_id"),
        ({"adapter_type": "inpainting", "image": torch.zeros(1, 4, 4, 3), "mask": torch.ones(1, 5, 4)}, "mask"),
    ],
)
def test_each_type_needs_what_it_uses(kwargs, name):
    with pytest.raises(HiResInputError) as caught:
        check_adapter(Adapter(prompt="", negative_prompt="", **kwargs))
    assert caught.value.input_name == name and "Fix:" in str(caught.value)


def test_every_type_is_valid_with_what_it_needs():
    full = dict(image=torch.zeros(1, 4, 4, 3), mask=torch.ones(1, 4, 4), control_net=object())
    for adapter_type in ADAPTER_TYPES:
        check_adapter(Adapter(adapter_type, "", "", **full))


def test_consumer_refuses_types_it_cannot_use():
    check_consumer(Adapter("upscale", "", ""), "GenerativeUpscale", ("upscale", "control"))
    check_consumer(None, "GenerativeUpscale", ("upscale",))
    with pytest.raises(HiResInputError, match="GenerativeUpscale cannot use adapter_type 'face'"):
        check_consumer(Adapter("face", "", ""), "GenerativeUpscale", ("upscale", "control"))


def test_color_fix_takes_the_colours_of_the_base_and_keeps_the_detail():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 64, 64, generator=g) * 0.5 + 0.25
    detail = torch.rand(1, 3, 64, 64, generator=g) * 0.1
    shifted = (base + detail + torch.tensor([0.2, -0.1, 0.05])[None, :, None, None]).clamp(0, 1)
    for fixed in (wavelet_color_fix(shifted, base), adain_color_fix(shifted, base)):
        assert (fixed.mean((-2, -1)) - base.mean((-2, -1))).abs().max() < 0.03
    high = shifted - torch.nn.functional.avg_pool2d(shifted, 5, 1, 2, count_include_pad=False)
    fixed_high = wavelet_color_fix(shifted, base)
    fixed_high = fixed_high - torch.nn.functional.avg_pool2d(fixed_high, 5, 1, 2, count_include_pad=False)
    assert torch.corrcoef(torch.stack([high.flatten(), fixed_high.flatten()]))[0, 1] > 0.9
    assert torch.equal(color_fix(shifted, base, "none"), shifted)


def test_canny_edges_are_a_binary_three_channel_map():
    image = torch.zeros(2, 3, 32, 48)
    image[:, :, 8:24, 16:32] = 1.0
    edges = canny_edges(image)
    assert edges.shape == image.shape and set(edges.unique().tolist()) == {0.0, 1.0}
    assert edges[0, 0, 8:24, 16].max() == 1 and edges[0, 0, 0:4, 0:4].max() == 0
