"""A LoRA from ComfyUI's loras folder patched onto a model through ComfyUI's own LoRA code."""

from __future__ import annotations

import comfy.sd
import comfy.utils
import folder_paths

NO_LORA = "none"
_TEXT_ENCODER_PREFIXES = ("lora_te", "te_", "text_encoder", "text_encoders.")
"""The prompt is already encoded when the LoRA is applied, so its text-encoder half has nothing to patch."""


def lora_choices() -> list[str]:
    return [NO_LORA, *folder_paths.get_filename_list("loras")]


def apply_lora(model, lora_name: str, scale: float):
    """A clone of `model` with the LoRA at `scale` (the model itself when there is nothing to apply)."""
    if lora_name == NO_LORA or scale == 0:
        return model
    path = folder_paths.get_full_path_or_raise("loras", lora_name)
    lora = {
        key: value for key, value in comfy.utils.load_torch_file(path, safe_load=True).items()
        if not key.startswith(_TEXT_ENCODER_PREFIXES)
    }
    patched, _ = comfy.sd.load_lora_for_models(model, None, lora, scale, 0.0)
    return patched
