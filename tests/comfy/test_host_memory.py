"""Out of memory and memory estimates against both ComfyUI behaviours (host.py, docs/comfyui-versions.md):
0.38's `is_oom` counting a `torch.AcceleratorError`, the old OOM_EXCEPTION check without it, the tile batch and
then the tile halved on either; the patcher's free memory and the model's own estimate, 0.38's padded dynamic
patcher.
"""

from __future__ import annotations

import pytest
import torch

from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE

pytestmark = pytest.mark.comfy

GIB = 1024**3
PIXEL_COST = 64 * 1024


def is_oom_as_in_0_38(mm):
    """0.38's `model_management.is_oom`: OOM_EXCEPTION, or an AcceleratorError with error code 2 or whose message
    says out of memory."""

    def is_oom(e):
        if isinstance(e, mm.OOM_EXCEPTION):
            return True
        return isinstance(e, torch.AcceleratorError) and (
            getattr(e, "error_code", None) == 2 or "out of memory" in str(e).lower())

    return is_oom


def test_is_oom_asks_comfyui_where_it_can_and_checks_the_old_exception_where_not(host, monkeypatch):
    import comfy.model_management as mm

    accelerator = torch.AcceleratorError("CUDA error: out of memory")
    other = torch.AcceleratorError("CUDA error: an illegal memory access was encountered")
    monkeypatch.delattr(mm, "is_oom", raising=False)  # 0.3.75 has none
    assert host.is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert not host.is_oom(accelerator), "0.3.75 counts only OOM_EXCEPTION"
    assert not host.is_oom(RuntimeError("boom"))

    monkeypatch.setattr(mm, "is_oom", is_oom_as_in_0_38(mm), raising=False)
    assert host.is_oom(accelerator) and host.is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert not host.is_oom(other) and not host.is_oom(RuntimeError("boom"))


def test_the_tile_runners_halve_the_tile_on_what_is_oom_says(comfy, monkeypatch):
    """The upscale model and the cleanup pass share halve_tile_on_oom: 0.38's out-of-memory AcceleratorError
    halves the tile; any other error is raised at once; at the floor, ComfyUI's OOM error says what to lower."""
    import comfy.model_management as mm

    memory = pack_module(comfy, "runtime.memory")
    monkeypatch.setattr(mm, "is_oom", is_oom_as_in_0_38(mm), raising=False)
    tiles = []

    def run(tile):
        tiles.append(tile)
        if tile > 64:
            raise torch.AcceleratorError("CUDA error: out of memory")
        return tile

    assert memory.halve_tile_on_oom(run, 256, 32, "the upscale model") == 64
    assert tiles == [256, 128, 64]

    def broken(tile):
        tiles.append(tile)
        raise torch.AcceleratorError("CUDA error: misaligned address")

    tiles.clear()
    with pytest.raises(torch.AcceleratorError, match="misaligned"):
        memory.halve_tile_on_oom(broken, 256, 32, "the upscale model")
    assert tiles == [256]

    with pytest.raises(mm.OOM_EXCEPTION, match=r"^Out of memory in the cleanup pass, even with the smallest tile "
                                                 r"\(32 px\)\. Fix: lower the input image's size"):
        memory.halve_tile_on_oom(lambda tile: run(1000), 64, 32, "the cleanup pass", lower="the input image's size")


def failing_model(model, fail):
    """The model with a wrapper that raises `fail(tiles_per_call, tile_side)` or runs the model; records each call."""
    calls = []

    def wrapper(apply_model, args):
        x = args["input"]
        tiles = x.shape[0] // len(args["cond_or_uncond"])
        calls.append((tiles, x.shape[-1]))
        error = fail(tiles, x.shape[-1])
        if error is not None:
            raise error
        return apply_model(x, args["timestep"], **args["c"])

    patched = model.clone()
    patched.set_model_unet_function_wrapper(wrapper)
    return patched, calls


def test_an_accelerator_error_that_is_oom_halves_the_tile_batch_then_the_tile(comfy, ckpt, monkeypatch):
    import comfy.model_management as mm

    model, clip, vae = ckpt
    monkeypatch.setattr(mm, "is_oom", is_oom_as_in_0_38(mm), raising=False)

    def out_of_memory(tiles, side):
        if tiles > 1 or side > 20:
            return torch.AcceleratorError("CUDA error: out of memory")
        return None

    failing, calls = failing_model(model, out_of_memory)
    image = torch.rand(1, 48, 48, 3)
    out = comfy.node("GenerativeUpscale").execute(
        image=image, model=failing, vae=vae, clip=clip,
        **{**GENERATIVE_UPSCALE, "scale_by": 8.0, "steps": 1, "tile_size": 256, "tile_batch": 4})[0]
    assert out.shape == (1, 384, 384, 3)
    # 256 px tiles: 4 tiles of 26 latent px over the 48 px latent canvas, 4 per call -> 2 -> 1 (still too
    # large) -> 128 px tiles: 9 tiles of 18, 4 per call -> 2 -> 1, which runs.
    assert calls[:6] == [(4, 26), (2, 26), (1, 26), (4, 18), (2, 18), (1, 18)], calls[:8]
    assert len(calls) == 5 + 9 and all(call == (1, 18) for call in calls[5:]), "5 out of memory, then 9 tiles"


