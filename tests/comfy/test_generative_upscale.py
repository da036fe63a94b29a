"""GenerativeUpscale inside a real ComfyUI, on the tiny random-weight models through the real loaders."""

from __future__ import annotations

import pytest
import torch

from hires_studio.core.edges import canny_edges
from hires_studio.core.resize import bicubic
from hires_studio.core.sizing import plan_size
from hires_studio.core.tiling import diffusion_grid
from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE, upscale_prompt

pytestmark = pytest.mark.comfy

DEFAULTS = GENERATIVE_UPSCALE


def photo(h=75, w=101, b=1, seed=0):
    """A smooth, photo-like test image (random low-frequency colour field)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(b, 3, 5, 7, generator=g)
    return bicubic(low, (w, h)).movedim(1, -1).contiguous()


def upscale(comfy, ckpt, image, **kwargs):
    model, clip, vae = ckpt
    args = {**DEFAULTS, "model": model, "vae": vae, "clip": clip, **kwargs}
    return comfy.node("GenerativeUpscale").execute(image=image, **args)[0]


def local_model(model, seed=0):
    """The UNet replaced by a 3x3 convolution through ComfyUI's model wrapper: a model that sees locally."""
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(seed)) * 0.1)
        conv.bias.zero_()
    patched = model.clone()
    patched.set_model_unet_function_wrapper(lambda apply_model, args: conv(args["input"]))
    return patched


