"""Bad values through a real ComfyUI server on loopback: POST /prompt refuses each one with 400 and a message
that names the input, the value and the fix, before anything runs (ComfyUI 0.3.75 checks neither the
dropdowns of V3 nodes nor NaN, and the pack's own connections would otherwise fail only after the checkpoint
loaded)."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from hires_studio.devtools.comfy_host import ComfyServer

pytestmark = pytest.mark.e2e

GU = dict(
    width=128, height=0, fit="canvas", scale_by=2.0, upscale_strength=5, seed=0, lora_name="none", lora_strength=1.0,
    steps=2, cfg=7.0, sampler_name="euler", scheduler="normal", denoise_override=0.0, tile_size=0, tile_batch=0,
    color_fix="wavelet",
)
HG = {**{k: v for k, v in GU.items() if k not in ("fit", "scale_by", "seed")}, "sample_num": 0,
      "generative_upscale": False}
ADAPTER = dict(adapter_type="upscale", description="a cottage", add_quality_suffix=True, negative_prompt="",
               controlnet_conditioning_scale=0.5, face_id=False)
IMAGE = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 0x336699}}
CKPT = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sd15.safetensors"}}
UPSCALER = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "tiny_compact.safetensors"}}


def preview(node_id: str) -> dict:
    return {"class_type": "PreviewImage", "inputs": {"images": [node_id, 0]}}


BASES: dict[str, dict[str, Any]] = {
    "upscale": {
        "1": IMAGE, "2": CKPT,
        "3": {"class_type": "GenerativeUpscale", "inputs": {**GU, "image": ["1", 0], "model": ["2", 0],
                                                            "vae": ["2", 2], "clip": ["2", 1]}},
        "9": preview("3"),
    },
    "generate": {
        "2": CKPT,
        "4": {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "clip": ["2", 1]}},
        "3": {"class_type": "HiResGenerate", "inputs": {**HG, "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1],
                                                        "adapter": ["4", 0]}},
        "9": preview("3"),
    },
    "clean": {
        "1": IMAGE,
        "3": {"class_type": "BicubicClean", "inputs": {"image": ["1", 0], "width": 128, "height": 0, "fit": "canvas",
                                                       "scale_by": 2.0, "cleanup": "auto"}},
        "9": preview("3"),
    },
}

NAN, INF = math.nan, math.inf
# (case id, base, node, input, value or "unlink", what the message starts with after "input=value: ")
CASES = [
    ("sampler", "upscale", "3", "sampler_name", "nope", "is not one of the choices. Fix: use one of euler, "),
    ("scheduler", "upscale", "3", "scheduler", "nope", "is not one of the choices. Fix: use one of simple, "),
    ("color_fix", "upscale", "3", "color_fix", "rainbow", "is not one of the choices. Fix: use one of wavelet, adain, "
     "none."),
    ("adapter_type", "generate", "4", "adapter_type", "sketch", "is not one of the choices. Fix: use one of "
     "generate_background, face, control, control2, upscale, inpainting."),
    ("cleanup", "clean", "3", "cleanup", "harsh", "is not one of the choices. Fix: use one of auto, off, light, "),
    ("lora_traversal", "upscale", "3", "lora_name", "../../../etc/passwd", "is not one of the choices. Fix: use one "
     "of none, tiny_lora.safetensors."),
    ("lora_unknown", "generate", "3", "lora_name", "missing.safetensors", "is not one of the choices."),
    ("hg_sampler", "generate", "3", "sampler_name", "nope", "is not one of the choices."),
    ("cfg_nan", "upscale", "3", "cfg", NAN, "is not a finite number. Fix: use a number from 0 to 100."),
    ("lora_strength_nan", "upscale", "3", "lora_strength", NAN, "is not a finite number. Fix: use a number from -4 "
     "to 4."),
    ("denoise_nan", "upscale", "3", "denoise_override", NAN, "is not a finite number. Fix: use a number from 0 to 1."),
    ("scale_by_inf", "upscale", "3", "scale_by", INF, "is not a finite number. Fix: use a number from 0 to 64."),
    ("hg_cfg_nan", "generate", "3", "cfg", NAN, "is not a finite number."),
    ("hg_denoise_inf", "generate", "3", "denoise_override", -INF, "is not a finite number."),
    ("clean_scale_nan", "clean", "3", "scale_by", NAN, "is not a finite number."),
    ("control_scale_nan", "generate", "4", "controlnet_conditioning_scale", NAN, "is not a finite number. Fix: use a "
     "number from 0 to 1."),
    ("surrogate", "generate", "4", "description", "a \ud83d cottage", "has an unpaired surrogate U+D83D at character "
     "2, which is not a character and no text encoder can read. Fix:"),
    ("negative_surrogate", "generate", "4", "negative_prompt", "\udc00", "has an unpaired surrogate U+DC00"),
    ("size_rules", "upscale", "3", "size_rules", "imagemagick", "is not one of the choices. Fix: use one of "
     "deep-image, stability-v1."),
    ("hg_size_rules", "generate", "3", "size_rules", "imagemagick", "is not one of the choices."),
    ("crop_focus", "clean", "3", "crop_focus", "face", "is not one of the choices. Fix: use one of center, item, "
     "content."),
    ("canvas_fill", "upscale", "3", "canvas_fill", "mirror", "is not one of the choices. Fix: use one of color, "
     "outpaint."),
    ("padding_surrogate", "clean", "3", "padding", "5\udc00%", None),
    ("fill_color_surrogate", "upscale", "3", "fill_color", "#\ud800", None),
    ("no_upscale_model_4", "upscale", "3", "upscale_strength", 4, None),
    ("no_upscale_model_1", "upscale", "3", "upscale_strength", 1, None),
    ("no_vae", "upscale", "3", "vae", "unlink", "upscale_strength 5 runs a diffusion pass, which needs a VAE. Fix:"),
    ("no_model", "upscale", "3", "model", "unlink", "upscale_strength 5 runs a diffusion pass, which needs a MODEL."),
    ("no_clip", "upscale", "3", "clip", "unlink", "GenerativeUpscale needs a prompt encoded by a CLIP"),
    ("hg_no_clip", "generate", "3", "adapter", "unlink+clip", "HiResGenerate needs a prompt encoded by a CLIP"),
    ("face_no_image", "generate", "4", "adapter_type", "face", None),
    ("inpainting_no_image", "generate", "4", "adapter_type", "inpainting", None),
    ("control_no_controlnet", "generate", "4", "adapter_type", "control", None),
]
# What the message names, shows and says where that is not the changed input and value: a missing connection
# (the input at fault is not the one changed), or a long text (shown up to the bad character).
NAMED = {
    "surrogate": ("description", "...a \ud83d", "has an unpaired surrogate U+D83D at character 2"),
    "negative_surrogate": ("negative_prompt", "...\udc00", "has an unpaired surrogate U+DC00 at character 0"),
    "padding_surrogate": ("padding", "...5\udc00", "has an unpaired surrogate U+DC00 at character 1"),
    "fill_color_surrogate": ("fill_color", "...#\ud800", "has an unpaired surrogate U+D800 at character 1"),
    "no_upscale_model_4": ("upscale_model", None, "upscale_strength 4 takes the upscale_4 base path, which needs an "
                           "UPSCALE_MODEL. Fix: connect Load Upscale Model"),
    "no_upscale_model_1": ("upscale_model", None, "upscale_strength 1 takes the upscale_4 base path"),
    "face_no_image": ("image", None, "adapter_type 'face' needs a connected IMAGE"),
    "inpainting_no_image": ("image", None, "adapter_type 'inpainting' needs a connected IMAGE"),
    "control_no_controlnet": ("control_net", None, "adapter_type 'control' needs a connected CONTROL_NET"),
}


def bad_prompt(base: str, node_id: str, key: str, value: Any) -> dict[str, Any]:
    prompt = copy.deepcopy(BASES[base])
    inputs = prompt[node_id]["inputs"]
    if value == "unlink":
        del inputs[key]
    elif value == "unlink+clip":
        del inputs[key], inputs["clip"]
        del prompt["4"]
    else:
        inputs[key] = value
    return prompt


def output_files(server: ComfyServer) -> set[str]:
    out = server.base / "output"
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("case", "base", "node_id", "key", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_value_is_refused_at_prompt(comfy_server: ComfyServer, case, base, node_id, key, value, expected) -> None:
    before = output_files(comfy_server)
    prompt = bad_prompt(base, node_id, key, value)
    status, body = comfy_server.post_prompt(prompt)
    assert status == 400, body
    assert body["error"]["type"] == "prompt_outputs_failed_validation", body
    # Filed on the node at fault alone (what the editor marks red), under its own class_type.
    assert set(body["node_errors"]) == {node_id}, body["node_errors"]
    assert body["node_errors"][node_id]["class_type"] == prompt[node_id]["class_type"], body["node_errors"]
    errors = body["node_errors"][node_id]["errors"]
    if case in NAMED:
        key, value, expected = NAMED[case]
    elif value in ("unlink", "unlink+clip"):
        key, value = ("clip" if value == "unlink+clip" else key), None
    # One refusal, one entry (not one per input validate_inputs takes), naming the input, the value and the fix.
    assert len(errors) == 1, errors
    message = errors[0]["details"]
    assert message.startswith(f"{key}={value!r}: {expected}"), message
    assert "Fix: " in message
    assert output_files(comfy_server) == before


@pytest.mark.parametrize("base", sorted(BASES))
def test_the_unchanged_prompts_are_valid(comfy, base: str) -> None:
    """The refusals above come from the one value changed: the same prompts unchanged pass validation."""
    valid, error, outputs, node_errors = comfy.validate(copy.deepcopy(BASES[base]))
    assert valid, (error, node_errors)
    assert outputs == ["9"]
