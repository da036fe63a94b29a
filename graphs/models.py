"""The model files the graphs load: the checkpoint, the upscaler, the ControlNet, deep-image's model_types, one
table of the model families ComfyUI loads from separate files (files, CLIP type and diffusion settings), the
model folder of every loader input, and where each file is published."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api_prompt import ApiPrompt
from .building import node

CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"
REALESRGAN = "RealESRGAN_x4plus.safetensors"
CANNY_CONTROLNET = "control_v11p_sd15_canny_fp16.safetensors"
MODEL_TYPES: dict[str, str] = {
    "realistic": "realisticVisionV60B1_v51HyperVAE.safetensors",
    "fantasy": "dreamshaper_8.safetensors",
    "premium": "sd_xl_base_1.0.safetensors",
}
"""deep-image's model_type is a choice of model: here, the checkpoint the user picks for each."""
NO_MODEL = "none"
"""The value of an optional model input (a LoRA) that names no file."""


@dataclass(frozen=True)
class ModelFamily:
    """A model family ComfyUI loads from separate UNET, text encoder and VAE files, with the diffusion settings
    it wants (a turbo model's few steps, a guidance-distilled model's cfg 1)."""

    name: str
    """How the editor's titles name it ("Z-Image-Turbo")."""
    files: Mapping[str, str]
    """unet, clip and vae: the file each loader loads."""
    clip_type: str
    """CLIPLoader's `type` for its text encoder."""
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str

    @property
    def settings(self) -> dict[str, Any]:
        """HiResGenerate's diffusion inputs for this family."""
        return {"steps": self.steps, "cfg": self.cfg, "sampler_name": self.sampler_name, "scheduler": self.scheduler}

    def loader_inputs(self) -> dict[str, dict[str, Any]]:
        """The three loaders' inputs, by class type, in load order (model, text encoder, VAE)."""
        return {
            "UNETLoader": {"unet_name": self.files["unet"], "weight_dtype": "default"},
            "CLIPLoader": {"clip_name": self.files["clip"], "type": self.clip_type, "device": "default"},
            "VAELoader": {"vae_name": self.files["vae"]},
        }


ZIMAGE = ModelFamily(
    "Z-Image-Turbo",
    {"unet": "z_image_turbo_bf16.safetensors", "clip": "qwen_3_4b.safetensors", "vae": "ae.safetensors"},
    "lumina2", steps=8, cfg=1.0, sampler_name="res_multistep", scheduler="simple",
)
QWEN_IMAGE = ModelFamily(
    "Qwen-Image",
    {"unet": "qwen_image_fp8_e4m3fn.safetensors", "clip": "qwen_2.5_vl_7b_fp8_scaled.safetensors",
     "vae": "qwen_image_vae.safetensors"},
    "qwen_image", steps=20, cfg=2.5, sampler_name="euler", scheduler="simple",
)
FLUX2 = ModelFamily(
    "FLUX.2",
    {"unet": "flux2_dev_fp8mixed.safetensors", "clip": "mistral_3_small_flux2_fp8.safetensors",
     "vae": "flux2-vae.safetensors"},
    "flux2", steps=20, cfg=1.0, sampler_name="euler", scheduler="simple",
)
"""FLUX.2 [dev], the FLUX.2 model ComfyUI 0.3.75 loads (its CLIPLoader knows the `flux2` Mistral-3 text encoder;
FLUX.2 [klein]'s Qwen3 text encoders need a newer ComfyUI)."""
FAMILIES: dict[str, ModelFamily] = {"z-image-turbo": ZIMAGE, "qwen": QWEN_IMAGE, "flux2-klein9b": FLUX2}
"""deep-image's model_types served by a model family loaded from separate files."""

MODEL_FOLDERS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("GenerativeUpscale", "lora_name"): "loras",
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("VAELoader", "vae_name"): "vae",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("HiResGenerate", "lora_name"): "loras",
}
"""(node, input) pairs that name a model file, and the ComfyUI model folder the file lives in."""
_HF = "https://huggingface.co/"
MODEL_URLS: dict[str, str] = {
    CHECKPOINT: _HF + "Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/v1-5-pruned-emaonly-fp16.safetensors",
    REALESRGAN: _HF + "Comfy-Org/Real-ESRGAN_repackaged/resolve/main/RealESRGAN_x4plus.safetensors",
    CANNY_CONTROLNET: _HF + "comfyanonymous/ControlNet-v1-1_fp16_safetensors/resolve/main/"
    "control_v11p_sd15_canny_fp16.safetensors",
    MODEL_TYPES["realistic"]: "https://civitai.com/api/download/models/501240?type=Model&format=SafeTensor"
    "&size=pruned&fp=fp16",
    MODEL_TYPES["fantasy"]: "https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor"
    "&size=pruned&fp=fp16",
    MODEL_TYPES["premium"]: _HF + "stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
    ZIMAGE.files["unet"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/diffusion_models/"
    "z_image_turbo_bf16.safetensors",
    ZIMAGE.files["clip"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors",
    ZIMAGE.files["vae"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/vae/ae.safetensors",
    QWEN_IMAGE.files["unet"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/diffusion_models/"
    "qwen_image_fp8_e4m3fn.safetensors",
    QWEN_IMAGE.files["clip"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/text_encoders/"
    "qwen_2.5_vl_7b_fp8_scaled.safetensors",
    QWEN_IMAGE.files["vae"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/"
    "qwen_image_vae.safetensors",
    FLUX2.files["unet"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/diffusion_models/"
    "flux2_dev_fp8mixed.safetensors",
    FLUX2.files["clip"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/text_encoders/"
    "mistral_3_small_flux2_fp8.safetensors",
    FLUX2.files["vae"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/vae/flux2-vae.safetensors",
}
"""Where each model file a shipped workflow loads is published: the editor's Missing Models dialog offers these
(the addresses ComfyUI's own templates use where they ship the same file). A test checks every file has one."""


def checkpoint_loader(checkpoint: str = CHECKPOINT,
                      title: str = "Load Checkpoint (any SD-family model)") -> dict[str, Any]:
    """CheckpointLoaderSimple of `checkpoint` (the model, its CLIP and its VAE)."""
    return node("CheckpointLoaderSimple", title, ckpt_name=checkpoint)


def realesrgan_loader(model_name: str = REALESRGAN) -> dict[str, Any]:
    """UpscaleModelLoader of the AI upscaler (Real-ESRGAN x4plus unless another file is named)."""
    return node("UpscaleModelLoader", "Load Upscale Model (Real-ESRGAN)", model_name=model_name)


def model_references(prompt: ApiPrompt) -> set[tuple[str, str]]:
    """(model folder, file name) for every model file the prompt names."""
    refs = set()
    for entry in prompt.values():
        for name, value in entry["inputs"].items():
            folder = MODEL_FOLDERS.get((entry["class_type"], name))
            if folder and isinstance(value, str) and value != NO_MODEL:
                refs.add((folder, value))
    return refs


def input_images(prompt: ApiPrompt) -> set[str]:
    """The files the prompt's LoadImage nodes read from ComfyUI's input folder."""
    return {entry["inputs"]["image"] for entry in prompt.values() if entry["class_type"] == "LoadImage"}
