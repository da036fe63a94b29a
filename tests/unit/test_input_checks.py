"""The checks ComfyUI 0.3.75 does not make for V3 nodes: dropdowns, non-finite numbers, unreadable text,
missing connections, and the tile fitting of the upscale model."""

import math

import pytest
import torch

from hires_studio.core.adapter import Adapter
from hires_studio.core.errors import HiResInputError
from hires_studio.core.input_checks import (
    NOT_CONNECTED,
    Declared,
    check_adapter_links,
    check_control_has_image,
    check_declared,
    check_generate_inputs,
    check_mask_size,
    check_number,
    check_text,
    connected,
    lone_surrogate_at,
    out_of_memory_message,
    refusal,
)
from hires_studio.core.model_tiles import fitted_tile
from hires_studio.core.plan import check_connected, plan_generative_upscale, strength_route
from hires_studio.core.request_rules import SizeRequest

DECLARED = {
    "sampler_name": Declared("COMBO", choices=("euler", "dpmpp_2m")),
    "cfg": Declared("FLOAT", 0.0, 30.0),
    "steps": Declared("INT", 1, 200),
    "description": Declared("STRING"),
}


def refused(check) -> HiResInputError:
    with pytest.raises(HiResInputError) as info:
        check()
    return info.value


@pytest.mark.parametrize(
    ("values", "name", "message"),
    [
        ({"sampler_name": "nope"}, "sampler_name", "sampler_name='nope': is not one of the choices. Fix: use one of "
         "euler, dpmpp_2m."),
        ({"cfg": math.nan}, "cfg", "cfg=nan: is not a finite number. Fix: use a number from 0 to 30."),
        ({"cfg": math.inf}, "cfg", "cfg=inf: is not a finite number. Fix: use a number from 0 to 30."),
        ({"cfg": -math.inf}, "cfg", "cfg=-inf: is not a finite number"),
        ({"cfg": 31.0}, "cfg", "cfg=31.0: is outside 0 to 30. Fix: use a number from 0 to 30."),
        ({"steps": 0}, "steps", "steps=0: is outside 1 to 200"),
        ({"cfg": 7.0, "sampler_name": "dpmpp_2m", "description": "a \ud800 cat"}, "description",
         "description='...a \\ud800': has an unpaired surrogate U+D800 at character 2"),
    ],
)
def test_declared_values_are_checked(values, name, message):
    error = refused(lambda: check_declared(values, DECLARED))
    assert error.input_name == name
    assert str(error).startswith(message), str(error)


def test_good_values_linked_widgets_and_undeclared_inputs_pass():
    check_declared({"sampler_name": "euler", "cfg": 0.0, "steps": 200, "description": "a cat \U0001F408",
                    "cfg_linked": None, "other": "anything"}, DECLARED)
    check_declared({"sampler_name": None, "cfg": None}, DECLARED)


def test_live_choices_replace_the_declared_ones():
    lora = {"lora_name": Declared("COMBO", choices=("none",))}
    check_declared({"lora_name": "new.safetensors"}, lora, {"lora_name": ("none", "new.safetensors")})
    error = refused(lambda: check_declared({"lora_name": "../../../etc/passwd"}, lora,
                                           {"lora_name": ("none", "new.safetensors")}))
    assert str(error).startswith("lora_name='../../../etc/passwd': is not one of the choices. Fix: use one of none, "
                                 "new.safetensors.")


def test_long_choice_lists_are_cut_short():
    names = tuple(f"m{i}" for i in range(40))
    error = refused(lambda: check_declared({"m": "x"}, {"m": Declared("COMBO", choices=names)}))
    assert "m11 (and 28 more)" in str(error) and "m12" not in str(error)


def test_surrogates():
    assert lone_surrogate_at("plain") is None
    assert lone_surrogate_at("pair \U0001F600 ok") is None  # a real astral character is one code point
    assert lone_surrogate_at("x\udfffy") == 1
    check_text("description", "")
    assert refused(lambda: check_text("negative_prompt", "\udc80")).input_name == "negative_prompt"


def test_connected_tells_a_link_from_nothing():
    assert connected({"model": None, "vae": NOT_CONNECTED, "clip": None}) == {"model", "clip"}


@pytest.mark.parametrize(
    ("strength", "linked", "name", "fragment"),
    [
        (1, {"model", "vae", "clip"}, "upscale_model", "upscale_strength 1 takes the upscale_4 base path"),
        (4, {"model", "vae", "clip"}, "upscale_model", "upscale_strength 4 takes the upscale_4 base path"),
        (7, set(), "upscale_model", "upscale_strength 7 takes the upscale_4 base path"),
        (5, {"vae", "clip"}, "model", "upscale_strength 5 runs a diffusion pass, which needs a MODEL"),
        (2, {"model", "clip"}, "vae", "upscale_strength 2 runs a diffusion pass, which needs a VAE"),
        (3, {"model", "vae"}, "clip", "GenerativeUpscale needs a prompt encoded by a CLIP"),
    ],
)
def test_upscale_connections(strength, linked, name, fragment):
    """The one connection check, as /prompt runs it (links only, the adapter not known yet)."""
    error = refused(lambda: check_connected(strength_route(strength), False, "GenerativeUpscale", linked))
    assert error.input_name == name and fragment in str(error) and "Fix:" in str(error)


