"""Each model family's native resolution: the pixel budget it was trained at, which sets the generation size
and the default diffusion tile. Keyed by the name of ComfyUI's model-config class, so this stays pure."""

from __future__ import annotations

NATIVE_SIDE: dict[str, int] = {
    "SD15": 512, "SD15_instructpix2pix": 512, "LotusD": 512,
    "SD20": 768, "SD21UnclipL": 768, "SD21UnclipH": 768,
    "SDXL": 1024, "SDXLRefiner": 1024, "SSD1B": 1024, "Segmind_Vega": 1024, "KOALA_700M": 1024,
    "KOALA_1B": 1024, "SDXL_instructpix2pix": 1024, "Stable_Cascade_C": 1024, "Stable_Cascade_B": 1024,
    "SD3": 1024, "AuraFlow": 1024, "PixArtAlpha": 1024, "PixArtSigma": 1024, "HunyuanDiT": 1024,
    "HunyuanDiT1": 1024, "Flux": 1024, "FluxInpaint": 1024, "FluxSchnell": 1024, "Flux2": 1024,
    "Chroma": 1024, "ChromaRadiance": 1024, "HiDream": 1024, "Lumina2": 1024, "ZImage": 1024,
    "Omnigen2": 1024, "CosmosT2IPredict2": 1024, "QwenImage": 1328, "HunyuanImage21": 2048,
}
DEFAULT_NATIVE_SIDE = 1024
"""For a family this table does not know: the budget of every recent image model."""


def native_side(model_config_name: str) -> int:
    """The side of the model's native square (its pixel budget is this squared)."""
    return NATIVE_SIDE.get(model_config_name, DEFAULT_NATIVE_SIDE)


def budget_size(side: int, aspect: float, multiple: int = 16) -> tuple[int, int]:
    """(width, height) with the given aspect ratio and about side x side pixels, each a multiple of `multiple`
    (16: the VAE's 8 times a DiT's 2x2 patch; SD UNets need only 8)."""
    width = (side * side * aspect) ** 0.5
    return (max(multiple, round(width / multiple) * multiple),
            max(multiple, round(width / aspect / multiple) * multiple))


def generation_size(target: tuple[int, int], native: int, multiple: int = 16) -> tuple[int, int]:
    """Where the model generates: the target itself (rounded up to a multiple of 8, cropped later) when it fits
    the native pixel budget, else about the native budget with the target's aspect ratio, each side a multiple
    of `multiple`."""
    w, h = target
    if w * h <= native * native:
        return -(-w // 8) * 8, -(-h // 8) * 8
    return budget_size(native, w / h, multiple)
