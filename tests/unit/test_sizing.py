"""deep-image's and Stability v1's size rules, by example and by property."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hires_studio.core.errors import HiResInputError
from hires_studio.core.sizing import (
    FITS,
    MAX_SIDE,
    ai_upscale_passes,
    plan_size,
    stability_v1_size,
)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1000, 0, (1000, 667)),  # the documented example: 640x427, width 1000 -> 1000x667
        # The document prints 1500x1000 for height 1000, but 640/427*1000 = 1498.8: the exact ratio gives 1499.
        (0, 1000, (1499, 1000)),
        ("200%", 0, (1280, 854)),
        (0, "50%", (320, 214)),
    ],
)
def test_one_side_keeps_the_aspect_ratio(width, height, expected):
    plan = plan_size(640, 427, width, height)
    assert plan.canvas == expected
    assert plan.resized == expected
    assert plan.offset == (0, 0)


def test_both_sides_canvas_pads_to_the_frame():
    plan = plan_size(640, 427, 1000, 1000, "canvas")
    assert plan.canvas == (1000, 1000)
    assert plan.resized == (1000, 667)
    assert plan.offset == (0, 166)
    assert plan.padded


def test_both_sides_bounds_fits_inside():
    assert plan_size(640, 427, 1000, 1000, "bounds").canvas == (1000, 667)


def test_both_sides_cover_covers():
    assert plan_size(640, 427, 1000, 1000, "cover").canvas == (1499, 1000)


def test_both_sides_crop_takes_the_centre_then_resizes():
    plan = plan_size(640, 427, 1000, 1000, "crop")
    assert plan.canvas == plan.resized == (1000, 1000)
    assert (plan.source_box.w, plan.source_box.h) == (427, 427)
    assert plan.source_box.x == (640 - 427) // 2


def test_scale_by_when_no_side_is_given():
    assert plan_size(640, 427, 0, 0, scale_by=2.0).canvas == (1280, 854)


@pytest.mark.parametrize(
    ("kwargs", "name", "fragment"),
    [
        ({"width": -1}, "width", "negative"),
        ({"height": -5}, "height", "negative"),
        ({"width": MAX_SIDE + 1}, "width", "16384 x 16384 pixels limit"),
        ({"width": 0, "height": 0, "scale_by": 0}, "scale_by", "above 0"),
        ({"width": 0, "height": 0, "scale_by": -2}, "scale_by", "above 0"),
        ({"width": 100, "height": 100, "fit": "stretch"}, "fit", "canvas, crop, bounds, cover"),
        ({"width": "abc"}, "width", "not a size"),
        ({"width": "0%"}, "width", "above 0"),
        # The kept side would pass the cap: the side the user gave is at fault (issue 9: the input at fault).
        ({"width": 16000, "height": 0, "src": (64, 2048)}, "width", "would become 16000x512000"),
        ({"width": 16000, "height": 100, "fit": "cover", "src": (64, 2048)}, "fit", "pixels limit"),
        # scale_by's output passes the cap: scale_by is at fault, not the width the user never set (issue 9).
        ({"width": 0, "height": 0, "scale_by": 20.0, "src": (1024, 768)}, "scale_by", "at most 16"),
    ],
)
def test_bad_sizes_are_clear_errors(kwargs, name, fragment):
    kwargs = dict(kwargs)
    src = kwargs.pop("src", (640, 427))
    with pytest.raises(HiResInputError) as caught:
        plan_size(*src, **kwargs)
    assert caught.value.input_name == name
    message = str(caught.value)
    assert message.startswith(f"{name}=")
    assert fragment in message
    assert "Fix:" in message


def test_empty_image_is_an_error():
    with pytest.raises(HiResInputError, match="image="):
        plan_size(0, 10, 100, 0)


sides = st.integers(min_value=1, max_value=4096)
targets = st.integers(min_value=1, max_value=8192)


@settings(max_examples=400, deadline=None)
@given(src_w=sides, src_h=sides, width=targets)
def test_property_one_side_exact_and_never_squashed(src_w, src_h, width):
    try:
        plan = plan_size(src_w, src_h, width, 0)
    except HiResInputError:
        assert src_h * width / src_w > MAX_SIDE - 0.5
        return
    w, h = plan.canvas
    assert w == width
    # the other side is the nearest integer to the exact value: never off by a pixel
    assert abs(h - src_h * width / src_w) <= 0.5 or h == 1


@settings(max_examples=400, deadline=None)
@given(src_w=sides, src_h=sides, width=targets, height=targets, fit=st.sampled_from(FITS))
def test_property_two_sides_by_fit(src_w, src_h, width, height, fit):
    try:
        plan = plan_size(src_w, src_h, width, height, fit)
    except HiResInputError as error:
        assert fit == "cover" and error.input_name == "fit"
        return
    rw, rh = plan.resized
    cw, ch = plan.canvas
    box = plan.source_box
    # aspect ratio of what is resized is kept to within one pixel of rounding on the shorter side
    assert abs(rw * box.h - rh * box.w) <= max(box.w, box.h, rw, rh)
    if fit in ("canvas", "crop"):
        assert (cw, ch) == (width, height)
    if fit == "canvas":
        assert rw <= width and rh <= height and (rw == width or rh == height)
        ox, oy = plan.offset
        assert 0 <= ox <= width - rw and 0 <= oy <= height - rh
    if fit == "bounds":
        assert (cw, ch) == (rw, rh) and cw <= width and ch <= height and (cw == width or ch == height)
    if fit == "cover":
        assert (cw, ch) == (rw, rh) and cw >= width and ch >= height and (cw == width or ch == height)
    if fit == "crop":
        assert 0 <= box.x and box.x + box.w <= src_w and 0 <= box.y and box.y + box.h <= src_h
        assert box.w == src_w or box.h == src_h


@pytest.mark.parametrize(
    ("model_scale", "needed", "passes"),
    [
        (4, 4, 1), (4, 1.5, 1), (4, 16, 1), (2, 3, 2), (2, 2, 1),
        (2, 8, 2), (3, 9, 1), (1, 4, 1), (4, 1.0, 0), (4, 0.5, 0),
    ],
)
def test_ai_upscale_never_past_4x(model_scale, needed, passes):
    assert ai_upscale_passes(model_scale, needed) == passes
    if passes:
        assert max(model_scale, 1) ** passes <= 4


def test_ai_upscale_model_above_4x_is_refused():
    with pytest.raises(HiResInputError, match="upscale_model='8x'"):
        ai_upscale_passes(8, 8)


@pytest.mark.parametrize(
    ("src", "kwargs", "expected"),
    [
        ((512, 512), {}, (1024, 1024)),
        ((1024, 1024), {}, (2048, 2048)),
        ((640, 427), {"width": 1024}, (1024, 683)),
        ((1024, 512), {"height": 1024}, (2048, 1024)),
    ],
)
def test_stability_v1_sizes(src, kwargs, expected):
    assert stability_v1_size(*src, **kwargs) == expected


@pytest.mark.parametrize(
    ("src", "kwargs", "fragment"),
    [
        ((512, 512), {"width": 1024, "height": 1024}, "Only one of width or height"),
        ((512, 512), {"width": 511}, "at least 512"),
        ((1025, 1024), {}, "1,048,576 pixels"),
        ((1024, 1024), {"width": 4096}, "maximum pixel count of 4,194,304"),
    ],
)
def test_stability_v1_errors(src, kwargs, fragment):
    with pytest.raises(HiResInputError, match=fragment):
        stability_v1_size(*src, **kwargs)
