"""The streaming tiled VAE and the tile-sized model-load estimate, inside a real ComfyUI."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hires_studio.core.resize import bicubic
from hires_studio.core.tiling import diffusion_grid
from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE

pytestmark = pytest.mark.comfy


class LocalVae:
    """A VAE whose every output pixel depends on its neighbours within one latent pixel: a 3x3 convolution at
    latent resolution around an 8x resampling. Tiling it with a margin of one latent pixel must be exact."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.enc = torch.randn(4, 3, 3, 3, generator=g) * 0.3
        self.dec = torch.randn(3, 4, 3, 3, generator=g) * 0.3
        self.calls: list[tuple[int, ...]] = []

    def spacial_compression_encode(self) -> int:
        return 8

    def spacial_compression_decode(self) -> int:
        return 8

    def encode(self, bhwc: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(bhwc.shape))
        return F.conv2d(F.avg_pool2d(bhwc.movedim(-1, 1), 8), self.enc, padding=1)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(latent.shape))
        return F.interpolate(F.conv2d(latent, self.dec, padding=1), scale_factor=8, mode="nearest").movedim(1, -1)


@pytest.mark.parametrize(("h", "w"), [(40, 40), (23, 57), (9, 70)])
def test_tiled_vae_equals_untiled_for_a_local_vae(comfy, h, w):
    tiled_vae = pack_module(comfy, "runtime.tiled_vae")
    tiling = tiled_vae.VaeTiling(tile=16, overlap=4, margin=1)
    vae = LocalVae()
    pixels = torch.rand(2, 3, h * 8, w * 8, generator=torch.Generator().manual_seed(1))
    latent = vae.encode(pixels.movedim(1, -1))
    image = vae.decode(latent).movedim(-1, 1)
    vae.calls.clear()
    encoded = tiled_vae.encode_tiled(vae, pixels, tiling)
    decoded = tiled_vae.decode_tiled(vae, latent, tiling)
    assert encoded.shape == latent.shape and decoded.shape == pixels.shape
    assert torch.allclose(encoded, latent, atol=1e-5)
    assert torch.allclose(decoded, image, atol=1e-5)
    grid = tiling.grid(h, w)
    assert len(grid.tiles) > 1
    # streaming: every VAE call saw one tile, never the canvas
    assert len(vae.calls) == 2 * len(grid.tiles)
    assert all(c[1:3] == (grid.tile_h * 8, grid.tile_w * 8) or c[-2:] == (grid.tile_h, grid.tile_w) for c in vae.calls)


def test_tiled_taesd_decode_matches_untiled_within_the_stated_tolerance(comfy, ckpt):
    """The tiny checkpoint's TAESD (random weights, so edge effects are not trained away) decoding 768 px in
    4 x 4 tiles: within 0.06 (max) and 0.002 (mean) of the untiled decode, no line at the tile boundaries."""
    tiled_vae = pack_module(comfy, "runtime.tiled_vae")
    vae = ckpt[2]
    tiling = tiled_vae.VaeTiling(tile=32, overlap=8, margin=3)
    image = bicubic(torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0)), (768, 768)).clamp(0, 1)
    latent = vae.encode(image.movedim(1, -1))
    whole = vae.decode(latent).movedim(-1, 1)
    tiled = tiled_vae.decode_tiled(vae, latent, tiling)
    grid = tiling.grid(96, 96)
    assert len(grid.tiles) == 16
    error = (tiled - whole).abs()
    assert error.max() < 0.06 and error.mean() < 0.002, (float(error.max()), float(error.mean()))
    # no seam: the gradient across the lines where one tile's weight starts is no larger than elsewhere
    out = tiled[0]
    gx = (out[:, :, 1:] - out[:, :, :-1]).abs().mean(dim=(0, 1))
    lines = sorted({(c + tiling.margin) * 8 - 1 for c in grid.cols[1:]}
                   | {(c + grid.tile_w - tiling.margin) * 8 - 1 for c in grid.cols[:-1]})
    assert gx[lines].mean() / gx.mean() < 1.15
    # the encode of the same tiles stays as close
    encoded = tiled_vae.encode_tiled(vae, image, tiling)
    assert (encoded - latent).abs().mean() < 0.05 * latent.abs().mean()


