"""Checks on a node's own values that ComfyUI 0.3.75 does not make for V3 nodes: dropdown values against their
choices, numbers that must be finite and within their declared range, text a tokenizer can read, and the
inputs that must be connected. Each raises HiResInputError naming the one input at fault, so the same checks
serve `validate_inputs` (refused at /prompt) and `check_lazy_status` (refused before any lazy model loads).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .adapter import Adapter, AdapterType, missing_input, required_inputs
from .errors import HiResInputError

Kind = Literal["INT", "FLOAT", "COMBO", "STRING", "BOOLEAN"]
MAX_LISTED_CHOICES = 12
"""A dropdown with more choices than this (a models folder) is not spelled out in the message."""
NOT_CONNECTED = "<not connected>"
"""validate_inputs' default for a link input: ComfyUI passes None for a connected link and leaves an
unconnected optional input out, so this default tells the two apart."""


@dataclass(frozen=True)
class Declared:
    """What a node declares for one widget input: its kind, range and choices."""

    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[object, ...] = ()


def _choices_text(choices: Sequence[object]) -> str:
    shown = ", ".join(str(c) for c in choices[:MAX_LISTED_CHOICES])
    more = len(choices) - MAX_LISTED_CHOICES
    return f"{shown} (and {more} more)" if more > 0 else shown


def check_choice(name: str, value: object, choices: Sequence[object], what: str = "one of the choices") -> None:
    """A dropdown value must be one the node offers (a typo or a stale workflow would otherwise fall back
    silently, and a file name could point outside its folder)."""
    if value not in choices:
        raise HiResInputError(name, value, f"is not {what}", f"use one of {_choices_text(choices)}")


def _range_text(declared: Declared) -> str:
    low = "-inf" if declared.minimum is None else f"{declared.minimum:g}"
    high = "inf" if declared.maximum is None else f"{declared.maximum:g}"
    return f"{low} to {high}"


def check_number(name: str, value: float, declared: Declared) -> None:
    """Finite (JSON clients can send NaN and Infinity) and inside the declared range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HiResInputError(name, value, "is not a number", f"use a number from {_range_text(declared)}")
    if not math.isfinite(value):
        raise HiResInputError(name, value, "is not a finite number", f"use a number from {_range_text(declared)}")
    if declared.kind == "INT" and not float(value).is_integer():
        raise HiResInputError(name, value, "is not a whole number", f"use a whole number from {_range_text(declared)}")
    below = declared.minimum is not None and value < declared.minimum
    above = declared.maximum is not None and value > declared.maximum
    if below or above:
        raise HiResInputError(name, value, f"is outside {_range_text(declared)}",
                              f"use a number from {_range_text(declared)}")


def lone_surrogate_at(text: str) -> int | None:
    """The index of the first unpaired UTF-16 surrogate (U+D800..U+DFFF) in `text`, or None."""
    for index, char in enumerate(text):
        if 0xD800 <= ord(char) <= 0xDFFF:
            return index
    return None


def check_text(name: str, text: str) -> None:
    """Text a tokenizer can read: no unpaired surrogate (what a client's broken UTF-16 leaves behind)."""
    if not isinstance(text, str):
        raise HiResInputError(name, text, "is not text", "give a string")
    index = lone_surrogate_at(text)
    if index is not None:
        raise HiResInputError(
            name, f"...{text[max(0, index - 12):index + 1]}",
            f"has an unpaired surrogate U+{ord(text[index]):04X} at character {index}, which is not a character "
            "and no text encoder can read",
            "remove it, or send the whole character (a pair of surrogates, or the character itself in UTF-8)",
        )


def check_declared(values: Mapping[str, object], declared: Mapping[str, Declared],
                   live_choices: Mapping[str, Sequence[object]] | None = None) -> None:
    """Every given value against its declaration; None (a linked widget, not known before the run) is skipped.
    `live_choices` replaces a dropdown's declared choices where they can change while the server runs
    (a models folder)."""
    live_choices = live_choices or {}
    for name, value in values.items():
        spec = declared.get(name)
        if value is None or spec is None:
            continue
        if spec.kind == "COMBO":
            check_choice(name, value, live_choices.get(name, spec.choices))
        elif spec.kind in ("INT", "FLOAT"):
            check_number(name, value, spec)
        elif spec.kind == "STRING":
            check_text(name, value)


