"""A V3 node's widget declarations read back from ComfyUI (kinds, ranges, dropdown choices), so the pack's
validate_inputs can check the values ComfyUI 0.3.75 lets through for V3 nodes (dropdowns, NaN)."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.input_checks import Declared, check_declared
from .lora import lora_choices

_NUMBER_KINDS = ("INT", "FLOAT")


def declared_inputs(node_cls) -> dict[str, Declared]:
    """Every widget input of `node_cls` as ComfyUI sees it (its INPUT_TYPES)."""
    out: dict[str, Declared] = {}
    types = node_cls.INPUT_TYPES()
    for group in ("required", "optional"):
        for name, spec in types.get(group, {}).items():
            kind, options = spec[0], (spec[1] if len(spec) > 1 else {}) or {}
            if isinstance(kind, list):
                out[name] = Declared("COMBO", choices=tuple(kind))
            elif kind == "COMBO":
                out[name] = Declared("COMBO", choices=tuple(options.get("options", ())))
            elif kind in _NUMBER_KINDS:
                out[name] = Declared(kind, options.get("min"), options.get("max"))
            elif kind in ("STRING", "BOOLEAN"):
                out[name] = Declared(kind)
    return out


def check_widgets(node_cls, values: Mapping[str, object]) -> None:
    """The given widget values of `node_cls` against its declarations; LoRA names against the loras folder
    as it is now (a file added after start-up is found, a path like '../x' never is)."""
    check_declared(values, declared_inputs(node_cls), {"lora_name": lora_choices()})
