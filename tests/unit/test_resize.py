"""Resizing by a plan and the base paths, with stand-in model functions."""

import pytest
import torch

from hires_studio.core.base_route import make_base, resize_alpha
from hires_studio.core.errors import HiResInputError
from hires_studio.core.resize import apply_plan, bicubic, canvas_mask, merge_alpha, split_alpha
from hires_studio.core.sizing import plan_size


def image(b=2, h=30, w=50, c=3):
    return torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("fit", ["canvas", "crop", "bounds", "cover"])
@pytest.mark.parametrize(("h", "w"), [(30, 50), (1, 1), (1, 300), (300, 1), (17, 9)])
def test_apply_plan_gives_the_planned_size(fit, h, w):
    rgb, _ = split_alpha(image(2, h, w))
    if fit == "cover" and (h, w) == (300, 1):  # covering 77x45 would need a 23100 px tall image
        with pytest.raises(HiResInputError, match=r"fit=.cover.: covering 77x45 makes this 1x300 image 77x23100"):
            plan_size(w, h, 77, 45, fit)
        return
    plan = plan_size(w, h, 77, 45, fit)
    out = apply_plan(rgb, plan)
    assert out.shape == (2, 3, plan.canvas[1], plan.canvas[0])
    assert 0 <= out.min() and out.max() <= 1


def test_canvas_padding_and_mask_agree():
    rgb, _ = split_alpha(torch.ones(1, 10, 20, 3))
    plan = plan_size(20, 10, 40, 40, "canvas")
    out = apply_plan(rgb, plan, fill=0.0)
    mask = canvas_mask(plan)
    assert torch.equal(out[0, 0] == 0, mask == 1)


def test_alpha_round_trip_and_gray():
    rgba = image(1, 8, 8, 4)
    rgb, alpha = split_alpha(rgba)
    assert rgb.shape[1] == 3 and alpha.shape[1] == 1
    assert torch.equal(merge_alpha(rgb, alpha), rgba)
    gray_rgb, none = split_alpha(image(1, 8, 8, 1))
    assert gray_rgb.shape[1] == 3 and none is None


def test_bicubic_is_identity_at_the_same_size():
    x = torch.rand(1, 3, 9, 9)
    assert bicubic(x, (9, 9)) is x


def fake_model(scale):
    calls = []

    def upscale(x, passes):
        calls.append(passes)
        for _ in range(passes):
            x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
        return x

    return upscale, calls


@pytest.mark.parametrize(("scale", "width", "passes"), [(4, 200, 1), (2, 200, 2), (2, 400, 2), (4, 60, 1), (4, 40, 0)])
def test_upscale_4_runs_the_model_at_most_to_4x_then_resizes_exactly(scale, width, passes):
    rgb, _ = split_alpha(image(1, 30, 50))
    plan = plan_size(50, 30, width, 0)
    upscale, calls = fake_model(scale)
    out = make_base(rgb, plan, "upscale_4", upscale=upscale, upscale_scale=scale)
    assert calls == [passes]
    assert out.shape[-2:] == (plan.canvas[1], plan.canvas[0])


def test_bicubic_clean_cleans_at_the_source_size():
    rgb, _ = split_alpha(image(1, 30, 50))
    seen = []

    def clean(x):
        seen.append(tuple(x.shape))
        return x * 0.5

    plan = plan_size(50, 30, 100, 0)
    out = make_base(rgb, plan, "bicubic_clean", clean=clean)
    assert seen == [(1, 3, 30, 50)]
    assert torch.allclose(out, bicubic(rgb * 0.5, (100, 60)))


def test_bicubic_path_equals_apply_plan_and_alpha_follows():
    rgb, alpha = split_alpha(image(1, 30, 50, 4))
    plan = plan_size(50, 30, 90, 90, "canvas")
    assert torch.equal(make_base(rgb, plan, "bicubic"), apply_plan(rgb, plan))
    a = resize_alpha(alpha, plan)
    assert a.shape == (1, 1, 90, 90) and a[..., 0, 0].item() == 0.0
