"""The pack against both ComfyUI behaviours of every version-dependent call (host.py): the
behaviour of this host (ComfyUI 0.3.75) as it is, the newer one (0.38) through fakes built as its source reads.

- per-tile ControlNet and T2I-adapter hints with doubles that cache what they prepare by the latent's size, as
  0.38's `comfy/controlnet.py` does (3 x 3 tiles: each tile batch must get its own crop);
- out of memory: 0.38's `is_oom` counting a `torch.AcceleratorError`, the old OOM_EXCEPTION check without it;
- memory estimates: the patcher's free memory and the model's own estimate, 0.38's padded dynamic patcher;
- node replacements on the REST submit path; history entries with asset ids.
"""

from __future__ import annotations

import types

import pytest
import torch

from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE

pytestmark = pytest.mark.comfy

GIB = 1024**3
PIXEL_COST = 64 * 1024


@pytest.fixture
def td(comfy):
    return pack_module(comfy, "runtime.tiled_diffusion")


@pytest.fixture
def host(comfy):
    return pack_module(comfy, "host")


@pytest.fixture(scope="module")
def ckpt(comfy):
    return comfy.node("CheckpointLoaderSimple")().load_checkpoint("tiny_sd15.safetensors")[:3]


# --- per-tile ControlNet / T2I-adapter hints ------------------------------------------------------------------


class Record:
    """What the control doubles saw: per get_control, the double, the hint it used and its timestep range."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, torch.Tensor, tuple | None]] = []
        self.cleanups = 0


def _shape_caching_control():
    """A double of 0.38's ControlNet over this host's real ControlBase: the prepared hint is kept in `cond_hints`
    by the latent's (height, width), two entries at most, cleared only by set_cond_hint and cleanup."""
    import comfy.controlnet
    import comfy.utils

    class ShapeCachingControl(comfy.controlnet.ControlBase):
        def __init__(self, record: Record) -> None:
            super().__init__()
            self.record = record
            self.cond_hints: dict = {}
            self.control_inputs: dict = {}

        def set_cond_hint(self, *args, **kwargs):
            out = super().set_cond_hint(*args, **kwargs)
            self.cond_hints.clear()
            self.control_inputs.clear()
            return out

        def cleanup(self) -> None:
            super().cleanup()
            self.cond_hints.clear()
            self.control_inputs.clear()
            self.record.cleanups += 1

        def prepared_hint(self, x: torch.Tensor) -> torch.Tensor:
            key = (x.shape[2], x.shape[3])
            hint = self.cond_hints.get(key)
            if hint is None:
                hint = comfy.utils.common_upscale(self.cond_hint_original, x.shape[3] * self.compression_ratio,
                                                  x.shape[2] * self.compression_ratio, self.upscale_algorithm,
                                                  "center")
                while len(self.cond_hints) >= 2:
                    self.cond_hints.pop(next(iter(self.cond_hints)))
                self.cond_hints[key] = hint
            return hint

        def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
            previous = None
            if self.previous_controlnet is not None:
                previous = self.previous_controlnet.get_control(x_noisy, t, cond, batched_number,
                                                                transformer_options)
            hint = self.used_hint(x_noisy, batched_number)
            self.record.calls.append((self, hint, self.timestep_range))
            return self.control_merge({"middle": [torch.zeros(1)]}, previous, None)

        def used_hint(self, x: torch.Tensor, batched_number: int) -> torch.Tensor:
            return self.prepared_hint(x)

        def copy(self):
            c = type(self)(self.record)
            self.copy_to(c)
            return c

    return ShapeCachingControl


def shape_caching_doubles():
    """Doubles of 0.38's ControlNet and T2IAdapter over this host's real ControlBase (copy_to, set_cond_hint,
    pre_run are ComfyUI's): the prepared hint is kept in `cond_hints` by the latent's (height, width), two
    entries at most, and (T2I) the adapter's output in `control_inputs` by shape, batch and dtype; both are
    cleared only by set_cond_hint and cleanup."""
    ShapeCachingControl = _shape_caching_control()

    class ShapeCachingT2IAdapter(ShapeCachingControl):
        def used_hint(self, x: torch.Tensor, batched_number: int) -> torch.Tensor:
            key = (x.shape[2], x.shape[3], x.shape[0], batched_number, x.dtype)
            features = self.control_inputs.get(key)
            if features is None:
                features = self.prepared_hint(x).clone()  # stands in for the adapter's output
                while len(self.control_inputs) >= 2:
                    self.control_inputs.pop(next(iter(self.control_inputs)))
                self.control_inputs[key] = features
            return features

    return ShapeCachingControl, ShapeCachingT2IAdapter


