"""The adapter value: deep-image's `background.generate` block as one object that the generators consume.

AdapterSelect builds it and checks what each adapter type needs; a consumer checks that it can use the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import HiResInputError

AdapterType = Literal["generate_background", "face", "control", "control2", "upscale", "inpainting"]
ADAPTER_TYPES: tuple[AdapterType, ...] = ("generate_background", "face", "control", "control2", "upscale", "inpainting")
DEFAULT_SUFFIX = "high quality, highly detailed, 8K"
"""deep-image appends this to every description unless it is switched off."""
DEFAULT_CONTROL_SCALE = 0.5


def build_prompt(description: str, add_suffix: bool) -> str:
    """The description with deep-image's quality suffix appended (once)."""
    text = description.strip()
    if not add_suffix or DEFAULT_SUFFIX.lower() in text.lower():
        return text
    return f"{text}, {DEFAULT_SUFFIX}" if text else DEFAULT_SUFFIX


@dataclass(frozen=True)
class Adapter:
    adapter_type: AdapterType
    prompt: str
    negative_prompt: str
    control_scale: float = DEFAULT_CONTROL_SCALE
    face_id: bool = False
    positive: Any = None
    """Ready CONDITIONING given by the user; None = encode `prompt` later (with `clip`, else the consumer's)."""
    negative: Any = None
    image: Any = None
    """IMAGE (B, H, W, C) or None."""
    mask: Any = None
    """MASK (B, H, W) or (H, W), or None."""
    control_net: Any = None
    clip: Any = None
    """AdapterSelect's own CLIP: the consumer encodes the prompts with it, after its checks pass."""

    @property
    def needs_clip(self) -> bool:
        """True when the consumer's CLIP must encode a prompt (no ready CONDITIONING and no CLIP here)."""
        return (self.positive is None or self.negative is None) and self.clip is None


# What each type cannot do without: (field, the node input that carries it).
_REQUIRED: dict[AdapterType, tuple[tuple[str, str], ...]] = {
    "generate_background": (("image", "image"),),
    "face": (("image", "image"),),
    "control": (("control_net", "control_net"),),
    "control2": (("control_net", "control_net"), ("image", "image")),
    "upscale": (),
    "inpainting": (("image", "image"), ("mask", "mask")),
}
_WHY: dict[AdapterType, str] = {
    "generate_background": "it keeps the main object of this image and generates the background around it",
    "face": "it keeps the first face found in this image",
    "control": "the edges guide generation through a ControlNet",
    "control2": "generation follows this image's edges through a ControlNet",
    "upscale": "",
    "inpainting": "it regenerates the masked area of this image",
}


def required_inputs(adapter_type: AdapterType) -> tuple[str, ...]:
    """The AdapterSelect inputs an adapter type cannot do without."""
    return tuple(input_name for _, input_name in _REQUIRED[adapter_type])


def missing_input(adapter_type: AdapterType, input_name: str) -> HiResInputError:
    return HiResInputError(
        input_name, None, f"adapter_type {adapter_type!r} needs a connected {input_name.upper()}: "
        f"{_WHY[adapter_type]}", f"connect a {input_name.upper()} to AdapterSelect's {input_name} input",
    )


def check_face_id(adapter_type: str, face_id: bool) -> None:
    if face_id and adapter_type != "face":
        raise HiResInputError("face_id", True, f"only applies to adapter_type 'face', not {adapter_type!r}",
                              "switch face_id off, or choose adapter_type 'face'")


def check_adapter(adapter: Adapter) -> None:
    """Every adapter type's requirements, as clear errors."""
    if adapter.adapter_type not in ADAPTER_TYPES:
        raise HiResInputError("adapter_type", adapter.adapter_type, "is not an adapter type",
                              f"use one of {', '.join(ADAPTER_TYPES)}")
    if not 0.0 <= adapter.control_scale <= 1.0:
        raise HiResInputError("controlnet_conditioning_scale", adapter.control_scale, "must be from 0 to 1",
                              f"use a value in 0..1 ({DEFAULT_CONTROL_SCALE} is the default)")
    check_face_id(adapter.adapter_type, adapter.face_id)
    for attribute, input_name in _REQUIRED[adapter.adapter_type]:
        if getattr(adapter, attribute) is None:
            raise missing_input(adapter.adapter_type, input_name)
    if adapter.mask is not None and adapter.image is not None:
        mask_hw = tuple(adapter.mask.shape[-2:])
        image_hw = tuple(adapter.image.shape[1:3])
        if mask_hw != image_hw:
            raise HiResInputError("mask", f"{mask_hw[1]}x{mask_hw[0]}",
                                  f"the mask must be the image's size ({image_hw[1]}x{image_hw[0]})",
                                  "resize the mask to the image (or take both from the same Load Image node)")


def check_consumer(adapter: Adapter | None, node: str, usable: tuple[AdapterType, ...]) -> None:
    """A node that consumes only some adapter types refuses the others by name."""
    if adapter is not None and adapter.adapter_type not in usable:
        raise HiResInputError(
            "adapter", adapter.adapter_type, f"{node} cannot use adapter_type {adapter.adapter_type!r}",
            f"use {' or '.join(repr(u) for u in usable)} with {node}, or feed this adapter to HiResGenerate",
        )
