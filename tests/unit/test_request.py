"""The nodes' request values (core/request_rules.py, core/plan.py): every plan, its checks, and deep-image's resize
fields."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hires_studio.core.crop_focus import centre_on, crop_placer, densest_window, item_box
from hires_studio.core.errors import HiResInputError
from hires_studio.core.plan import (
    cleanup_route,
    lazy_inputs_for,
    no_diffusion_route,
    plan_generation,
    plan_upscale,
    plan_upscale_image,
    size_plan,
    strength_route,
)
from hires_studio.core.request_rules import SizeRequest, check_generation_request, check_size_request, parse_color
from hires_studio.core.sizing import MAX_SIDE, Box, padding_pixels, parse_padding, plan_size

ALL = {"upscale_model", "model", "vae", "clip"}


# --- the strength table's meaning, in one place ------------------------------------------------------------


@pytest.mark.parametrize(
    ("strength", "base", "denoise", "lora"),
    [(1, "upscale_4", 0.5, 1.0), (2, "bicubic", 0.5, 1.0), (3, "bicubic_clean", 0.5, 1.0),
     (4, "upscale_4", 0.35, 0.5), (5, "bicubic", 0.35, 0.5), (6, "bicubic_clean", 0.35, 0.5)],
)
def test_generative_rows_route_to_a_diffusion_pass(strength, base, denoise, lora):
    route = strength_route(strength)
    assert route.base_path == base and route.strength == strength
    assert (route.diffusion.denoise, route.diffusion.lora_scale) == (denoise, lora)
    assert strength_route(strength, 0.8).diffusion.denoise == 0.8


@pytest.mark.parametrize(("strength", "base"), [(7, "upscale_4"), (8, "bicubic"), (9, "bicubic_clean")])
def test_rows_7_to_9_have_no_diffusion_whatever_the_override(strength, base):
    assert strength_route(strength, 0.9).diffusion is None
    assert strength_route(strength).base_path == base


def test_a_base_path_alone_is_asked_for_directly():
    route = no_diffusion_route("upscale_4")
    assert route.diffusion is None and route.strength is None and route.base_path == "upscale_4"


@pytest.mark.parametrize(
    ("cleanup", "base", "level"),
    [("auto", "bicubic_clean", "auto"), ("off", "bicubic", None), ("strongest", "bicubic_clean", 3)],
)
def test_cleanup_routes(cleanup, base, level):
    route, chosen = cleanup_route(cleanup)
    assert route.base_path == base and route.diffusion is None and chosen == level


def test_denoise_override_out_of_range():
    with pytest.raises(HiResInputError, match=r"^denoise_override=1.5: must be from 0 to 1\. Fix:"):
        strength_route(5, 1.5)


# --- what the plan needs, and what is loaded ----------------------------------------------------------------


def test_the_plan_loads_only_what_it_uses():
    size = SizeRequest(width=200)
    assert lazy_inputs_for(plan_upscale(size, 100, 50, strength_route(7), node="N", connected=ALL), True) == [
        "upscale_model"]
    assert lazy_inputs_for(plan_upscale(size, 100, 50, strength_route(8), node="N", connected=ALL), True) == []
    assert lazy_inputs_for(plan_upscale(size, 100, 50, strength_route(4), node="N", connected=ALL), False) == [
        "upscale_model", "model", "vae"]
    outpaint = plan_upscale(SizeRequest(width=200, height=200, canvas_fill="outpaint"), 100, 50, strength_route(8),
                            node="N", connected=ALL)
    assert outpaint.outpaint and lazy_inputs_for(outpaint, True) == ["model", "vae", "clip"]


@pytest.mark.parametrize(
    ("strength", "canvas_fill", "connected", "message"),
    [
        (4, "color", {"model", "vae"}, "upscale_model=None: upscale_strength 4 takes the upscale_4 base path, which "
         "needs an UPSCALE_MODEL. Fix: connect Load Upscale Model (e.g. RealESRGAN_x4plus), or choose a bicubic "
         "strength (2, 3, 5, 6, 8, 9)."),
        (5, "color", {"vae"}, "model=None: upscale_strength 5 runs a diffusion pass, which needs a MODEL. Fix: "
         "connect the checkpoint's MODEL to N, or choose strength 7-9 (no diffusion) and canvas_fill 'color'."),
        (8, "outpaint", {"model"}, "vae=None: canvas_fill 'outpaint' generates the gap with a diffusion pass, which "
         "needs a VAE. Fix: connect the checkpoint's VAE to N, or choose strength 7-9 (no diffusion) and "
         "canvas_fill 'color'."),
    ],
)
def test_missing_inputs_are_named_before_any_work(strength, canvas_fill, connected, message):
    with pytest.raises(HiResInputError) as caught:
        plan_upscale(SizeRequest(width=200, canvas_fill=canvas_fill), 100, 50, strength_route(strength), node="N",
                     connected=connected)
    assert str(caught.value) == message


def test_outpaint_on_a_node_without_a_model():
    with pytest.raises(HiResInputError, match=r"^canvas_fill='outpaint': BicubicClean has no diffusion model"):
        plan_upscale(SizeRequest(canvas_fill="outpaint"), 10, 10, cleanup_route("auto")[0], node="BicubicClean",
                     model_inputs=False)


# --- /prompt: only what needs no image, naming only the input at fault (issue 9, items 3 and 4) -------------


def test_scale_by_is_checked_on_the_real_image_not_a_stand_in():
    request = SizeRequest(scale_by=20.0)
    check_size_request(request)  # nothing about the image is known at /prompt: accepted
    assert size_plan(request, 64, 48).canvas == (1280, 960)
    with pytest.raises(HiResInputError) as caught:
        size_plan(request, 1024, 768)
    assert str(caught.value) == ("scale_by=20.0: this 1024x768 image would become 20480x15360, above the 16384 x "
                                 "16384 pixels limit. Fix: use a scale_by of at most 16 for this image, or set width "
                                 "or height.")


@pytest.mark.parametrize(
    ("fields", "name"),
    [({"fit": "stretch"}, "fit"), ({"width": 20000}, "width"), ({"height": -1}, "height"),
     ({"scale_by": 0.0}, "scale_by"), ({"scale_by": float("nan")}, "scale_by"), ({"padding": "a lot"}, "padding"),
     ({"padding": "60%"}, "padding"), ({"width": 100, "height": 40, "padding": "20"}, "padding"),
     ({"min_length": 20000}, "min_length"), ({"crop_focus": "face"}, "crop_focus"),
     ({"canvas_fill": "blur"}, "canvas_fill"), ({"fill_color": "red"}, "fill_color"),
     ({"size_rules": "dall-e"}, "size_rules")],
)
def test_each_prompt_time_error_names_only_its_input(fields, name):
    with pytest.raises(HiResInputError) as caught:
        check_size_request(SizeRequest(**fields))
    assert caught.value.input_name == name
    message = str(caught.value)
    assert message.startswith(f"{name}=") and "Fix:" in message
    others = {"width", "height", "fit", "scale_by", "padding", "min_length", "fill_color"} - {name}
    assert not any(f"{other}=" in message for other in others), message


# --- Stability v1's rules, in its own words -----------------------------------------------------------------

STABILITY_ERRORS = [
    # (size fields, source image or None for the /prompt check, exact message)
    ({"width": 1024, "height": 1024}, None,
     "height=1024: Only one of width or height may be specified. Fix: set height to 0 (or width to 0): the other "
     "side keeps the aspect ratio."),
    ({"width": 2048, "height": 512}, None,
     "height=512: Only one of width or height may be specified. Fix: set height to 0 (or width to 0): the other "
     "side keeps the aspect ratio."),
    ({"width": 511}, None,
     "width=511: must be at least 512 under Stability v1's rules. Fix: ask for 512 pixels or more, or 0 for the 2x "
     "default."),
    ({"height": 1}, None,
     "height=1: must be at least 512 under Stability v1's rules. Fix: ask for 512 pixels or more, or 0 for the 2x "
     "default."),
    ({"width": 20000}, None,
     "width=20000: Image cannot be upscaled above 16384 x 16384 pixels limit. Fix: ask for at most 16384 pixels per "
     "side."),
    ({"padding": "10"}, None,
     "padding='10': is a deep-image resize field; Stability v1's upscale has no such field. Fix: set size_rules to "
     "'deep-image', or padding back to '0'."),
    ({"min_length": 600}, None,
     "min_length=600: is a deep-image resize field; Stability v1's upscale has no such field. Fix: set size_rules "
     "to 'deep-image', or min_length back to 0."),
    ({"canvas_fill": "outpaint"}, None,
     "canvas_fill='outpaint': is a deep-image resize field; Stability v1's upscale has no such field. Fix: set "
     "size_rules to 'deep-image', or canvas_fill back to 'color'."),
    ({}, (1025, 1024),
     "image='1025x1024': the input may have at most 1,048,576 pixels. Fix: downscale the input to 1024x1024 or "
     "fewer pixels first."),
    ({"width": 1024}, (2049, 512),
     "image='2049x512': the input may have at most 1,048,576 pixels. Fix: downscale the input to 1024x1024 or "
     "fewer pixels first."),
    ({"width": 4096}, (1024, 1024),
     "width=4096: the output 4096x4096 would exceed the maximum pixel count of 4,194,304. Fix: ask for a smaller "
     "size."),
    ({"height": 2049}, (1024, 1024),
     "height=2049: the output 2049x2049 would exceed the maximum pixel count of 4,194,304. Fix: ask for a smaller "
     "size."),
    ({"width": 16384}, (4096, 256),
     "width=16384: the output 16384x1024 would exceed the maximum pixel count of 4,194,304. Fix: ask for a smaller "
     "size."),
]


@pytest.mark.parametrize(("fields", "source", "message"), STABILITY_ERRORS)
def test_stability_v1_errors_with_the_exact_message(fields, source, message):
    request = SizeRequest(size_rules="stability-v1", **fields)
    with pytest.raises(HiResInputError) as caught:
        if source is None:
            check_size_request(request)  # refused at /prompt: the image is not needed
        else:
            check_size_request(request)
            size_plan(request, *source)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("fields", "source", "expected"),
    [({}, (512, 512), (1024, 1024)), ({}, (1024, 1024), (2048, 2048)), ({}, (2048, 512), (4096, 1024)),
     ({"width": 1024}, (640, 427), (1024, 683)), ({"height": 1024}, (1024, 512), (2048, 1024)),
     ({"width": 512}, (96, 64), (512, 341))],
)
def test_stability_v1_sizes_in_the_plan(fields, source, expected):
    plan = size_plan(SizeRequest(size_rules="stability-v1", scale_by=7.0, fit="crop", **fields), *source)
    assert plan.canvas == plan.resized == expected and plan.offset == (0, 0)


def test_hires_generate_under_stability_rules():
    plan = plan_generation(0, 0, "stability-v1", None, 512, generative_upscale=False, strength=5,
                           denoise_override=0.0)
    assert plan.generation == (512, 512) and plan.target == (1024, 1024)
    with pytest.raises(HiResInputError, match=r"^height=1024: Only one of width or height may be specified"):
        check_generation_request(2048, 1024, "stability-v1", 1)


# --- HiResGenerate's plan -----------------------------------------------------------------------------------


def test_generation_plan_routes():
    direct = plan_generation(2048, 1024, "deep-image", None, 512, generative_upscale=False, strength=5,
                             denoise_override=0.0, connected={"upscale_model"})
    assert direct.finish.route == no_diffusion_route("upscale_4") and direct.upscaling
    bicubic = plan_generation(2048, 1024, "deep-image", None, 512, generative_upscale=False, strength=5,
                              denoise_override=0.0)
    assert bicubic.finish.route == no_diffusion_route("bicubic")
    generative = plan_generation(2048, 1024, "deep-image", None, 512, generative_upscale=True, strength=5,
                                 denoise_override=0.0)
    assert generative.finish.route == strength_route(5) and generative.generation == (720, 368)
    small = plan_generation(300, 200, "deep-image", None, 512, generative_upscale=True, strength=5,
                            denoise_override=0.0)
    assert small.finish.route.diffusion is None and small.generation == (304, 200)
    assert small.finish.size.canvas == (300, 200)
    with pytest.raises(HiResInputError, match=r"^upscale_model=None: upscale_strength 1 takes"):
        plan_generation(2048, 1024, "deep-image", None, 512, generative_upscale=True, strength=1,
                        denoise_override=0.0)


@pytest.mark.parametrize("num_images", [0, 9, True])
def test_num_images_range(num_images):
    with pytest.raises(HiResInputError, match=r"^num_images=.*: must be from 1 to 8\. Fix:"):
        check_generation_request(512, 512, "deep-image", num_images)


# --- padding and min_length, by property --------------------------------------------------------------------

sides = st.integers(min_value=1, max_value=3000)
frames = st.integers(min_value=0, max_value=4000)


@settings(max_examples=300, deadline=None)
@given(src_w=sides, src_h=sides, width=frames, height=frames, fit=st.sampled_from(["canvas", "crop", "bounds"]),
       pad=st.integers(min_value=0, max_value=300), percent=st.booleans())
def test_property_padding_is_a_margin_inside_the_same_output(src_w, src_h, width, height, fit, pad, percent):
    padding = f"{min(pad, 49)}%" if percent else str(pad)
    request = SizeRequest(width=width, height=height, fit=fit, scale_by=1.0, padding=padding)
    try:
        unpadded = size_plan(SizeRequest(width=width, height=height, fit=fit, scale_by=1.0), src_w, src_h)
    except HiResInputError:
        return
    try:
        plan = size_plan(request, src_w, src_h)
    except HiResInputError as error:
        assert error.input_name == "padding"
        assert 2 * padding_pixels(padding, unpadded.canvas) >= min(unpadded.canvas)
        return
    margin = padding_pixels(padding, unpadded.canvas)
    cw, ch = plan.canvas
    rw, rh = plan.resized
    ox, oy = plan.offset
    assert plan.canvas == unpadded.canvas, "padding never changes the output size"
    assert ox >= margin and oy >= margin and ox + rw <= cw - margin and oy + rh <= ch - margin
    box = plan.source_box
    assert abs(rw * box.h - rh * box.w) <= max(box.w, box.h, rw, rh), "never squashed"
    if margin == 0:
        assert plan == unpadded
    else:  # the image touches the inner frame on at least one axis
        assert rw == cw - 2 * margin or rh == ch - 2 * margin


@settings(max_examples=300, deadline=None)
@given(src_w=sides, src_h=sides, width=frames, height=frames, fit=st.sampled_from(["canvas", "crop", "bounds"]),
       min_length=st.integers(min_value=0, max_value=5000))
def test_property_min_length_is_the_shorter_sides_floor(src_w, src_h, width, height, fit, min_length):
    base = SizeRequest(width=width, height=height, fit=fit, scale_by=1.0)
    try:
        unchanged = size_plan(base, src_w, src_h)
    except HiResInputError:
        return
    try:
        plan = size_plan(SizeRequest(width=width, height=height, fit=fit, scale_by=1.0, min_length=min_length),
                         src_w, src_h)
    except HiResInputError as error:
        assert error.input_name == "min_length"
        return
    cw, ch = plan.canvas
    assert min(cw, ch) >= min_length
    assert max(cw, ch) <= MAX_SIDE
    if min(unchanged.canvas) >= min_length:
        assert plan == unchanged, "a long enough output is left alone"
    else:
        assert min(cw, ch) == min_length, "grown exactly to the minimum"
        # the aspect ratio of the output is kept within a pixel of rounding
        uw, uh = unchanged.canvas
        assert abs(cw * uh - ch * uw) <= max(cw, ch, uw, uh)


def test_padding_and_min_length_by_example():
    assert padding_pixels("5%", (1000, 600)) == 30 and padding_pixels("24", (10, 10)) == 24
    assert parse_padding("24px") == (24.0, False) and parse_padding(" 2.5 % ") == (2.5, True)
    plan = size_plan(SizeRequest(width=1000, height=1000, padding="100"), 640, 427)
    assert plan.canvas == (1000, 1000) and plan.resized == (800, 534) and plan.offset == (100, 233)
    grown = size_plan(SizeRequest(width=300, min_length=400), 640, 427)
    assert grown.canvas == (600, 400)  # 640 x 400 / 427 = 599.5


def test_fill_colours():
    assert parse_color("#000000") == (0.0, 0.0, 0.0)
    assert parse_color("#fff") == (1.0, 1.0, 1.0)
    assert parse_color("ff0080") == (1.0, 0.0, 128 / 255)
    plan = plan_upscale(SizeRequest(width=100, height=100, fill_color="#ff0000"), 50, 25, strength_route(8),
                        node="N")
    assert plan.fill == (1.0, 0.0, 0.0)


# --- crop focus on synthetic images with known positions ----------------------------------------------------


def _scene(w=400, h=200, box=(300, 60, 60, 80)) -> torch.Tensor:
    """A flat background with a distinct object at a known box (x, y, w, h)."""
    rgb = torch.full((3, h, w), 0.85)
    x, y, bw, bh = box
    rgb[:, y:y + bh, x:x + bw] = torch.tensor([0.1, 0.2, 0.7])[:, None, None]
    return rgb


def _image(rgb: torch.Tensor) -> torch.Tensor:
    return rgb.movedim(0, -1)[None].contiguous()


def test_item_box_finds_the_object():
    found = item_box(_scene())
    assert abs(found.x - 300) <= 3 and abs(found.y - 60) <= 3 and abs(found.w - 60) <= 6 and abs(found.h - 80) <= 6


def test_item_box_from_alpha():
    alpha = torch.zeros(1, 200, 400)
    alpha[:, 20:50, 10:40] = 1
    assert item_box(_scene(), alpha) == Box(10, 20, 30, 30)


@pytest.mark.parametrize("box", [(300, 60, 60, 80), (40, 30, 50, 50), (180, 110, 40, 60)])
def test_crop_item_keeps_the_object_whole(box):
    rgb = _scene(box=box)
    request = SizeRequest(width=200, height=200, fit="crop", crop_focus="item")
    plan = plan_upscale_image(request, _image(rgb), strength_route(8), node="N")
    crop = plan.size.source_box
    x, y, bw, bh = box
    assert (crop.w, crop.h) == (200, 200)
    assert crop.x <= x and x + bw <= crop.x + crop.w and crop.y <= y and y + bh <= crop.y + crop.h
    centre = plan_size(400, 200, 200, 200, "crop").source_box
    assert centre.x == 100  # the centre window: would cut (or miss) the objects at the sides


def test_crop_item_centres_an_object_larger_than_the_window():
    placer = centre_on(Box(100, 0, 300, 200), (400, 200))
    assert placer(200, 200) == (150, 0)


def test_crop_content_picks_the_detailed_region():
    g = torch.Generator().manual_seed(0)
    rgb = torch.full((3, 240, 600), 0.5)
    rgb[:, 40:200, 420:580] = torch.rand(3, 160, 160, generator=g)  # texture on the right
    request = SizeRequest(width=160, height=160, fit="crop", crop_focus="content")
    plan = plan_upscale_image(request, _image(rgb), strength_route(8), node="N")
    crop = plan.size.source_box
    assert (crop.w, crop.h) == (240, 240)
    assert crop.x >= 340, crop  # the window covers the texture
    textured = rgb[:, crop.y:crop.y + crop.h, crop.x:crop.x + crop.w].std()
    assert textured > rgb[:, :, :240].std() * 2


def test_crop_content_on_a_flat_image_is_the_centre():
    assert densest_window(torch.full((3, 100, 300), 0.3))(100, 100) == (100, 0)


def test_no_focus_analysis_unless_crop_with_a_focus():
    assert crop_placer("center", torch.zeros(3, 4, 4)) is None
    plan = plan_upscale_image(SizeRequest(width=200, crop_focus="item"), _image(_scene()), strength_route(8),
                              node="N")
    assert plan.size.source_box == Box(0, 0, 400, 200)


def test_a_linked_widget_leaves_the_size_to_the_run():
    from hires_studio.core.request_rules import check_size_request_at_prompt

    fields = dict(width=0, height=0, fit="canvas", scale_by=0.0, size_rules="deep-image", padding="0",
                  min_length=0, crop_focus="center", canvas_fill="color", fill_color="#000000")
    with pytest.raises(HiResInputError, match="^scale_by=0.0"):
        check_size_request_at_prompt(**fields)
    check_size_request_at_prompt(**{**fields, "width": None})  # width comes from a link: known at run time