@pytest.mark.parametrize(("h", "w", "batch"), [(75, 101, 0), (75, 101, 1), (61, 130, 3), (128, 128, 2)])
def test_tiled_equals_untiled_for_a_model_that_sees_locally(comfy, ckpt, h, w, batch):
    model, clip, vae = ckpt
    image = photo(h, w)
    args = dict(scale_by=2.5, steps=3, color_fix="none", tile_batch=batch)
    local = local_model(model)
    tiled = upscale(comfy, (local, clip, vae), image, tile_size=128, **args)
    untiled = upscale(comfy, (local, clip, vae), image, tile_size=4096, **args)
    plan = plan_size(w, h, 0, 0, scale_by=2.5)
    assert tiled.shape == untiled.shape == (1, plan.canvas[1], plan.canvas[0], 3)
    grid = diffusion_grid(-(-plan.canvas[1] // 8), -(-plan.canvas[0] // 8), 16)
    assert len(grid.tiles) > 1, "the test must actually tile"
    assert torch.allclose(tiled, untiled, atol=1e-4), (tiled - untiled).abs().max()


def test_no_tile_boundary_shows(comfy, ckpt):
    image = photo(96, 96)
    out = upscale(comfy, ckpt, image, scale_by=3.0, steps=3, upscale_strength=2, color_fix="none")[0]
    grid = diffusion_grid(36, 36, 16)
    assert len(grid.tiles) >= 4
    gx = (out[:, 1:] - out[:, :-1]).abs().mean(dim=(0, 2))  # energy of each vertical line
    gy = (out[1:] - out[:-1]).abs().mean(dim=(1, 2))
    edges_x = sorted({c * 8 - 1 for c in grid.cols[1:]} | {(c + grid.tile_w) * 8 - 1 for c in grid.cols[:-1]})
    edges_y = sorted({r * 8 - 1 for r in grid.rows[1:]} | {(r + grid.tile_h) * 8 - 1 for r in grid.rows[:-1]})
    ratio_x = gx[edges_x].mean() / gx.mean()
    ratio_y = gy[edges_y].mean() / gy.mean()
    assert ratio_x < 1.3 and ratio_y < 1.3, (ratio_x, ratio_y)


@pytest.mark.parametrize(("strength", "scale"), [(1, 1.0), (2, 1.0), (3, 1.0), (4, 0.5), (5, 0.5), (6, 0.5)])
def test_lora_scale_follows_the_table(comfy, ckpt, monkeypatch, strength, scale):
    import comfy.sd as comfy_sd

    seen = []
    real = comfy_sd.load_lora_for_models

    def spy(model, clip, lora, strength_model, strength_clip):
        seen.append(strength_model)
        return real(model, clip, lora, strength_model, strength_clip)

    monkeypatch.setattr(comfy_sd, "load_lora_for_models", spy)
    upscale_model = comfy.node("UpscaleModelLoader").execute("tiny_rrdb.safetensors")[0]
    upscale(comfy, ckpt, photo(32, 40), upscale_strength=strength, lora_name="tiny_lora.safetensors",
            lora_strength=0.8, steps=1, upscale_model=upscale_model)
    assert seen == [pytest.approx(scale * 0.8)]


def test_lora_changes_the_image(comfy, ckpt):
    image = photo(40, 40)
    plain = upscale(comfy, ckpt, image, upscale_strength=2)
    with_lora = upscale(comfy, ckpt, image, upscale_strength=2, lora_name="tiny_lora.safetensors")
    assert (plain - with_lora).abs().max() > 1e-3


@pytest.mark.parametrize("strength", [7, 8, 9])
def test_strengths_7_to_9_never_call_the_sampler(comfy, monkeypatch, strength):
    import comfy.sample as comfy_sample

    def no_sampling(*args, **kwargs):
        raise AssertionError("the sampler ran")

    monkeypatch.setattr(comfy_sample, "sample", no_sampling)
    upscale_model = comfy.node("UpscaleModelLoader").execute("tiny_compact.safetensors")[0]
    out = comfy.node("GenerativeUpscale").execute(
        image=photo(30, 50), **{**DEFAULTS, "upscale_strength": strength, "width": 123},
        upscale_model=upscale_model,
    )[0]
    assert out.shape == (1, 74, 123, 3)


def test_strength_7_workflow_does_not_load_the_checkpoint(comfy):
    prompt = upscale_prompt((40, 30), batch_size=2, width=150, upscale_strength=7, upscale_model=["3", 0])
    prompt["3"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "tiny_rrdb.safetensors"}}
    run = comfy.run(prompt)
    assert run.success
    assert run.output("4").shape == (2, 113, 150, 3)
    assert run.executor.caches.outputs.get("2") is None, "the checkpoint was loaded although no diffusion runs"


def test_same_seed_same_image_other_seed_other_image(comfy, ckpt):
    image = photo(40, 56)
    a = upscale(comfy, ckpt, image, seed=11)
    b = upscale(comfy, ckpt, image, seed=11)
    c = upscale(comfy, ckpt, image, seed=12)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_odd_images_batch_alpha_and_1x1(comfy, ckpt):
    rgba = torch.cat([photo(33, 47, b=3), torch.rand(3, 33, 47, 1)], dim=-1)
    out = upscale(comfy, ckpt, rgba, width=100, height=100, fit="canvas")
    assert out.shape == (3, 100, 100, 4)
    assert out[:, 0, 0, 3].abs().max() == 0  # the canvas padding is transparent
    one = upscale(comfy, ckpt, photo(1, 1), width=9)
    assert one.shape == (1, 9, 9, 3)
    thin = upscale(comfy, ckpt, photo(2, 300), width=900)
    assert thin.shape == (1, 6, 900, 3)


def test_each_controlnet_tile_gets_its_own_crop_of_the_hint(comfy, ckpt, monkeypatch):
    model, clip, vae = ckpt
    control_net = comfy.node("ControlNetLoader")().load_controlnet("tiny_controlnet.safetensors")[0]
    hints = []
    forward = control_net.control_model.forward

    def spy(x, hint, *args, **kwargs):
        hints.append(hint.detach().clone())
        return forward(x, hint, *args, **kwargs)

    monkeypatch.setattr(control_net.control_model, "forward", spy)
    adapter = comfy.node("AdapterSelect").execute(
        adapter_type="control", description="a house", add_quality_suffix=True, negative_prompt="",
        controlnet_conditioning_scale=0.5, face_id=False, clip=clip, control_net=control_net,
    )[0]
    image = photo(48, 64)
    out = upscale(comfy, ckpt, image, adapter=adapter, scale_by=3.0, steps=1, tile_batch=1)
    assert out.shape == (1, 144, 192, 3)

    # The hint as the pipeline makes it: Canny edges of the padded bicubic base image.
    base = bicubic(image.movedim(-1, 1), (192, 144))
    edges = canny_edges(base)  # 192x144 is already a multiple of 8: no padding
    grid = diffusion_grid(18, 24, 16)
    n = len(grid.tiles)
    # one model call per tile (tile_batch 1) for each of the cond and uncond batches
    assert n >= 2 and len(hints) in (n, 2 * n)
    for index, hint in enumerate(hints):
        tile = grid.tiles[index % n]
        assert hint.shape[-2:] == (tile.h * 8, tile.w * 8), "a tile saw a hint that is not its own size"
        expected = edges[..., tile.y * 8:(tile.y + tile.h) * 8, tile.x * 8:(tile.x + tile.w) * 8]
        assert torch.allclose(hint[0].float(), expected[0], atol=1e-3)


def test_cond_and_uncond_share_each_tile_call_when_only_a_tile_batch_fits(comfy, ckpt, monkeypatch):
    """ComfyUI runs cond and uncond in one call only when its estimate fits in free memory; the pass must hand
    it the tile batch's shape, not the canvas's, or a large canvas costs twice the model calls."""
    import comfy.model_management as mm

    model, clip, vae = ckpt
    seen = []

    def record(apply_model, args):
        seen.append(sorted(args["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    recorded = model.clone()
    recorded.set_model_unet_function_wrapper(record)
    grid = diffusion_grid(24, 32, 16)  # 48x64 -> 192x256 px canvas, 128 px tiles
    tile_need = model.model.memory_required([2, 4, grid.tile_h, grid.tile_w])
    canvas_need = model.model.memory_required([2, 4, 24, 32])
    free = tile_need * 1.5 * 1.01
    assert free < canvas_need * 1.5, "the canvas must not fit, or the test proves nothing"
    monkeypatch.setattr(mm, "get_free_memory",
                        lambda dev=None, torch_free_too=False: (free, free) if torch_free_too else free)
    out = upscale(comfy, (recorded, clip, vae), photo(48, 64), scale_by=4.0, steps=2, tile_batch=1)
    assert out.shape == (1, 192, 256, 3)
    assert len(grid.tiles) >= 4
    assert seen == [[0, 1]] * (2 * len(grid.tiles)), "cond and uncond ran apart"


def test_cancel_stops_the_pass_and_the_next_prompt_runs(comfy, ckpt, monkeypatch):
    import comfy.model_management as mm

    calls = []
    generative = pack_module(comfy, "runtime.tiled_diffusion")
    real_after = generative.EvaluationProgress.after_call

    def interrupt_after_two(self):
        calls.append(1)
        if len(calls) == 2:
            mm.interrupt_current_processing(True)
        real_after(self)

    monkeypatch.setattr(generative.EvaluationProgress, "after_call", interrupt_after_two)
    prompt = upscale_prompt((64, 48), scale_by=4.0, steps=20, tile_batch=1)
    run = comfy.run(prompt)
    assert not run.success
    assert any(kind == "execution_interrupted" for kind, _ in run.messages)
    assert len(calls) == 2, "the pass went on after the interrupt"
    monkeypatch.undo()
    small = {**prompt, "4": {**prompt["4"], "inputs": {**prompt["4"]["inputs"], "steps": 1, "scale_by": 1.5}}}
    assert comfy.run(small).success


def test_errors_come_before_any_model_work(comfy, ckpt, monkeypatch):
    import comfy.sample as comfy_sample

    monkeypatch.setattr(comfy_sample, "sample", lambda *a, **k: pytest.fail("sampling started"))
    node = comfy.node("GenerativeUpscale")
    model, clip, vae = ckpt
    base = {**DEFAULTS, "model": model, "vae": vae, "clip": clip}
    with pytest.raises(ValueError, match=r"upscale_model=None: upscale_strength 4 takes the upscale_4 .*Fix:"):
        node.execute(image=photo(), **{**base, "upscale_strength": 4})
    face = comfy.node("AdapterSelect").execute(
        adapter_type="face", description="", add_quality_suffix=True, negative_prompt="",
        controlnet_conditioning_scale=0.5, face_id=False, image=photo())[0]
    with pytest.raises(ValueError, match=r"adapter='face': GenerativeUpscale cannot use adapter_type 'face'"):
        node.execute(image=photo(), adapter=face, **base)
    with pytest.raises(ValueError, match=r"width=20000: Image cannot be upscaled above 16384 x 16384"):
        node.execute(image=photo(), **{**base, "width": 20000})
    with pytest.raises(ValueError, match=r"mask='10x10': the mask must be the image's size \(101x75\)"):
        node.execute(image=photo(), mask=torch.ones(1, 10, 10), **base)
    with pytest.raises(ValueError, match=r"model=None: upscale_strength 5 runs a diffusion pass"):
        node.execute(image=photo(), **{**base, "model": None})
    with pytest.raises(ValueError, match=r"clip=None: GenerativeUpscale needs a prompt"):
        node.execute(image=photo(), **{**base, "clip": None})


def test_validation_rejects_bad_widgets_before_the_run(comfy):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 40, "height": 30, "batch_size": 1, "color": 0}},
        "4": {"class_type": "GenerativeUpscale", "inputs": {**DEFAULTS, "image": ["1", 0], "upscale_strength": 0}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
    valid, _, _, node_errors = comfy.validate(prompt)
    assert not valid
    message = str(node_errors["4"])
    assert "upscale_strength=0" in message and "Fix:" in message
    prompt["4"]["inputs"].update(upscale_strength=5, width=17000)
    valid, _, _, node_errors = comfy.validate(prompt)
    assert not valid and "width=17000" in str(node_errors["4"])
