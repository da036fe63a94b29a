"""The request plan inside a real ComfyUI: deep-image's resize fields on the nodes (fill colour, outpaint,
crop focus, padding), HiResGenerate's num_images, and image-dependent checks before any model loads."""

from __future__ import annotations

import pytest
import torch

from hires_studio.core.resize import bicubic
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE, HIRES_GENERATE, upscale_prompt

pytestmark = pytest.mark.comfy

UPSCALE = {**GENERATIVE_UPSCALE, "upscale_strength": 8}
GENERATE = {**HIRES_GENERATE, "width": 96}


def photo(h=40, w=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    return bicubic(torch.rand(1, 3, 4, 6, generator=g), (w, h)).movedim(1, -1).contiguous()


def upscale(comfy, ckpt, image, **kwargs):
    model, clip, vae = ckpt
    return comfy.node("GenerativeUpscale").execute(image=image, model=model, vae=vae, clip=clip,
                                                   **{**UPSCALE, **kwargs})[0]


def test_canvas_gap_takes_the_fill_colour(comfy):
    out = comfy.node("BicubicClean").execute(image=photo(), width=120, height=120, fit="canvas", scale_by=2.0,
                                             cleanup="off", fill_color="#ff8000")[0]
    assert out.shape == (1, 120, 120, 3)
    gap = out[0, :5]  # 60x40 -> 120x80 centred: rows 0..19 are the gap
    assert torch.equal(gap, torch.tensor([1.0, 128 / 255, 0.0]).expand_as(gap))


@pytest.mark.parametrize("strength", [8, 5])
def test_outpaint_keeps_the_image_bit_exact_and_generates_the_gap(comfy, ckpt, strength):
    image = photo()
    out = upscale(comfy, ckpt, image, width=120, height=120, canvas_fill="outpaint", upscale_strength=strength)
    alone = upscale(comfy, ckpt, image, width=120, height=80, upscale_strength=strength)
    assert out.shape == (1, 120, 120, 3)
    assert torch.equal(out[:, 20:100], alone), "the image's own pixels are bit-identical"
    gap = torch.cat([out[:, :20], out[:, 100:]], dim=1)
    assert not torch.allclose(gap, torch.full_like(gap, 0.5), atol=0.02), "the gap was generated"
    assert gap.std() > 0.01


def test_outpaint_loads_the_model_and_needs_one(comfy, ckpt):
    with pytest.raises(ValueError, match=r"^model=None: canvas_fill 'outpaint' generates the gap"):
        comfy.node("GenerativeUpscale").execute(image=photo(), **{**UPSCALE, "width": 120, "height": 120},
                                                canvas_fill="outpaint")
    node = comfy.node("GenerativeUpscale")
    wanted = node.check_lazy_status(image=photo(), **{**UPSCALE, "width": 120, "height": 120}, canvas_fill="outpaint",
                                    model=None, vae=None, clip=None)
    assert wanted == ["model", "vae", "clip"]
    assert node.check_lazy_status(image=photo(), **UPSCALE, model=None, vae=None, clip=None) == []


def test_padding_and_crop_focus_on_the_node(comfy):
    scene = torch.full((1, 100, 200, 3), 0.85)
    scene[:, 30:70, 140:180] = torch.tensor([0.1, 0.2, 0.7])  # inside GrabCut's start box
    node = comfy.node("BicubicClean")
    cropped = node.execute(image=scene, width=100, height=100, fit="crop", scale_by=2.0, cleanup="off",
                           crop_focus="item")[0]
    assert cropped.shape == (1, 100, 100, 3)
    assert (cropped[0, 50, :, 0] < 0.3).sum() == 40, "the object is in the window, whole"
    centred = node.execute(image=scene, width=100, height=100, fit="crop", scale_by=2.0, cleanup="off")[0]
    assert (centred[0, 50, :, 0] < 0.3).sum() == 10, "the centre window cuts it"
    padded = node.execute(image=scene, width=240, height=140, fit="canvas", scale_by=2.0, cleanup="off",
                          padding="20", fill_color="#ffffff")[0]
    assert padded.shape == (1, 140, 240, 3)
    assert torch.equal(padded[0, :20], torch.ones(20, 240, 3)) and torch.equal(padded[0, :, :20],
                                                                               torch.ones(140, 20, 3))


def test_num_images_is_a_batch_with_one_seed_each(comfy, ckpt):
    model, clip, vae = ckpt
    node = comfy.node("HiResGenerate")
    batch, natives = node.execute(model=model, vae=vae, clip=clip, **GENERATE, num_images=3)
    assert batch.shape == (3, 64, 96, 3) and natives.shape[0] == 3
    second = node.execute(model=model, vae=vae, clip=clip, **{**GENERATE, "sample_num": 4})[0]
    assert torch.equal(batch[1:2], second), "image 1 is sample_num + 1"
    assert not torch.equal(batch[0], batch[1])


def test_num_images_out_of_range_is_refused_before_the_run(comfy):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sd15.safetensors"}},
        "2": {"class_type": "HiResGenerate", "inputs": {**GENERATE, "model": ["1", 0], "vae": ["1", 2],
                                                        "clip": ["1", 1], "num_images": 9}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    valid, _, _, node_errors = comfy.validate(prompt)
    assert not valid
    assert "num_images=9: must be from 1 to 8" in str(node_errors["2"])


def test_an_image_dependent_size_error_comes_before_the_checkpoint_loads(comfy):
    """scale_by 20 passes /prompt (it depends on the image); on a 1024 x 768 image it is refused on the real
    image, naming scale_by, before the lazily connected checkpoint is loaded."""
    prompt = upscale_prompt((1024, 768), upscale_strength=5, scale_by=20.0)
    run = comfy.run(prompt)
    assert not run.success
    error = run.error()
    assert error["node_type"] == "GenerativeUpscale"
    assert error["exception_message"].startswith(
        "scale_by=20.0: this 1024x768 image would become 20480x15360, above the 16384 x 16384 pixels limit."), error
    assert run.executor.caches.outputs.get("2") is None, "the checkpoint was loaded before the size was checked"