def test_the_pass_streams_the_vae_when_the_canvas_is_larger_than_a_tile(comfy, ckpt, monkeypatch):
    diffusion_pass = pack_module(comfy, "runtime.diffusion_pass")
    tiled_vae = pack_module(comfy, "runtime.tiled_vae")
    model, clip, vae = ckpt
    shapes = []
    decode, encode = vae.decode, vae.encode
    monkeypatch.setattr(vae, "decode", lambda s, *a, **k: shapes.append(("d", *s.shape[-2:])) or decode(s, *a, **k))
    monkeypatch.setattr(vae, "encode", lambda p, *a, **k: shapes.append(("e", *p.shape[1:3])) or encode(p, *a, **k))
    image = bicubic(torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(2)), (100, 90))
    image = image.movedim(1, -1).contiguous()
    args = {**GENERATIVE_UPSCALE, "scale_by": 3.0, "steps": 1, "color_fix": "none", "model": model, "vae": vae,
            "clip": clip}
    whole = comfy.node("GenerativeUpscale").execute(image=image, **args)[0]
    assert all(s[1:] in ((34, 38), (272, 304)) for s in shapes), shapes  # one call each on the whole canvas
    shapes.clear()
    monkeypatch.setattr(diffusion_pass, "VAE_TILING", tiled_vae.VaeTiling(tile=16, overlap=8, margin=3))
    tiled = comfy.node("GenerativeUpscale").execute(image=image, **args)[0]
    assert tiled.shape == whole.shape == (1, 270, 300, 3)
    assert len(shapes) > 2 and max(max(s[1:]) for s in shapes if s[0] == "d") <= 18
    assert max(max(s[1:]) for s in shapes if s[0] == "e") <= 18 * 8
    assert (tiled - whole).abs().mean() < 0.01


def test_the_model_load_estimate_is_sized_for_the_tile_batch(comfy, ckpt, monkeypatch):
    model, clip, vae = ckpt
    shapes = []
    required = model.model.memory_required
    monkeypatch.setattr(model.model, "memory_required",
                        lambda shape, *a, **k: shapes.append(tuple(shape)) or required(shape, *a, **k))
    image = bicubic(torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(2)), (64, 64))
    args = {**GENERATIVE_UPSCALE, "scale_by": 4.0, "steps": 1, "tile_batch": 2, "color_fix": "none",
            "model": model, "vae": vae, "clip": clip}
    out = comfy.node("GenerativeUpscale").execute(image=image.movedim(1, -1).contiguous(), **args)[0]
    assert out.shape == (1, 256, 256, 3)
    grid = diffusion_grid(32, 32, 16)
    assert len(grid.tiles) > 1
    # ComfyUI sizes the load, and its check whether cond and uncond go in one call, for cond + uncond of one
    # batch of 2 tiles (and at least one batch), never for the canvas ((2, 4, 32, 32) or (1, 4, 32, 32)).
    tile = (grid.tile_h, grid.tile_w)
    assert (4, 4, *tile) in shapes and (2, 4, *tile) in shapes, shapes
    assert not any(shape[-2:] == (32, 32) for shape in shapes), shapes


def test_vae_tiles_never_grow_over_the_tile_budget(comfy):
    """The VAE's working memory grows with the tile's area and sets the pass's peak: no canvas may stretch a
    tile over the budget (3072² used to get 816 px tiles)."""
    tiled_vae = pack_module(comfy, "runtime.tiled_vae")
    tiling = tiled_vae.DEFAULT_VAE_TILING
    for side in range(tiling.tile + 1, 8 * tiling.tile, 7):
        grid = tiling.grid(side, side // 2 + 1)
        assert max(grid.tile_h, grid.tile_w) <= tiling.tile, (side, grid.tile_h, grid.tile_w)
        assert grid.rows[-1] + grid.tile_h == side and grid.cols[-1] + grid.tile_w == side // 2 + 1
    assert tiling.grid(384, 384).tile_h * 8 == 672
