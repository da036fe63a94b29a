"""Per-tile ControlNet and T2I-adapter hints against both ComfyUI behaviours (host.py, docs/comfyui-versions.md):
this host's (0.3.75) controls as they are, and doubles that cache what they prepare by the latent's size, as
0.38's `comfy/controlnet.py` does (3 x 3 tiles: each tile batch must get its own crop, from each control of a
chain, with an inpainting ControlNet's mask cropped beside its hint).
"""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.comfy


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


