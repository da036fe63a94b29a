"""HiResGenerate and every adapter type inside a real ComfyUI, on the tiny models through the real loaders."""

from __future__ import annotations

import pytest
import torch

from hires_studio.bench.photos import load_photos
from hires_studio.core.adapter_recipe import frame
from hires_studio.core.edges import canny_edges
from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import ADAPTER, HIRES_GENERATE

pytestmark = pytest.mark.comfy

DEFAULTS = {**HIRES_GENERATE, "width": 0, "height": 0}


@pytest.fixture(scope="module")
def astronaut():
    """A real photo with a face, 256 px (the face test needs a real face)."""
    photo = torch.from_numpy(dict(load_photos())["astronaut"]).float().div(255)[None]
    return torch.nn.functional.interpolate(photo.movedim(-1, 1), size=(256, 256), mode="area").movedim(1, -1)


def generate(comfy, ckpt, **kwargs):
    model, clip, vae = ckpt
    return comfy.node("HiResGenerate").execute(model=model, vae=vae, clip=clip, **{**DEFAULTS, **kwargs})


def adapter(comfy, adapter_type, **kwargs):
    return comfy.node("AdapterSelect").execute(adapter_type=adapter_type, **{**ADAPTER, **kwargs})[0]


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(2048, 1024, (1024, 2048)), (300, 200, (200, 300)), (1000, 0, (1000, 1000)), (0, 700, (700, 700)),
     (3000, 100, (100, 3000)), (1, 1, (1, 1)), (0, 0, (512, 512))],
)
def test_exact_sizes_and_the_native_budget(comfy, ckpt, width, height, expected):
    image, native = generate(comfy, ckpt, width=width, height=height)
    assert tuple(image.shape[1:3]) == expected
    nh, nw = native.shape[1:3]
    if expected[0] * expected[1] <= 512 * 512:  # generated directly (rounded up to 8, then cropped)
        assert (nh, nw) == (-(-expected[0] // 8) * 8, -(-expected[1] // 8) * 8)
    else:  # SD1.5's budget with the target's aspect ratio
        assert nw % 16 == 0 and nh % 16 == 0 and 0.75 * 512 * 512 <= nw * nh <= 1.3 * 512 * 512
        assert abs(nw / nh - expected[1] / expected[0]) / (expected[1] / expected[0]) < 0.1


def test_generative_upscale_reaches_the_size_through_the_diffusion_pass(comfy, ckpt, monkeypatch):
    calls = []
    import comfy.sample as comfy_sample

    real = comfy_sample.sample

    def spy(model, noise, *args, **kwargs):
        calls.append((tuple(noise.shape), kwargs.get("denoise")))
        return real(model, noise, *args, **kwargs)

    monkeypatch.setattr(comfy_sample, "sample", spy)
    image, native = generate(comfy, ckpt, width=800, height=400, generative_upscale=True, upscale_strength=2)
    assert image.shape == (1, 400, 800, 3)
    assert calls[0] == ((1, 4, 46, 90), 1.0)  # generation at 720x368
    assert calls[1] == ((1, 4, 50, 100), 0.5)  # the generative upscale (strength 2 = strong) on 800x400


def test_sample_num_is_the_seed(comfy, ckpt):
    a = generate(comfy, ckpt, width=96, height=64, sample_num=5)[0]
    b = generate(comfy, ckpt, width=96, height=64, sample_num=5)[0]
    c = generate(comfy, ckpt, width=96, height=64, sample_num=6)[0]
    assert torch.equal(a, b) and (a - c).abs().max() > 1e-3


@pytest.mark.parametrize(("adapter_type", "extra"), [("generate_background", {}), ("face", {}),
                                                     ("face", {"face_id": True}), ("inpainting", {})])
def test_kept_pixels_are_identical(comfy, ckpt, astronaut, adapter_type, extra):
    mask = None
    if adapter_type == "inpainting":
        mask = torch.zeros(1, 256, 256)
        mask[:, 40:120, 60:200] = 1
    elif adapter_type == "generate_background":
        mask = torch.zeros(1, 256, 256)
        mask[:, 64:192, 80:176] = 1
    chosen = adapter(comfy, adapter_type, image=astronaut, mask=mask, **extra)
    for size in ((0, 0), (384, 384)):
        image, _ = generate(comfy, ckpt, adapter=chosen, width=size[0], height=size[1])
        side = size[0] or 256
        assert image.shape == (1, side, side, 3)
        expected, _ = frame(astronaut.movedim(-1, 1), (side, side))
        same = (image.movedim(-1, 1) == expected).all(dim=1)
        if adapter_type == "inpainting":
            scale = side / 256
            keep = torch.ones(side, side, dtype=torch.bool)
            keep[round(40 * scale):round(120 * scale), round(60 * scale):round(200 * scale)] = False
            assert same[0][keep].all(), "an unmasked pixel changed"
        assert 0.02 < same.float().mean() < 0.98, "something is kept and something is generated"


def test_face_id_changes_the_kept_region(comfy, ckpt, astronaut):
    kept = []
    for face_id in (False, True):
        image, _ = generate(comfy, ckpt, adapter=adapter(comfy, "face", image=astronaut, face_id=face_id))
        kept.append((image == astronaut).all(dim=-1).sum().item())
    assert kept[1] < kept[0]


def test_edges_reach_the_controlnet_at_the_scale(comfy, ckpt, astronaut, monkeypatch):
    import comfy.sample as comfy_sample

    control_net = comfy.node("ControlNetLoader")().load_controlnet("tiny_controlnet.safetensors")[0]
    seen = []
    real = comfy_sample.sample

    def spy(model, noise, steps, cfg, sampler, scheduler, positive, negative, latent, **kwargs):
        seen.append((positive[0][1].get("control"), kwargs.get("denoise"), latent.abs().sum().item()))
        return real(model, noise, steps, cfg, sampler, scheduler, positive, negative, latent, **kwargs)

    monkeypatch.setattr(comfy_sample, "sample", spy)
    for adapter_type, scale in (("control", 0.3), ("control2", 0.8)):
        chosen = adapter(comfy, adapter_type, image=astronaut, control_net=control_net,
                         controlnet_conditioning_scale=scale)
        image, native = generate(comfy, ckpt, adapter=chosen)
        assert image.shape == (1, 256, 256, 3), "control with no size keeps the input's size"
        control, denoise, start = seen[-1]
        assert control is not None and control.strength == scale
        assert torch.equal(control.cond_hint_original, canny_edges(astronaut.movedim(-1, 1)))
        if adapter_type == "control":
            assert denoise == 0.75 and start > 0  # image to image from the photo
        else:
            assert denoise == 1.0 and start == 0  # from the edges only


@pytest.mark.parametrize(
    ("adapter_type", "inputs", "fragment"),
    [
        ("face", {}, "image=None: adapter_type 'face' needs a connected IMAGE"),
        ("generate_background", {}, "image=None: adapter_type 'generate_background' needs"),
        ("inpainting", {"image": "photo"}, "mask=None: adapter_type 'inpainting' needs a connected MASK"),
        ("control", {"image": "photo"}, "control_net=None: adapter_type 'control' needs a connected CONTROL_NET"),
        ("control2", {"image": "photo"}, "control_net=None"),
        ("upscale", {"face_id": True}, "face_id=True: only applies to adapter_type 'face'"),
    ],
)
def test_adapter_without_what_it_needs(comfy, astronaut, adapter_type, inputs, fragment):
    if inputs.get("image") == "photo":
        inputs = {**inputs, "image": astronaut}
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        adapter(comfy, adapter_type, **inputs)


def test_no_face_found_is_an_error_before_any_sampling(comfy, ckpt, monkeypatch):
    import comfy.sample as comfy_sample

    monkeypatch.setattr(comfy_sample, "sample", lambda *a, **k: pytest.fail("sampling started"))
    chosen = adapter(comfy, "face", image=torch.full((1, 64, 64, 3), 0.5))
    with pytest.raises(ValueError, match="no face was found"):
        generate(comfy, ckpt, adapter=chosen)


def test_adapter_mask_of_the_wrong_size(comfy, astronaut):
    with pytest.raises(ValueError, match=r"mask='10x10': the mask must be the image's size \(256x256\)"):
        adapter(comfy, "inpainting", image=astronaut, mask=torch.ones(1, 10, 10))


def test_quality_suffix_and_ready_conditioning(comfy, ckpt):
    model, clip, vae = ckpt
    on = adapter(comfy, "upscale", description="a cottage")
    off = adapter(comfy, "upscale", description="a cottage", add_quality_suffix=False)
    assert on.prompt == "a cottage, high quality, highly detailed, 8K" and off.prompt == "a cottage"
    ready = comfy.node("CLIPTextEncode")().encode(clip, "ready")[0]
    chosen = adapter(comfy, "upscale", description="ignored", clip=clip, positive=ready)
    # AdapterSelect keeps its CLIP: the consumer encodes the rest, after its own checks pass.
    assert chosen.positive is ready and chosen.clip is clip and not chosen.needs_clip
    conditioning = pack_module(comfy, "runtime.conditioning")
    positive, negative = conditioning.adapter_conditioning(chosen, None, "HiResGenerate")
    assert positive is ready and negative is not None


@pytest.mark.parametrize("phase", ["generation", "upscale"])
def test_cancel_in_each_phase_then_the_next_prompt_runs(comfy, monkeypatch, phase):
    import comfy.model_management as mm


    if phase == "generation":
        module = pack_module(comfy, "runtime.native_generation")
        real = module._progress

        def interrupting(*args):
            callback = real(*args)

            def wrapped(step, *args):
                if step == 1:
                    mm.interrupt_current_processing(True)
                callback(step, *args)

            return wrapped

        monkeypatch.setattr(module, "_progress", interrupting)
    else:
        module = pack_module(comfy, "runtime.tiled_diffusion")
        real_after = module.EvaluationProgress.after_call

        def after(self):
            mm.interrupt_current_processing(True)
            real_after(self)

        monkeypatch.setattr(module.EvaluationProgress, "after_call", after)
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sd15.safetensors"}},
        "2": {"class_type": "HiResGenerate", "inputs": {
            **DEFAULTS, "width": 800, "height": 400, "generative_upscale": True, "upscale_strength": 2, "steps": 4,
            "tile_batch": 1, "model": ["1", 0], "vae": ["1", 2], "clip": ["1", 1]}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    run = comfy.run(prompt)
    assert not run.success and any(kind == "execution_interrupted" for kind, _ in run.messages)
    monkeypatch.undo()
    small = {**prompt, "2": {**prompt["2"], "inputs": {**prompt["2"]["inputs"], "width": 64, "height": 64}}}
    assert comfy.run(small).success
