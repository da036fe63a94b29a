"""BicubicClean and the upscale_4 path inside a real ComfyUI, with the real converted weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hires_studio.bench.cleanup_quality import bicubic_clean, degrade, to_tensor
from hires_studio.bench.photos import load_photos
from hires_studio.core.resize import bicubic
from hires_studio.devtools.quality import psnr

pytestmark = pytest.mark.comfy

SIZE = dict(width=0, height=0, fit="canvas", scale_by=2.0)


def run(comfy, image, cleanup="auto", **size):
    return comfy.node("BicubicClean").execute(image=image, cleanup=cleanup, **{**SIZE, **size})[0]


@pytest.fixture(scope="module")
def damaged():
    """(JPEG-damaged quarter-size photo, the original)."""
    name, photo = load_photos(max_side=256)[0]
    return to_tensor(degrade(photo, 30)), to_tensor(photo)


def test_node_runs_the_measured_composition(comfy, damaged):
    """The quality table (bench/cleanup_quality.py, asserted in tests/unit) is about exactly this output."""
    source, reference = damaged
    out = run(comfy, source.movedim(1, -1), width=reference.shape[-1], height=reference.shape[-2])
    expected, level = bicubic_clean(source, (reference.shape[-2], reference.shape[-1]))
    assert level is not None
    assert torch.allclose(out.movedim(-1, 1), expected, atol=1e-5)
    assert psnr(out.movedim(-1, 1), reference) > psnr(bicubic(source, out.shape[2:0:-1]), reference) + 0.2


def test_cleanup_off_is_plain_bicubic(comfy, damaged):
    source, _ = damaged
    out = run(comfy, source.movedim(1, -1), cleanup="off", width=150)
    assert torch.equal(out.movedim(-1, 1), bicubic(source, (150, out.shape[1])))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (dict(width=1000), (667, 1000)),
        (dict(height=1000), (1000, 1499)),
        (dict(width=300, height=300, fit="canvas"), (300, 300)),
        (dict(width=300, height=300, fit="crop"), (300, 300)),
        (dict(width=300, height=300, fit="bounds"), (200, 300)),
        (dict(width=300, height=300, fit="cover"), (300, 450)),
        (dict(scale_by=0.5), (214, 320)),
    ],
)
def test_exact_sizes(comfy, size, expected):
    image = torch.rand(1, 427, 640, 3)
    assert tuple(run(comfy, image, cleanup="off", **size).shape[1:3]) == expected


def test_odd_images(comfy):
    assert run(comfy, torch.rand(1, 1, 1, 3), cleanup="light", width=5).shape == (1, 5, 5, 3)
    assert run(comfy, torch.rand(1, 2, 400, 3), cleanup="strong", width=1200).shape == (1, 6, 1200, 3)
    rgba = run(comfy, torch.rand(4, 20, 30, 4), width=60, height=60)
    assert rgba.shape == (4, 60, 60, 4) and rgba[:, 0, 0, 3].abs().max() == 0


def test_batch_levels_are_chosen_per_image(comfy, damaged):
    source, _ = damaged
    _, photo = load_photos(max_side=256)[0]
    clean = to_tensor(degrade(photo, None))
    batch = torch.cat([source, clean]).movedim(1, -1)
    out = run(comfy, batch, width=256)
    alone = run(comfy, clean.movedim(1, -1), width=256)
    assert not torch.allclose(out[:1], run(comfy, source.movedim(1, -1), cleanup="off", width=256))
    assert torch.allclose(out[1:], alone, atol=1e-6)  # the clean photo is not cleaned because of its neighbour


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        (dict(fit="stretch", width=10, height=10), "fit='stretch'"),
        (dict(scale_by=0.0), "scale_by=0.0"),
        (dict(width=-4), "width=-4"),
        (dict(width=20000), "width=20000"),
        (dict(cleanup="max"), "cleanup='max'"),
    ],
)
def test_bad_inputs_are_rejected_before_the_run(comfy, inputs, fragment):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 40, "height": 30, "batch_size": 1, "color": 0}},
        "2": {"class_type": "BicubicClean", "inputs": {"image": ["1", 0], "cleanup": "auto", **SIZE, **inputs}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    valid, _, _, node_errors = comfy.validate(prompt)
    assert not valid
    assert fragment in str(node_errors["2"]) and "Fix:" in str(node_errors["2"])


def test_real_esrgan_upscale_4_path(comfy):
    """strength 7: Real-ESRGAN x4plus (real weights) to the exact width, no diffusion."""
    _, photo = load_photos(max_side=256)[0]
    reference = to_tensor(photo)
    small = torch.nn.functional.interpolate(reference, scale_factor=0.25, mode="area")
    model = comfy.node("UpscaleModelLoader").execute("RealESRGAN_x4plus.safetensors")[0]
    assert model.scale == 4
    node = comfy.node("GenerativeUpscale")
    out = node.execute(
        image=small.movedim(1, -1), upscale_model=model, width=256, height=0, fit="canvas", scale_by=2.0,
        upscale_strength=7, seed=0, lora_name="none", lora_strength=1.0, steps=1, cfg=1.0, sampler_name="euler",
        scheduler="normal", denoise_override=0.0, tile_size=0, tile_batch=0, color_fix="none",
    )[0]
    assert out.shape == (1, 256, 256, 3)
    quality = psnr(out.movedim(-1, 1), reference)
    assert np.isfinite(quality) and quality > 20.0