def test_an_error_that_is_not_oom_fails_at_once(comfy, ckpt, monkeypatch):
    import comfy.model_management as mm

    model, clip, vae = ckpt
    monkeypatch.setattr(mm, "is_oom", is_oom_as_in_0_38(mm), raising=False)
    failing, calls = failing_model(
        model, lambda tiles, side: torch.AcceleratorError("CUDA error: an illegal memory access was encountered"))
    with pytest.raises(torch.AcceleratorError, match="illegal memory access"):
        comfy.node("GenerativeUpscale").execute(
            image=torch.rand(1, 48, 48, 3), model=failing, vae=vae, clip=clip,
            **{**GENERATIVE_UPSCALE, "scale_by": 8.0, "steps": 1, "tile_size": 256, "tile_batch": 4})
    assert calls == [(4, 26)], "an error that is not out of memory is not retried"


def test_without_is_oom_the_old_exception_still_halves(comfy, ckpt, monkeypatch):
    import comfy.model_management as mm

    model, clip, vae = ckpt
    monkeypatch.delattr(mm, "is_oom", raising=False)

    def out_of_memory(tiles, side):
        return torch.OutOfMemoryError("CUDA out of memory (simulated)") if tiles > 1 else None

    failing, calls = failing_model(model, out_of_memory)
    comfy.node("GenerativeUpscale").execute(
        image=torch.rand(1, 48, 48, 3), model=failing, vae=vae, clip=clip,
        **{**GENERATIVE_UPSCALE, "scale_by": 8.0, "steps": 1, "tile_size": 256, "tile_batch": 4})
    assert calls[:4] == [(4, 26), (2, 26), (1, 26), (1, 26)]


class FakeModel:
    """A BaseModel's memory estimate: 64 KiB per latent pixel and sample."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    def memory_required(self, input_shape, cond_shapes=None, **kwargs):
        self.asked.append((list(input_shape), cond_shapes, kwargs))
        return input_shape[0] * input_shape[-2] * input_shape[-1] * PIXEL_COST


class OldPatcher:
    """0.3.75's ModelPatcher: memory_required is the model's; no get_free_memory."""

    def __init__(self) -> None:
        self.model = FakeModel()

    def memory_required(self, input_shape):
        return self.model.memory_required(input_shape)


class DynamicPatcher(OldPatcher):
    """0.38's ModelPatcherDynamic: memory_required padded to x1.3 + 1 GiB; get_free_memory adds what it can
    offload."""

    def memory_required(self, input_shape):
        return super().memory_required(input_shape) * 1.3 + GIB

    def get_free_memory(self, device):
        return 12 * GIB


def on_a_gpu(monkeypatch, module_free: float) -> None:
    import comfy.model_management as mm

    monkeypatch.setattr(mm, "get_torch_device", lambda: torch.device("cuda", 0))
    monkeypatch.setattr(mm, "get_free_memory", lambda dev=None, torch_free_too=False: module_free)


def test_free_memory_is_the_patchers_where_it_offers_it(host, monkeypatch):
    on_a_gpu(monkeypatch, module_free=2 * GIB)
    device = torch.device("cuda", 0)
    assert host.free_memory(DynamicPatcher(), device) == 12 * GIB
    assert host.free_memory(OldPatcher(), device) == 2 * GIB


def test_model_memory_required_is_the_models_own_estimate_on_both_patchers(host):
    for patcher in (OldPatcher(), DynamicPatcher()):
        assert host.model_memory_required(patcher, [2, 4, 64, 64]) == 2 * 64 * 64 * PIXEL_COST


def test_auto_batch_size_uses_the_models_estimate_and_the_patchers_free_memory(td, monkeypatch):
    on_a_gpu(monkeypatch, module_free=2 * GIB)
    per_tile = 2 * 64 * 64 * PIXEL_COST  # cond and uncond of one 64 x 64 latent tile: 512 MiB
    padded = per_tile * 1.3 + GIB
    assert td.auto_batch_size(DynamicPatcher(), [4, 64, 64], tiles=100) == int(12 * GIB * 0.7 // per_tile) == 16
    assert int(12 * GIB * 0.7 // padded) == 5, "what the padded estimate would have given"
    assert td.auto_batch_size(OldPatcher(), [4, 64, 64], tiles=100) == int(2 * GIB * 0.7 // per_tile) == 2
    assert td.auto_batch_size(DynamicPatcher(), [4, 64, 64], tiles=3) == 3, "never more than all tiles"
    dynamic = DynamicPatcher()
    td.auto_batch_size(dynamic, [4, 64, 64], tiles=100)
    assert dynamic.model.asked == [([2, 4, 64, 64], None, {})], "the padded patcher estimate is not asked"


def test_the_tile_sized_estimate_takes_what_newer_samplers_pass(td):
    model = FakeModel()
    estimate = td.TileSizedEstimate(model, batch_size=3, tile_h=16, tile_w=24)
    cond_shapes = {"c_crossattn": [torch.Size([2, 77, 768])]}
    assert estimate.memory_required([2, 4, 100, 200], cond_shapes=cond_shapes) == 6 * 16 * 24 * PIXEL_COST
    assert estimate.memory_required([2, 4, 100, 200], cond_shapes=cond_shapes, future_option=True) > 0
    assert estimate.memory_required([2, 4, 100, 200]) > 0
    assert model.asked == [([6, 4, 16, 24], cond_shapes, {}), ([6, 4, 16, 24], cond_shapes, {"future_option": True}),
                           ([6, 4, 16, 24], {}, {})]


