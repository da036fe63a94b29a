"""deep-image's text-to-image request as a graph for each kind of model_type: a checkpoint (generated at its
native size, then AI-upscaled to the size), a model family loaded from separate files (with the family's
diffusion settings), and a hosted model (ComfyUI's API node, then brought to the exact size)."""

from __future__ import annotations

from typing import Any

from ..api_prompt import ApiPrompt
from ..core.strength import DEFAULT_PLAIN_STRENGTH
from .building import adapter, generate, node, save
from .models import MODEL_TYPES, ModelFamily, realesrgan_loader

_LOADER_TITLES = {"UNETLoader": "Load Diffusion Model ({})", "CLIPLoader": "Load CLIP ({} text encoder)",
                  "VAELoader": "Load VAE ({})"}


def checkpoint_text_to_image(model_type: str, prompt: str, width: int, height: int, name: str) -> ApiPrompt:
    """A checkpoint model_type: generated at the model's native budget, then Real-ESRGAN to width x height
    (generative_upscale off)."""
    return {
        "1": node("CheckpointLoaderSimple", f"Load Checkpoint (model_type {model_type})",
                  ckpt_name=MODEL_TYPES[model_type]),
        "2": adapter("upscale", prompt, ["1", 1]),
        "3": realesrgan_loader(),
        "4": generate("HiRes Generate", ["2", 0], ["1", 0], ["1", 1], ["1", 2], upscale_model=["3", 0],
                      width=width, height=height, generative_upscale=False),
        "5": save("4", name),
    }


def family_text_to_image(family: ModelFamily, prompt: str, width: int, height: int, name: str) -> ApiPrompt:
    """A model family from its separate UNET, text encoder and VAE files, through HiResGenerate with the
    family's steps, cfg, sampler and scheduler."""
    graph: ApiPrompt = {
        str(index): node(class_type, _LOADER_TITLES[class_type].format(family.name), **inputs)
        for index, (class_type, inputs) in enumerate(family.loader_inputs().items(), start=1)
    }
    graph["4"] = adapter("upscale", prompt, ["2", 0])
    graph["5"] = generate("HiRes Generate", ["4", 0], ["1", 0], ["2", 0], ["3", 0], width=width, height=height,
                          **family.settings)
    graph["6"] = save("5", name)
    return graph


def hosted_text_to_image(api_node: dict[str, Any], width: int, height: int, name: str) -> ApiPrompt:
    """A hosted model_type: ComfyUI's own API node generates; GenerativeUpscale with the AI upscaler alone
    brings it to exactly width x height, fit crop (the provider's image covers the frame, the centre is kept)."""
    return {
        "1": api_node,
        "2": realesrgan_loader(),
        "3": node("GenerativeUpscale", f"Generative Upscale (strength {DEFAULT_PLAIN_STRENGTH}: to the exact size)",
                  image=["1", 0], upscale_model=["2", 0], width=width, height=height, fit="crop",
                  upscale_strength=DEFAULT_PLAIN_STRENGTH),
        "4": save("3", name),
    }
