"""The tile grid, the blend weights and one blended evaluation."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hires_studio.core.tiling import (
    blend_profiles,
    blend_weights,
    crop_tiles,
    diffusion_grid,
    diffusion_overlap,
    plan_grid,
    repeat_per_tile,
    scale_grid,
    tiled_apply,
)


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(1, 300), w=st.integers(1, 300), tile=st.sampled_from([16, 24, 32, 64]),
    overlap=st.integers(4, 12), multiple=st.sampled_from([1, 8]),
)
def test_grid_covers_the_canvas_and_weights_sum_to_one(h, w, tile, overlap, multiple):
    grid = plan_grid(h, w, tile, overlap, multiple)
    assert grid.tile_h <= max(tile, h) and grid.tile_w <= max(tile, w)
    assert grid.rows[0] == 0 and grid.rows[-1] + grid.tile_h == h
    assert grid.cols[0] == 0 and grid.cols[-1] + grid.tile_w == w
    for a, b in zip(grid.rows, grid.rows[1:], strict=False):
        assert b + 0 <= a + grid.tile_h - overlap + 1  # neighbours overlap by at least the minimum (+-1 rounding)
    weights = blend_weights(grid, margin=1)
    total = torch.zeros(h, w, dtype=torch.float64)
    for wt, t in zip(weights, grid.tiles, strict=True):
        assert (wt >= 0).all()
        total[t.y:t.y + t.h, t.x:t.x + t.w] += wt
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)


def test_overlap_stays_near_its_minimum():
    grid = plan_grid(256, 256, 64, 8)
    assert grid.minimum_tiles(64) == 16
    # 5 x 5 tiles shrunk from 64 to 58 so the overlap stays 8 (not the 16 that 64-pixel tiles would need)
    assert len(grid.rows) == len(grid.cols) == 5 and grid.tile_h == 58
    assert min(b - a for a, b in zip(grid.rows, grid.rows[1:], strict=False)) >= 58 - 9
    assert grid.overlap_ratio < 1.29
    # rounding tiles up to a multiple of 8 costs overlap: the same canvas then needs 64-pixel tiles
    assert plan_grid(256, 256, 64, 8, multiple=8).overlap_ratio > 1.5


def test_crop_and_repeat_keep_groups_contiguous():
    groups, b = 2, 3
    x = torch.arange(groups * b, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()
    grid = plan_grid(4, 4, 2, 0)
    tiles = grid.tiles
    crops = crop_tiles(x, tiles, groups)
    assert crops.shape == (groups * len(tiles) * b, 1, 2, 2)
    ids = crops[:, 0, 0, 0].reshape(groups, len(tiles), b)
    for g in range(groups):
        for k in range(len(tiles)):
            assert ids[g, k].tolist() == [g * b + i for i in range(b)]
    rep = repeat_per_tile(torch.arange(groups * b), len(tiles), groups)
    assert torch.equal(rep, crops[:, 0, 0, 0].long())


def local_model(channels_out=4):
    conv = torch.nn.Conv2d(4, channels_out, 3, padding=1)
    torch.manual_seed(0)
    torch.nn.init.normal_(conv.weight)
    return conv


@pytest.mark.parametrize(("h", "w"), [(40, 40), (37, 53), (64, 24), (9, 70)])
@pytest.mark.parametrize(("tile", "overlap", "batch"), [(16, 6, 1), (16, 6, 4), (24, 8, 3), (32, 4, 100)])
@pytest.mark.parametrize("groups", [1, 2])
def test_tiled_equals_untiled_for_a_local_model(h, w, tile, overlap, batch, groups):
    conv = local_model(channels_out=6)
    x = torch.randn(groups * 2, 4, h, w, generator=torch.Generator().manual_seed(3))
    grid = plan_grid(h, w, tile, overlap)
    weights = blend_weights(grid, margin=1)
    calls = []

    def fn(tiles_x, tiles):
        calls.append(len(tiles))
        assert tiles_x.shape[0] == groups * 2 * len(tiles)
        return conv(tiles_x)

    with torch.no_grad():
        tiled = tiled_apply(fn, x, grid, weights, groups, batch)
        untiled = conv(x)
    assert tiled.shape == untiled.shape
    assert torch.allclose(tiled, untiled, atol=1e-5)
    assert sum(calls) == len(grid.tiles) and max(calls) <= batch


def test_margin_zero_is_not_exact_for_a_local_model():
    """The margin is what makes tiling exact: without it the tile border's padding leaks in."""
    conv = local_model()
    x = torch.randn(1, 4, 40, 40, generator=torch.Generator().manual_seed(3))
    grid = plan_grid(40, 40, 16, 6)
    with torch.no_grad():
        tiled = tiled_apply(lambda t, _: conv(t), x, grid, blend_weights(grid, margin=0), 1, 4)
        assert not torch.allclose(tiled, conv(x), atol=1e-3)