CANVAS = 40
"""Latent side of the test canvas: 16-px tiles overlapping by 4 make a 3 x 3 grid."""


def run_tiled_controls(td, controls: list, batch_size: int) -> tuple:
    """One model evaluation of a 3 x 3 tile canvas (cond and uncond batched) with `controls` chained, as the
    sampler drives it: wrap the conditioning, pre_run, get_control on the canvas, the tiled model call."""
    head = controls[0]
    for a, b in zip(controls, controls[1:], strict=False):
        a.set_previous_controlnet(b)
    (_, values), = td.wrap_controls([[torch.zeros(1, 77, 8), {"control": head}]])
    proxy = values["control"]
    proxy.pre_run(None, lambda percent: 1000.0 * (1.0 - percent))
    settings = td.TileSettings(tile=16, overlap=4, batch_size=batch_size, margin=1, stretch=0.0)
    wrapper = td.TiledModelWrapper(settings)
    grid, _ = wrapper.grid_for(CANVAS, CANVAS)
    x = torch.rand(2, 4, CANVAS, CANVAS)
    t = torch.full((2,), 500.0)
    deferred = proxy.get_control(x, t, {}, 2, {})
    out = wrapper(lambda x_tiles, t_tiles, **c: x_tiles, {"input": x, "timestep": t, "c": {"control": deferred},
                                                           "cond_or_uncond": [0, 1]})
    proxy.cleanup()
    return grid, out, x


def tile_crops(hint: torch.Tensor, tiles) -> torch.Tensor:
    return torch.cat([hint[..., tl.y * 8:(tl.y + tl.h) * 8, tl.x * 8:(tl.x + tl.w) * 8] for tl in tiles])