def connected(links: Mapping[str, object]) -> set[str]:
    """The link inputs of validate_inputs that are connected (anything but the NOT_CONNECTED default)."""
    return {name for name, value in links.items() if not (isinstance(value, str) and value == NOT_CONNECTED)}


def check_prompt_encoder(linked: Collection[str], has_adapter_clip: bool | None, node: str) -> None:
    """A generator needs its prompt encoded: by the adapter (its CLIP or ready CONDITIONING) or by its own
    `clip`. `has_adapter_clip` None = the adapter is not known yet; then only "no adapter, no clip" fails."""
    if "clip" in linked:
        return
    if ("adapter" not in linked) or has_adapter_clip is False:
        raise HiResInputError(
            "clip", None, f"{node} needs a prompt encoded by a CLIP: neither an AdapterSelect with a CLIP or "
            "CONDITIONING nor a CLIP is connected", f"connect the checkpoint's CLIP to {node} or to AdapterSelect",
        )


def check_adapter_links(adapter_type: AdapterType, linked: Iterable[str]) -> None:
    """What an adapter type needs connected on AdapterSelect (decided at /prompt, from the links alone)."""
    linked = set(linked)
    for name in required_inputs(adapter_type):
        if name not in linked:
            raise missing_input(adapter_type, name)


def check_control_has_image(adapter_type: str | None, has_image: bool, node: str) -> None:
    """HiResGenerate's `control` is image to image guided by that image's edges: without an image the
    ControlNet would have nothing to follow and would be silently ignored."""
    if adapter_type == "control" and not has_image:
        raise HiResInputError(
            "image", None, f"adapter_type 'control' on {node} is image to image guided by the image's edges, and "
            "no IMAGE is connected to AdapterSelect, so the ControlNet would be ignored",
            "connect the IMAGE whose edges should guide the result to AdapterSelect's image input, or choose "
            "adapter_type 'upscale' for text to image",
        )


def check_mask_size(mask_hw: tuple[int, int], image_hw: tuple[int, int], name: str = "mask") -> None:
    """A MASK must cover its image pixel for pixel."""
    if tuple(mask_hw) != tuple(image_hw):
        raise HiResInputError(
            name, f"{mask_hw[1]}x{mask_hw[0]}", f"the mask must be the image's size ({image_hw[1]}x{image_hw[0]})",
            "resize the mask to the image, or take both from the same Load Image node",
        )


def out_of_memory_message(what: str, tile: int, lower: str) -> str:
    """What the user can change when a tiled runner is out of memory at its smallest tile."""
    return (f"Out of memory in {what}, even with the smallest tile ({tile} px). Fix: lower {lower}, or free "
            "device memory (close other programs using it, or start ComfyUI with --lowvram or --cpu).")


def refusal(*checks: Callable[[], object] | None) -> bool:
    """validate_inputs' answer for checks run in order (None ones skipped): True, or the first refusal raised.

    Raised, never returned, so that ComfyUI (0.3.75 and newer) files it once and on the node at fault. A message
    validate_inputs returns is filed once under every input its signature names that the prompt holds (18 times
    on GenerativeUpscale). An error it raises is caught where the node is reached through a link and filed
    under the raising node's own id, with its class_type, its details the message (the input at fault, the value
    and the fix), its type `exception_during_inner_validation`.

    The signature keeps naming every widget the checks read: ComfyUI makes its own range checks (newer versions
    dropdown checks too) on the widgets it does not name, messages without a fix and a second entry for a value
    the pack's own check refuses as well.
    The values cannot come from the hidden `prompt` instead: both versions leave it empty during validation."""
    for check in checks:
        if check is not None:
            check()
    return True


def check_generate_inputs(linked: Collection[str], adapter: Adapter | None, node: str) -> None:
    """Everything HiResGenerate can refuse once its adapter is known and before its models are asked for."""
    linked = set(linked) | ({"adapter"} if adapter is not None else set())
    check_prompt_encoder(linked, None if adapter is None else not adapter.needs_clip, node)
    if adapter is not None:
        check_control_has_image(adapter.adapter_type, adapter.image is not None, node)