def test_too_small_overlap_for_the_margin_is_an_error():
    grid = plan_grid(40, 40, 16, 2)
    with pytest.raises(ValueError, match="overlap is too small"):
        blend_weights(grid, margin=2)


@pytest.mark.parametrize(("side", "tiles"), [(2048, 16), (3072, 36), (4096, 64)])
def test_the_diffusion_grid_evaluates_at_most_10_percent_more_than_the_canvas(side, tiles):
    """512 px tiles (64 latent px) at 2048, 3072 and 4096 px: the no-overlap minimum of tiles, each at most
    1/8 over the nominal side, <= 1.10 evaluated latent px per canvas latent px."""
    latent = side // 8
    grid = diffusion_grid(latent, latent, 64)
    assert len(grid.tiles) == tiles == grid.minimum_tiles(64)
    assert 64 <= grid.tile_h <= 72 and grid.overlap_ratio <= 1.10
    # neighbours still overlap by the 3 px that carry the blend
    assert max(b - a for a, b in zip(grid.rows, grid.rows[1:], strict=False)) <= grid.tile_h - diffusion_overlap(64)
    # the old rule (overlap 1/8 of a tile, tiles never over nominal) evaluated 27-28% more
    assert plan_grid(latent, latent, 64, 8).overlap_ratio > 1.26


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 700), tile=st.sampled_from([16, 32, 64, 128]), stretch=st.sampled_from([0.0, 0.125]))
def test_stretched_tiles_stay_within_their_bound_and_never_add_tiles(length, tile, stretch):
    overlap = diffusion_overlap(tile)
    grid = plan_grid(length, 8, tile, overlap, stretch=stretch)
    plain = plan_grid(length, 8, tile, overlap)
    assert grid.tile_h <= max(int(tile * (1 + stretch)), min(length, tile))
    assert grid.rows[0] == 0 and grid.rows[-1] + grid.tile_h == length
    assert len(grid.rows) <= len(plain.rows)
    for a, b in zip(grid.rows, grid.rows[1:], strict=False):
        assert b <= a + grid.tile_h - overlap + 1


@pytest.mark.parametrize(("h", "w", "tile", "overlap", "margin", "scale"),
                         [(40, 53, 16, 8, 3, 8), (37, 90, 24, 6, 1, 1)])
def test_blend_profiles_are_a_partition_of_unity_at_any_scale(h, w, tile, overlap, margin, scale):
    grid = scale_grid(plan_grid(h, w, tile, overlap, stretch=0.125), scale)
    profiles = blend_profiles(grid, margin * scale)
    total = torch.zeros(grid.height, grid.width, dtype=torch.float64)
    for i, t in enumerate(grid.tiles):
        weight = profiles.weight(i)
        assert weight.shape == (t.h, t.w) and (weight >= 0).all()
        # nothing of a tile within the margin of an inner edge
        if t.x > 0:
            assert (weight[:, :margin * scale] == 0).all()
        if t.y + t.h < grid.height:
            assert (weight[-margin * scale:] == 0).all()
        total[t.y:t.y + t.h, t.x:t.x + t.w] += weight
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)
    assert torch.equal(blend_weights(grid, margin * scale)[1], profiles.weight(1))