@pytest.mark.parametrize("kind", ["controlnet", "t2i_adapter"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_each_tile_batch_gets_its_own_crop_from_a_control_that_caches_by_shape(td, kind, batch_size):
    record = Record()
    double = dict(zip(("controlnet", "t2i_adapter"), shape_caching_doubles(), strict=True))[kind]
    hint = torch.rand(1, 3, CANVAS * 8, CANVAS * 8)
    control = double(record).set_cond_hint(hint, 0.7, (0.0, 0.5))

    grid, out, x = run_tiled_controls(td, [control], batch_size)

    assert len(grid.tiles) == 9 and len(grid.rows) == len(grid.cols) == 3
    assert len({(tl.h, tl.w) for tl in grid.tiles}) == 1, "equal tiles, or a shape cache proves nothing"
    batches = [grid.tiles[i:i + batch_size] for i in range(0, 9, batch_size)]
    assert len(record.calls) == len(batches)
    for tiles, (used, seen, timestep_range) in zip(batches, record.calls, strict=True):
        assert torch.equal(seen, tile_crops(hint, tiles)), f"tiles at {[(tl.y, tl.x) for tl in tiles]}"
        assert used is not control and used.strength == 0.7
        assert timestep_range == (1000.0, 500.0), "the tile batch's control was not prepared by pre_run"
    assert record.cleanups == len(batches), "every tile batch's control is cleaned up after its call"
    assert control.cond_hint_original is hint and control.cond_hints == {}, "the caller's control is untouched"
    assert torch.allclose(out, x)


def test_each_control_of_a_chain_gets_its_own_crop(td):
    record = Record()
    controlnet, t2i_adapter = shape_caching_doubles()
    edges, depth = torch.rand(1, 3, CANVAS * 8, CANVAS * 8), torch.rand(1, 1, CANVAS * 4, CANVAS * 4)
    first = controlnet(record).set_cond_hint(edges, 0.5)
    second = t2i_adapter(record).set_cond_hint(depth, 0.8)

    grid, _, _ = run_tiled_controls(td, [first, second], batch_size=1)

    import comfy.utils

    depth_full = comfy.utils.common_upscale(depth, CANVAS * 8, CANVAS * 8, "nearest-exact", "center")
    assert len(record.calls) == 2 * len(grid.tiles)
    # ComfyUI's chain runs the previous control first: the adapter, then the ControlNet, for each tile.
    for index, tile in enumerate(grid.tiles):
        (adapter, adapter_hint, _), (net, net_hint, _) = record.calls[2 * index:2 * index + 2]
        assert isinstance(adapter, t2i_adapter) and adapter.strength == 0.8
        assert torch.equal(adapter_hint, tile_crops(depth_full, [tile]))
        assert type(net) is controlnet and net.strength == 0.5
        assert torch.equal(net_hint, tile_crops(edges, [tile]))


def test_an_inpainting_controlnets_mask_is_cropped_with_its_hint(td):
    record = Record()
    controlnet, _ = shape_caching_doubles()
    hint = torch.rand(1, 3, CANVAS * 8, CANVAS * 8)
    mask = (torch.rand(1, 1, CANVAS * 8, CANVAS * 8) > 0.5).float()
    control = controlnet(record).set_cond_hint(hint, 1.0, extra_concat=[mask, torch.ones(1, 1, 1, 1)])
    masks = []
    real_get_control = controlnet.get_control

    def keep_mask(self, *args):
        masks.append(self.extra_concat_orig)
        return real_get_control(self, *args)

    controlnet.get_control = keep_mask
    grid, _, _ = run_tiled_controls(td, [control], batch_size=1)
    for tile, (tile_mask, constant) in zip(grid.tiles, masks, strict=True):
        assert torch.equal(tile_mask, tile_crops(mask, [tile]))
        assert torch.equal(constant, torch.ones(1, 1, 1, 1)), "a 1 x 1 extra input is not spatial: kept as is"


# --- out of memory ---------------------------------------------------------------------------------------------


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


# --- memory estimates -------------------------------------------------------------------------------------------


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


# --- the REST submit path -----------------------------------------------------------------------------------------


class NodeReplaceManager:
    """0.38's `app/node_replace_manager.py` for one registered replacement: a node type that is not installed
    becomes `new`, inputs copied."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def apply_replacements(self, prompt: dict) -> None:
        import nodes

        for node_id, node in list(prompt.items()):
            if node["class_type"] == self.old and self.old not in nodes.NODE_CLASS_MAPPINGS:
                prompt[node_id] = {**node, "class_type": self.new, "inputs": dict(node["inputs"])}


GRAPH = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}, "_meta": {"title": "Image"}},
         "2": {"class_type": "RenamedPreviewImage", "inputs": {"images": ["1", 0]}, "_meta": {"title": "Preview"}}}


def test_the_rest_submit_path_applies_the_servers_node_replacements(comfy, host, monkeypatch):
    import server

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    monkeypatch.setattr(server.PromptServer, "instance",
                        types.SimpleNamespace(node_replace_manager=NodeReplaceManager("RenamedPreviewImage",
                                                                                      "PreviewImage")),
                        raising=False)
    graph = {key: {**node, "inputs": dict(node["inputs"])} for key, node in GRAPH.items()}
    completed = comfy_queue.complete(graph)
    assert completed["2"]["class_type"] == "PreviewImage"
    assert completed["1"]["inputs"] == {"width": 8, "height": 8, "batch_size": 1, "color": 0}
    assert graph["2"]["class_type"] == "RenamedPreviewImage", "the caller's graph is not changed"


def test_without_node_replacements_the_graph_is_as_given(comfy, host, monkeypatch):
    import server

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    monkeypatch.setattr(server.PromptServer, "instance", types.SimpleNamespace(), raising=False)  # 0.3.75's
    assert host.replace_nodes(GRAPH) is GRAPH
    with pytest.raises(comfy_queue.GraphRefused, match="RenamedPreviewImage is not installed"):
        comfy_queue.complete(GRAPH)


def test_saved_images_read_only_the_file_of_each_history_entry(comfy):
    import folder_paths

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    graph = {"9": {"class_type": "SaveImage", "inputs": {}}, "3": {"class_type": "PreviewImage", "inputs": {}}}
    history = {"outputs": {"9": {"images": [
        {"filename": "a.png", "subfolder": "x", "type": "output", "id": "asset-1", "preview_id": "asset-2"},
        {"id": "asset-3", "preview_id": "asset-3"},
        {"filename": "b.png", "subfolder": "", "type": "output"},
    ]}, "3": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]}}}
    out = folder_paths.get_output_directory()
    assert comfy_queue.saved_images(history, graph) == [f"{out}/x/a.png", f"{out}/b.png"]