def test_outpaint_needs_a_model_and_a_prompt_encoder_whatever_the_strength():
    error = refused(lambda: check_connected(strength_route(8), True, "GenerativeUpscale", {"model", "vae"}))
    assert error.input_name == "clip"
    check_connected(strength_route(8), True, "GenerativeUpscale", {"model", "vae", "adapter"})  # adapter unknown


IMAGE = torch.zeros(1, 64, 96, 3)


def plan_gu(strength, linked, adapter=None, mask=None):
    return plan_generative_upscale(SizeRequest(), IMAGE, strength_route(strength), node="GenerativeUpscale",
                                   connected=linked, adapter=adapter, usable=("upscale", "control"), mask=mask,
                                   find_focus=False)


def test_upscale_inputs_that_need_nothing_more_pass():
    for strength in (8, 9):
        plan_gu(strength, set())
    ready = Adapter("upscale", "p", "n", positive=[], negative=[])
    plan_gu(5, {"model", "vae"}, ready)
    with_clip = Adapter("upscale", "p", "n", clip=object())
    plan_gu(5, {"model", "vae"}, with_clip)
    needs_clip = Adapter("upscale", "p", "n")
    assert refused(lambda: plan_gu(5, {"model", "vae"}, needs_clip)).input_name == "clip"


def test_adapter_into_the_wrong_node_and_a_mask_of_another_size():
    face = Adapter("face", "p", "n", image=object())
    error = refused(lambda: plan_gu(5, {"model", "vae", "clip"}, face))
    assert str(error).startswith("adapter='face': GenerativeUpscale cannot use adapter_type 'face'")
    error = refused(lambda: plan_gu(8, set(), mask=torch.ones(1, 10, 12)))
    assert str(error).startswith("mask='12x10': the mask must be the image's size (96x64)")
    check_mask_size((64, 96), (64, 96))


@pytest.mark.parametrize(
    ("adapter_type", "linked", "missing"),
    [("face", set(), "image"), ("generate_background", {"mask"}, "image"), ("inpainting", {"image"}, "mask"),
     ("control", {"image"}, "control_net"), ("control2", {"control_net"}, "image")],
)
def test_adapter_links(adapter_type, linked, missing):
    error = refused(lambda: check_adapter_links(adapter_type, linked))
    assert error.input_name == missing
    assert str(error).startswith(f"{missing}=None: adapter_type {adapter_type!r} needs a connected {missing.upper()}")


def test_control_without_an_image_is_an_error_for_the_generator():
    error = refused(lambda: check_control_has_image("control", False, "HiResGenerate"))
    assert error.input_name == "image" and "the ControlNet would be ignored" in str(error)
    check_control_has_image("control", True, "HiResGenerate")
    check_control_has_image("control2", False, "HiResGenerate")  # needs its image already at AdapterSelect
    control = Adapter("control", "p", "n", control_net=object(), clip=object())
    assert refused(lambda: check_generate_inputs(set(), control, "HiResGenerate")).input_name == "image"
    no_encoder = Adapter("upscale", "p", "n")
    assert refused(lambda: check_generate_inputs(set(), no_encoder, "HiResGenerate")).input_name == "clip"
    check_generate_inputs({"clip"}, no_encoder, "HiResGenerate")


def test_refusal_is_validate_inputs_answer():
    assert refusal(lambda: None) is True
    assert refusal(None, lambda: True) is True
    assert refused(lambda: refusal(lambda: check_text("description", "\ud800"))).input_name == "description"
    later = []
    first = refused(lambda: refusal(lambda: True, lambda: check_number("cfg", math.nan, Declared("FLOAT", 0, 100)),
                                    lambda: later.append(1)))
    assert first.input_name == "cfg" and not later  # the first refusal wins, the rest never run


def test_out_of_memory_message_says_what_to_lower():
    message = out_of_memory_message("the upscale model", 64, "the output size (width, height or scale_by)")
    assert message.startswith("Out of memory in the upscale model, even with the smallest tile (64 px). Fix: lower "
                              "the output size (width, height or scale_by), or free device memory")


@pytest.mark.parametrize(
    ("side", "max_tile", "tile", "tiles"),
    [(100, 192, 100, 1), (192, 192, 192, 1), (512, 192, 192, 3), (512, 256, 192, 3), (513, 192, 153, 4),
     (2048, 512, 436, 5), (1000, 192, 171, 7)],
)
def test_fitted_tile_keeps_the_tile_count_with_the_smallest_tile(side, max_tile, tile, tiles):
    overlap = 32
    got = fitted_tile(side, max_tile, overlap)
    assert got == tile and got <= max_tile
    count = 1 if side <= got else math.ceil((side - overlap) / (got - overlap))  # ComfyUI's tiled_scale count
    assert count == tiles
    assert count == (1 if side <= max_tile else math.ceil((side - overlap) / (max_tile - overlap)))
    if count > 1:
        assert math.ceil((side - overlap) / (got - 1 - overlap)) > count  # one pixel less needs one more tile
