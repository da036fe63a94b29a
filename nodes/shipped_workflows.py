"""The shipped workflows, defined once in ComfyUI's API format: the graph of every documented request.

Pure data and builders (no ComfyUI import). `scripts/workflows.py` writes them as the editor and API files under
`workflows/`; anything that turns a request into a graph starts from these same definitions, so a shipped file
and a graph built at run time can never disagree. Unlisted widget inputs take the node's defaults (see
`api_prompt.complete_prompt`).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .api_prompt import ApiPrompt
from .core.errors import HiResInputError
from .core.native import budget_size

OUTPUT_FOLDER = "hires_studio"
"""The subfolder of ComfyUI's output folder the shipped workflows save into (a fixed name: it does not depend on
the folder the pack is cloned into; the Templates browser lists the workflows under that folder's name)."""

EXAMPLE_IMAGE = "hires_example.png"
"""The file every shipped LoadImage names; users pick their own image in the editor."""
EXAMPLE_FACE_IMAGE = "hires_example_face.png"
"""The file the face workflows name: a portrait (the face adapter needs a face to keep)."""
CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"
REALESRGAN = "RealESRGAN_x4plus.safetensors"
CANNY_CONTROLNET = "control_v11p_sd15_canny_fp16.safetensors"
COTTAGE_PROMPT = "small cottage and cows eating grass on the green fields. Sunset."
CYBERPUNK_PROMPT = ("woman in a futuristic suit holding a gun in her hand, looking at the camera, cyberpunk art, "
                    "neo-figurative, anime")
MODEL_TYPES: dict[str, str] = {
    "realistic": "realisticVisionV60B1_v51HyperVAE.safetensors",
    "fantasy": "dreamshaper_8.safetensors",
    "premium": "sd_xl_base_1.0.safetensors",
}
"""deep-image's model_type is a choice of model: here, the checkpoint the user picks for each."""
ZIMAGE = {"unet": "z_image_turbo_bf16.safetensors", "clip": "qwen_3_4b.safetensors", "vae": "ae.safetensors"}
QWEN_IMAGE = {"unet": "qwen_image_fp8_e4m3fn.safetensors", "clip": "qwen_2.5_vl_7b_fp8_scaled.safetensors",
              "vae": "qwen_image_vae.safetensors"}
FLUX2 = {"unet": "flux2_dev_fp8mixed.safetensors", "clip": "mistral_3_small_flux2_fp8.safetensors",
         "vae": "flux2-vae.safetensors"}
"""FLUX.2 [dev], the FLUX.2 model ComfyUI 0.3.75 loads (its CLIPLoader knows the `flux2` Mistral-3 text encoder;
FLUX.2 [klein]'s Qwen3 text encoders need a newer ComfyUI)."""
HOSTED_NODES: dict[str, str] = {
    "GeminiImage2Node": "Google (Gemini 3 Pro Image, through the Comfy API)",
    "GeminiImageNode": "Google (Gemini 2.5 Flash Image, through the Comfy API)",
    "ByteDanceSeedreamNode": "ByteDance (Seedream 4.0, through the Comfy API)",
}
"""ComfyUI's own API nodes the hosted model_types use: they run on the provider's servers and need a Comfy
account (API key); this pack then brings their image to the exact size."""

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
    ZIMAGE["unet"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/diffusion_models/"
    "z_image_turbo_bf16.safetensors",
    ZIMAGE["clip"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors",
    ZIMAGE["vae"]: _HF + "Comfy-Org/z_image_turbo/resolve/main/split_files/vae/ae.safetensors",
    QWEN_IMAGE["unet"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/diffusion_models/"
    "qwen_image_fp8_e4m3fn.safetensors",
    QWEN_IMAGE["clip"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/text_encoders/"
    "qwen_2.5_vl_7b_fp8_scaled.safetensors",
    QWEN_IMAGE["vae"]: _HF + "Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/qwen_image_vae.safetensors",
    FLUX2["unet"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/diffusion_models/flux2_dev_fp8mixed.safetensors",
    FLUX2["clip"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/text_encoders/"
    "mistral_3_small_flux2_fp8.safetensors",
    FLUX2["vae"]: _HF + "Comfy-Org/flux2-dev/resolve/main/split_files/vae/flux2-vae.safetensors",
}
"""Where each model file a shipped workflow loads is published: the editor's Missing Models dialog offers these
(the addresses ComfyUI's own templates use where they ship the same file). A test checks every file has one."""
NO_MODEL = "none"


@dataclass(frozen=True)
class Workflow:
    """One shipped workflow: a file name, the request it reproduces, and its nodes in API format."""

    name: str
    summary: str
    """One paragraph for the note in the editor file: what it does and which request it reproduces."""
    prompt: ApiPrompt
    """API format, node id -> {class_type, inputs, _meta: {title}}; unlisted widget inputs take defaults."""
    title: str = ""
    """A readable title (the note's heading); empty = made from the name."""
    description: str = ""
    """One line: what the workflow does (the README's table); empty = the summary's first sentence."""

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    @property
    def one_line(self) -> str:
        return self.description or self.summary.split(". ")[0].split("\n")[0].rstrip(".") + "."

    @property
    def group(self) -> str:
        """upscaling, generation or adapters: the order the Templates browser and the README list them in."""
        types = {node["class_type"] for node in self.prompt.values()}
        adapters = {node["inputs"].get("adapter_type") for node in self.prompt.values()
                    if node["class_type"] == "AdapterSelect"}
        if adapters & ADAPTER_GROUP_TYPES:
            return "adapters"
        if "HiResGenerate" in types or types & set(HOSTED_NODES):
            return "generation"
        return "upscaling"

    @property
    def hosted(self) -> bool:
        """Whether the workflow runs a model on someone else's servers (a ComfyUI API node)."""
        return any(node["class_type"] in HOSTED_NODES for node in self.prompt.values())


GROUPS = ("upscaling", "generation", "adapters")
ADAPTER_GROUP_TYPES = frozenset({"generate_background", "face", "control", "control2", "inpainting"})
"""AdapterSelect types that make a workflow an adapter workflow (upscale is just the prompt)."""


def _node(class_type: str, title: str, **inputs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "class_type": class_type, "_meta": {"title": title}}


def _save(source: str, name: str) -> dict[str, Any]:
    return _node("SaveImage", "Save Image", images=[source, 0], filename_prefix=f"{OUTPUT_FOLDER}/{name}")


def _load_image(image: str = EXAMPLE_IMAGE) -> dict[str, Any]:
    return _node("LoadImage", "Load Image (your photo)", image=image)


def _checkpoint() -> dict[str, Any]:
    return _node("CheckpointLoaderSimple", "Load Checkpoint (any SD-family model)", ckpt_name=CHECKPOINT)


def _adapter(adapter_type: str, description: str, clip: list, **inputs: Any) -> dict[str, Any]:
    return _node("AdapterSelect", f"Adapter Select ({adapter_type})", adapter_type=adapter_type,
                 description=description, clip=clip, **inputs)


def _generate(title: str, adapter: list, model: list, clip: list, vae: list, **inputs: Any) -> dict[str, Any]:
    return _node("HiResGenerate", title, model=model, clip=clip, vae=vae, adapter=adapter, **inputs)


def _realesrgan() -> dict[str, Any]:
    return _node("UpscaleModelLoader", "Load Upscale Model (Real-ESRGAN)", model_name=REALESRGAN)


def _deepimage_json(request: Mapping[str, Any]) -> str:
    return "```json\n" + json.dumps(request, indent=2) + "\n```"


TEXT_ONLY_REQUEST = {"width": 2048, "height": 1024, "background": {"generate": {"description": CYBERPUNK_PROMPT}}}
"""deep-image's "Based on text only" request: every model_type workflow reproduces it with its own model."""


def _text_only_request(model_type: str | None) -> str:
    request = json.loads(json.dumps(TEXT_ONLY_REQUEST))
    if model_type:
        request["background"]["generate"]["model_type"] = model_type
    return _deepimage_json(request)


def _text_only(model_type: str, title: str) -> Workflow:
    name = f"text_to_image_{model_type}"
    return Workflow(
        name=name,
        title=title,
        description=f"2048 x 1024 from a prompt with your {model_type} checkpoint (deep-image model_type "
        f"{model_type}).",
        summary=f"deep-image.ai's \"Based on text only\" generation at 2048 x 1024 with model_type {model_type}: "
        "pick the checkpoint you use for that look. The model generates at its native resolution with the "
        "2:1 aspect ratio, then Real-ESRGAN brings it to exactly 2048 x 1024 (generative_upscale off).\n\n"
        + _text_only_request(None if model_type == "realistic" else model_type),
        prompt={
            "1": _node("CheckpointLoaderSimple", f"Load Checkpoint (model_type {model_type})",
                       ckpt_name=MODEL_TYPES[model_type]),
            "2": _adapter("upscale", CYBERPUNK_PROMPT, ["1", 1]),
            "3": _realesrgan(),
            "4": _generate("HiRes Generate", ["2", 0], ["1", 0], ["1", 1], ["1", 2], upscale_model=["3", 0],
                           width=2048, height=1024, generative_upscale=False),
            "5": _save("4", name),
        },
    )


def _separate_files(name: str, title: str, description: str, summary: str, files: Mapping[str, str], clip_type: str,
                    family: str, **settings: Any) -> Workflow:
    """A model family ComfyUI loads from separate UNET, text encoder and VAE files, through HiResGenerate."""
    return Workflow(
        name=name, title=title, description=description, summary=summary,
        prompt={
            "1": _node("UNETLoader", f"Load Diffusion Model ({family})", unet_name=files["unet"],
                       weight_dtype="default"),
            "2": _node("CLIPLoader", f"Load CLIP ({family} text encoder)", clip_name=files["clip"], type=clip_type,
                       device="default"),
            "3": _node("VAELoader", f"Load VAE ({family})", vae_name=files["vae"]),
            "4": _adapter("upscale", CYBERPUNK_PROMPT, ["2", 0]),
            "5": _generate("HiRes Generate", ["4", 0], ["1", 0], ["2", 0], ["3", 0], width=2048, height=1024,
                           **settings),
            "6": _save("5", name),
        },
    )


def _hosted(name: str, title: str, model_type: str, node: dict[str, Any], provider: str) -> Workflow:
    """A hosted model_type: ComfyUI's own API node generates, GenerativeUpscale brings it to the exact size."""
    return Workflow(
        name=name,
        title=title,
        description=f"2048 x 1024 from a prompt on {provider}'s servers (deep-image model_type {model_type}); needs "
        "a Comfy account.",
        summary=f"deep-image.ai's \"Based on text only\" generation with model_type {model_type}, through "
        f"ComfyUI's own {node['class_type']} API node: the image is made on {provider}'s servers, which needs a "
        "Comfy account signed in (or an API key) and is paid per image. The pack then brings the result to "
        "exactly 2048 x 1024: GenerativeUpscale at upscale_strength 7 (Real-ESRGAN, no diffusion), fit crop "
        "(the provider's 16:9 image covers the frame, the centre is kept).\n\n" + _text_only_request(model_type),
        prompt={
            "1": node,
            "2": _realesrgan(),
            "3": _node("GenerativeUpscale", "Generative Upscale (strength 7: to the exact size)", image=["1", 0],
                       upscale_model=["2", 0], width=2048, height=1024, fit="crop", upscale_strength=7),
            "4": _save("3", name),
        },
    )


_DEFINED: tuple[Workflow, ...] = (
    Workflow(
        name="upscale_realesrgan_to_width",
        title="Real-ESRGAN upscale to a width",
        description="A photo to 2048 px wide with Real-ESRGAN x4plus; no diffusion, no checkpoint.",
        summary="Upscale a photo to 2048 px wide with Real-ESRGAN x4plus, keeping its aspect ratio. "
        "upscale_strength 7 is the upscale_4 path with no diffusion pass, so no checkpoint is needed: the "
        "model upscales up to 4x and the rest of the way is bicubic.",
        prompt={
            "1": _load_image(),
            "2": _realesrgan(),
            "3": _node("GenerativeUpscale", "Generative Upscale (strength 7: Real-ESRGAN only)",
                       image=["1", 0], upscale_model=["2", 0], width=2048, height=0, upscale_strength=7),
            "4": _save("3", "upscale_realesrgan_to_width"),
        },
    ),
    Workflow(
        name="bicubic_clean_to_size",
        title="Clean resize to an exact size",
        description="A compressed or noisy photo to exactly 1600 x 1200: bicubic plus a measured cleanup pass.",
        summary="Resize a compressed, noisy or old photo to exactly 1600 x 1200: bicubic plus a learned cleanup "
        "pass whose strength is measured from the image (cleanup auto). fit canvas keeps the aspect ratio "
        "and pads to the frame.",
        prompt={
            "1": _load_image(),
            "2": _node("BicubicClean", "Bicubic Clean", image=["1", 0], width=1600, height=1200, fit="canvas",
                       cleanup="auto"),
            "3": _save("2", "bicubic_clean_to_size"),
        },
    ),
    Workflow(
        name="generative_upscale_to_width",
        title="Generative upscale to a width",
        description="Any photo to 3000 px wide with the tiled diffusion pass at strength 5 (medium).",
        summary="deep-image.ai's \"Upscale any image\" request: generative upscale of a regular photo to 3000 px "
        "wide at upscale_strength 5 (bicubic base, medium generative effect).\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 3000,
                           "generative_upscale": True, "upscale_strength": 5}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _node("GenerativeUpscale", "Generative Upscale", image=["1", 0], model=["2", 0], clip=["2", 1],
                       vae=["2", 2], width=3000, height=0, upscale_strength=5),
            "4": _save("3", "generative_upscale_to_width"),
        },
    ),
    Workflow(
        name="generative_upscale_prompt_guided",
        title="Prompt-guided generative upscale",
        description="A photo to 2048 x 1024 at strength 4, the diffusion pass guided by your prompt.",
        summary="deep-image.ai's \"Prompt-guided generative upscale\" request: 2048 x 1024 at upscale_strength 4 "
        "(Real-ESRGAN base, medium generative effect), the diffusion pass guided by the upscale adapter's "
        "prompt. Both sides are set, so fit canvas keeps the photo's aspect ratio and pads to the frame.\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 2048, "height": 1024,
                           "generative_upscale": True, "upscale_strength": 4,
                           "background": {"generate": {"adapter_type": "upscale", "description": COTTAGE_PROMPT}}}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _realesrgan(),
            "4": _node("AdapterSelect", "Adapter Select (upscale prompt)", adapter_type="upscale",
                       description=COTTAGE_PROMPT, clip=["2", 1]),
            "5": _node("GenerativeUpscale", "Generative Upscale", image=["1", 0], model=["2", 0], clip=["2", 1],
                       vae=["2", 2], adapter=["4", 0], upscale_model=["3", 0], width=2048, height=1024,
                       fit="canvas", upscale_strength=4),
            "6": _save("5", "generative_upscale_prompt_guided"),
        },
    ),
    Workflow(
        name="generative_upscale_default_strength",
        title="Generative upscale, default strength",
        description="A photo to 3000 px wide with the generative upscale at its default strength (5).",
        summary="deep-image.ai's \"Generative upscaling\" request from its image-generation guide: 3000 px wide "
        "with generative_upscale on and the default upscale_strength (5).\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 3000,
                           "generative_upscale": True}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _node("GenerativeUpscale", "Generative Upscale", image=["1", 0], model=["2", 0], clip=["2", 1],
                       vae=["2", 2], width=3000, height=0),
            "4": _save("3", "generative_upscale_default_strength"),
        },
    ),
    Workflow(
        name="hires_generate_from_prompt",
        title="High-resolution image from a prompt",
        description="2048 x 1024 from a prompt: native-resolution generation, then the generative upscale.",
        summary="deep-image.ai's \"Generate image in high resolution\" request: 2048 x 1024 from the prompt, "
        "generated at the model's native resolution with the 2:1 aspect ratio, then brought to the exact size "
        "by the generative upscale (generative_upscale on, upscale_strength 5) guided by the same prompt.\n\n"
        + _deepimage_json({"width": 2048, "height": 1024, "generative_upscale": True,
                           "background": {"generate": {"description": COTTAGE_PROMPT}}}),
        prompt={
            "1": _checkpoint(),
            "2": _adapter("upscale", COTTAGE_PROMPT, ["1", 1]),
            "3": _generate("HiRes Generate", ["2", 0], ["1", 0], ["1", 1], ["1", 2], width=2048, height=1024,
                           generative_upscale=True, upscale_strength=5),
            "4": _save("3", "hires_generate_from_prompt"),
        },
    ),
    _text_only("realistic", "Text to image: realistic"),
    _text_only("fantasy", "Text to image: fantasy"),
    _text_only("premium", "Text to image: premium (SDXL)"),
    _separate_files(
        "text_to_image_zimage_turbo", "Text to image: Z-Image-Turbo",
        "2048 x 1024 from a prompt with Z-Image-Turbo's UNET, text encoder and VAE files (8 steps).",
        "deep-image.ai's model_type z-image-turbo, with a model family ComfyUI loads from separate files: "
        "Z-Image-Turbo's UNET, its Qwen3-4B text encoder and its VAE. The cyberpunk prompt at 2048 x 1024 (8 steps, "
        "cfg 1, as the turbo model wants); HiResGenerate finds the family's native resolution itself.\n\n"
        + _text_only_request("z-image-turbo"),
        ZIMAGE, "lumina2", "Z-Image-Turbo",
        steps=8, cfg=1.0, sampler_name="res_multistep", scheduler="simple",
    ),
    _separate_files(
        "text_to_image_qwen", "Text to image: Qwen-Image",
        "2048 x 1024 from a prompt with Qwen-Image's UNET, text encoder and VAE files.",
        "deep-image.ai's model_type qwen: Qwen-Image from its three files (the diffusion model, the Qwen2.5-VL 7B "
        "text encoder and its VAE). HiResGenerate generates at Qwen-Image's native 1328 x 1328 pixel budget with "
        "the 2:1 aspect ratio, then reaches exactly 2048 x 1024 (clean bicubic resize without an upscale model; "
        "connect Real-ESRGAN for AI upscaling).\n\n" + _text_only_request("qwen"),
        QWEN_IMAGE, "qwen_image", "Qwen-Image",
        steps=20, cfg=2.5, sampler_name="euler", scheduler="simple",
    ),
    _separate_files(
        "text_to_image_flux2", "Text to image: FLUX.2",
        "2048 x 1024 from a prompt with FLUX.2 [dev]'s UNET, text encoder and VAE files.",
        "deep-image.ai's model_type flux2-klein9b, with the FLUX.2 model ComfyUI 0.3.75 loads: FLUX.2 [dev] "
        "(its diffusion model, the Mistral-3 Small text encoder and the FLUX.2 VAE). FLUX.2 [klein] 9B needs a newer "
        "ComfyUI, which knows its Qwen3 text encoder; with one, load its files here the same way. Guidance-"
        "distilled, so cfg 1.\n\n" + _text_only_request("flux2-klein9b"),
        FLUX2, "flux2", "FLUX.2",
        steps=20, cfg=1.0, sampler_name="euler", scheduler="simple",
    ),
    _hosted("text_to_image_gemini_3_pro", "Text to image: Gemini 3 Pro Image (hosted)",
            "gemini-3-pro-image-preview",
            _node("GeminiImage2Node", "Nano Banana Pro (Gemini 3 Pro Image)", prompt=CYBERPUNK_PROMPT,
                  model="gemini-3-pro-image-preview", seed=0, aspect_ratio="16:9", resolution="2K",
                  response_modalities="IMAGE"),
            "Google"),
    _hosted("text_to_image_gemini_flash", "Text to image: Gemini Flash Image (hosted)",
            "google-gemini-image-flash",
            _node("GeminiImageNode", "Nano Banana (Gemini 2.5 Flash Image)", prompt=CYBERPUNK_PROMPT,
                  model="gemini-2.5-flash-image", seed=0, aspect_ratio="16:9", response_modalities="IMAGE"),
            "Google"),
    _hosted("text_to_image_seedream", "Text to image: Seedream 4.0 (hosted)", "see-dream-4.5",
            _node("ByteDanceSeedreamNode", "ByteDance Seedream 4 (closest to Seedream 4.5)",
                  model="seedream-4-0-250828", prompt=CYBERPUNK_PROMPT, size_preset="2560x1440 (16:9)", seed=0,
                  sequential_image_generation="disabled",
                  watermark=False),
            "ByteDance"),
    Workflow(
        name="background_around_object",
        title="New background around an object",
        description="Keeps the photo's main object pixel for pixel and generates a background around it, 1024 x 1024.",
        summary="deep-image.ai's generate_background request: the main object of the photo is kept pixel for "
        "pixel (from a MASK if you connect one, else the image's alpha, else an automatic GrabCut estimate) "
        "and the background is generated around it, 1024 x 1024.\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 1024, "height": 1024,
                           "background": {"generate": {"description": "item on the beach",
                                                       "adapter_type": "generate_background"}}}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _adapter("generate_background", "item on the beach", ["2", 1], image=["1", 0]),
            "4": _generate("HiRes Generate", ["3", 0], ["2", 0], ["2", 1], ["2", 2], width=1024, height=1024),
            "5": _save("4", "background_around_object"),
        },
    ),
    Workflow(
        name="avatar_around_face",
        title="Avatar around a face",
        description="Keeps the first face of a portrait and generates the person and scene around it, 1024 x 1024.",
        summary="deep-image.ai's face request: the first face found (OpenCV) is kept and the avatar is generated "
        "around it, 1024 x 1024. face_id on keeps the face alone; off keeps the face with its hair.\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example3.jpg", "width": 1024, "height": 1024,
                           "background": {"generate": {"description": "model on the beach",
                                                       "adapter_type": "face"}}}),
        prompt={
            "1": _load_image(EXAMPLE_FACE_IMAGE),
            "2": _checkpoint(),
            "3": _adapter("face", "model on the beach", ["2", 1], image=["1", 0], face_id=False),
            "4": _generate("HiRes Generate", ["3", 0], ["2", 0], ["2", 1], ["2", 2], width=1024, height=1024),
            "5": _save("4", "avatar_around_face"),
        },
    ),
    Workflow(
        name="edges_guided_image_to_image",
        title="Image to image guided by edges",
        description="Regenerates a photo from a prompt, guided by its Canny edges through a ControlNet.",
        summary="deep-image.ai's control request: image to image guided by the photo's Canny edges through a "
        "ControlNet at controlnet_conditioning_scale 0.5. The request gives no size, so the output keeps the "
        "input's size (width and height 0).\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example3.jpg",
                           "background": {"generate": {"description": "model in the room",
                                                       "adapter_type": "control"}}}),
        prompt={
            "1": _load_image(EXAMPLE_FACE_IMAGE),
            "2": _checkpoint(),
            "3": _node("ControlNetLoader", "Load ControlNet (Canny)", control_net_name=CANNY_CONTROLNET),
            "4": _adapter("control", "model in the room", ["2", 1], image=["1", 0], control_net=["3", 0],
                          controlnet_conditioning_scale=0.5),
            "5": _generate("HiRes Generate", ["4", 0], ["2", 0], ["2", 1], ["2", 2], width=0, height=0),
            "6": _save("5", "edges_guided_image_to_image"),
        },
    ),
)

# --- Stability v1 upscale and deepmode: the graph builders (the REST endpoints build their graphs here too) ---

STABILITY_ENGINES = ("esrgan-v1-x2plus", "stable-diffusion-x4-latent-upscaler")
"""Stability v1's `image-to-image/upscale` engines."""
STABILITY_OUTPUT_NAMES = {"esrgan-v1-x2plus": "stability_esrgan_x2_upscale",
                          "stable-diffusion-x4-latent-upscaler": "stability_latent_x4_upscale"}
"""The SaveImage prefix of each engine's graph: the shipped workflow's name."""
STABILITY_SEED_MAX = 4_294_967_295
STABILITY_STEPS = (10, 150)
STABILITY_CFG_SCALE = (0.0, 35.0)
STABILITY_PROMPT_MAX_CHARS = 2000
STABILITY_LATENT_STRENGTH = 5
"""The latent upscaler as a generative upscale: bicubic base, medium diffusion pass (denoise 0.35)."""
WEIGHT_DECIMALS = 2
"""ConditioningAverage's strength widget steps by 0.01: the combined weights are written to that precision."""
DEEPMODE_RATIOS: dict[str, float] = {"portrait": 2 / 3, "square": 1.0}
"""deepmode's `ratio` (portrait is its default) as width / height."""
DEEPMODE_UPSCALE = 4
DEEPMODE_MAX_IMAGES = 8
SD15_NATIVE = 512
"""The shipped checkpoint's native side: deepmode's sizes are worked out for the model the graph loads."""
LANDSCAPE_PROMPT = "A beautiful landscape with mountains and a river."
LANDSCAPE_NEGATIVE = "rainy, foggy"


class _Graph:
    """An API prompt under construction: node ids 1, 2, 3, ... in the order nodes are added."""

    def __init__(self) -> None:
        self.prompt: ApiPrompt = {}

    def add(self, node: dict[str, Any]) -> list:
        node_id = str(len(self.prompt) + 1)
        self.prompt[node_id] = node
        return [node_id, 0]


def _out(link: list, index: int) -> list:
    return [link[0], index]


def _combine_by_weight(graph: _Graph, clip: list, prompts: Sequence[tuple[str, float]], title: str) -> list:
    """One CONDITIONING for several prompts: each encoded, then averaged by weight with ComfyUI's own
    ConditioningAverage (a running mean: the kept side's share is the weight so far over the new total)."""
    combined, total = None, 0.0
    for text, weight in prompts:
        encoded = graph.add(_node("CLIPTextEncode", f"{title} (weight {weight:g})", text=text, clip=clip))
        if combined is None:
            combined, total = encoded, weight
            continue
        share = round(total / (total + weight), WEIGHT_DECIMALS)
        combined = graph.add(_node("ConditioningAverage", f"{title}: combined by weight",
                                   conditioning_to=combined, conditioning_from=encoded,
                                   conditioning_to_strength=share))
        total += weight
    if combined is None:
        combined = graph.add(_node("CLIPTextEncode", f"{title} (none given)", text="", clip=clip))
    return combined


def _stability_prompts(prompts: Sequence[tuple[str, float]]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Stability's text_prompts split by sign: a negative weight is a negative prompt (its size its weight)."""
    positive, negative = [], []
    for index, (text, weight) in enumerate(prompts):
        name = f"text_prompts[{index}]"
        if not isinstance(text, str) or not text.strip() or len(text) > STABILITY_PROMPT_MAX_CHARS:
            raise HiResInputError(f"{name}[text]", text, f"must be 1 to {STABILITY_PROMPT_MAX_CHARS} characters",
                                  "give the prompt's text")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight == 0:
            raise HiResInputError(f"{name}[weight]", weight, "must be a finite number other than 0",
                                  "use a positive weight for a prompt, a negative one for a negative prompt")
        (positive if weight > 0 else negative).append((text, abs(float(weight))))
    return positive, negative


def _check_range(name: str, value: Any, low: float, high: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        low_text, high_text = (str(int(v)) if float(v).is_integer() else f"{v:g}" for v in (low, high))
        raise HiResInputError(name, value, f"must be {what} from {low_text} to {high_text}",
                              f"use a value in {low_text}..{high_text}")


def stability_upscale_graph(
    engine: str, *, width: int = 0, height: int = 0, prompts: Sequence[tuple[str, float]] = (), seed: int = 0,
    steps: int = 50, cfg_scale: float = 7.0, image: str = EXAMPLE_IMAGE, checkpoint: str = CHECKPOINT,
    upscale_model: str = REALESRGAN, rng: random.Random | None = None,
) -> ApiPrompt:
    """Stability v1's `image-to-image/upscale` request as a graph. Both engines size by Stability's rules
    (size_rules stability-v1: 2x by default, or one of width or height). `esrgan-v1-x2plus` is the AI upscaler
    alone (strength 7: no diffusion, no checkpoint); `stable-diffusion-x4-latent-upscaler` is the generative
    upscale guided by `prompts` ((text, weight), ...: negative weight = negative prompt, several combined by
    weight), with `seed` (0 = random, drawn here), `steps` (10-150) and `cfg_scale` (0-35)."""
    if engine not in STABILITY_ENGINES:
        raise HiResInputError("engine_id", engine, f"The specified engine (ID {engine}) was not found",
                              f"use one of {', '.join(STABILITY_ENGINES)}")
    _check_range("seed", seed, 0, STABILITY_SEED_MAX, "a whole number")
    _check_range("steps", steps, *STABILITY_STEPS, "a whole number")
    _check_range("cfg_scale", cfg_scale, *STABILITY_CFG_SCALE, "a number")
    positive, negative = _stability_prompts(prompts)
    graph = _Graph()
    loaded = graph.add(_load_image(image))
    size = {"width": width, "height": height, "size_rules": "stability-v1"}
    if engine == "esrgan-v1-x2plus":
        if prompts:
            raise HiResInputError("text_prompts", len(prompts), "esrgan-v1-x2plus takes no prompts",
                                  "leave text_prompts out, or use stable-diffusion-x4-latent-upscaler")
        upscaler = graph.add(_node("UpscaleModelLoader", "Load Upscale Model (ESRGAN)", model_name=upscale_model))
        upscaled = graph.add(_node("GenerativeUpscale", "Generative Upscale (ESRGAN alone, Stability's rules)",
                                   image=loaded, upscale_model=upscaler, upscale_strength=7, **size))
    else:
        if seed == 0:
            seed = (rng or random.SystemRandom()).randint(1, STABILITY_SEED_MAX)
        ckpt = graph.add(_node("CheckpointLoaderSimple", "Load Checkpoint (any SD-family model)",
                               ckpt_name=checkpoint))
        clip = _out(ckpt, 1)
        positive_cond = _combine_by_weight(graph, clip, positive, "Prompt")
        negative_cond = _combine_by_weight(graph, clip, negative, "Negative prompt")
        adapter = graph.add(_node("AdapterSelect", "Adapter Select (text_prompts)", adapter_type="upscale",
                                  positive=positive_cond, negative=negative_cond))
        upscaled = graph.add(_node(
            "GenerativeUpscale", "Generative Upscale (latent upscaler, Stability's rules)", image=loaded,
            model=_out(ckpt, 0), vae=_out(ckpt, 2), adapter=adapter, upscale_strength=STABILITY_LATENT_STRENGTH,
            seed=int(seed), steps=int(steps), cfg=float(cfg_scale), **size))
    graph.add(_save(upscaled[0], STABILITY_OUTPUT_NAMES[engine]))
    return graph.prompt


def deepmode_upscale_graph(image: str = EXAMPLE_IMAGE, upscale_model: str = REALESRGAN) -> ApiPrompt:
    """deepmode's `upscale`: x4 super-resolution of an existing image by the AI upscaler alone."""
    graph = _Graph()
    loaded = graph.add(_load_image(image))
    upscaler = graph.add(_realesrgan() | {"inputs": {"model_name": upscale_model}})
    upscaled = graph.add(_node("GenerativeUpscale", "Generative Upscale (x4, Real-ESRGAN alone)", image=loaded,
                               upscale_model=upscaler, upscale_strength=7, width=0, height=0,
                               scale_by=float(DEEPMODE_UPSCALE)))
    graph.add(_save(upscaled[0], "deepmode_upscale_x4"))
    return graph.prompt


def deepmode_sizes(ratio: str, upscale: bool, native: int = SD15_NATIVE) -> tuple[int, int]:
    """The output size of deepmode's `generate` for a model of `native` side: its budget at the ratio, x4 when
    `upscale` is true."""
    if ratio not in DEEPMODE_RATIOS:
        raise HiResInputError("ratio", ratio, "is not a deepmode ratio", f"use one of {', '.join(DEEPMODE_RATIOS)}")
    width, height = budget_size(native, DEEPMODE_RATIOS[ratio])
    factor = DEEPMODE_UPSCALE if upscale else 1
    return width * factor, height * factor


def deepmode_generate_graph(prompt: str, negative_prompt: str = "", num_images: int = 1, ratio: str = "portrait",
                            upscale: bool = False, seed: int = 0, *, checkpoint: str = CHECKPOINT,
                            native: int = SD15_NATIVE, upscale_model: str = REALESRGAN) -> ApiPrompt:
    """deepmode's `generate`: `num_images` (1-8) images as one batch, one seed each (seed + i), at the model's
    native budget with the `ratio`; with `upscale` true, x4 super-resolution by Real-ESRGAN."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise HiResInputError("prompt", prompt, "is required", "give the prompt's text")
    if isinstance(num_images, bool) or not isinstance(num_images, int) or not 1 <= num_images <= DEEPMODE_MAX_IMAGES:
        raise HiResInputError("num_images", num_images, f"must be from 1 to {DEEPMODE_MAX_IMAGES}",
                              "ask for 1 (the default) to 8 images")
    width, height = deepmode_sizes(ratio, upscale, native)
    graph = _Graph()
    ckpt = graph.add(_node("CheckpointLoaderSimple", "Load Checkpoint (deepmode's model_id)", ckpt_name=checkpoint))
    adapter = graph.add(_node("AdapterSelect", "Adapter Select (prompt)", adapter_type="upscale", description=prompt,
                              negative_prompt=negative_prompt, add_quality_suffix=False, clip=_out(ckpt, 1)))
    extra: dict[str, Any] = {}
    if upscale:
        extra["upscale_model"] = graph.add(_realesrgan() | {"inputs": {"model_name": upscale_model}})
    generated = graph.add(_generate(f"HiRes Generate ({ratio}{', x4' if upscale else ''})", adapter,
                                    _out(ckpt, 0), _out(ckpt, 1), _out(ckpt, 2), width=width, height=height,
                                    generative_upscale=False, num_images=num_images, sample_num=int(seed), **extra))
    graph.add(_save(generated[0], "deepmode_generate_upscaled" if upscale else "deepmode_generate"))
    return graph.prompt


def _form(fields: Mapping[str, Any]) -> str:
    return "```\n" + "\n".join(f"{key}={value}" for key, value in fields.items()) + "\n```"


STABILITY_EXAMPLE_PROMPTS = (("a photo of a tabby cat, sharp fur detail", 1.0), ("whiskers, bright eyes", 0.5),
                             ("blurry, jpeg artifacts", -1.0))
STABILITY_EXAMPLE_SEED = 1050625087
"""A fixed seed (the one in Stability's response example), so the shipped file is the same on every build."""

_DEFINED = _DEFINED + (
    Workflow(
        name="stability_esrgan_x2_upscale",
        title="Stability ESRGAN x2 upscale",
        description="A photo to 2x (or one given side) by Stability v1's rules, the AI upscaler alone.",
        summary="Stability v1's `image-to-image/upscale` with the `esrgan-v1-x2plus` engine: the AI upscaler "
        "alone, no diffusion (strength 7, no checkpoint), sized by Stability's rules (size_rules stability-v1): "
        "2x by default, or only one of width or height (at least 512); input at most 1,048,576 px, output at "
        "most 4,194,304 px. Real-ESRGAN x4plus stands in for the ESRGAN x2 model and is brought to the 2x size "
        "(a RealESRGAN_x2plus file works the same).\n\n"
        "POST /v1/generation/esrgan-v1-x2plus/image-to-image/upscale (multipart):\n" + _form({"image": "<file>"}),
        prompt=stability_upscale_graph("esrgan-v1-x2plus"),
    ),
    Workflow(
        name="stability_latent_x4_upscale",
        title="Stability latent upscale with prompts",
        description="A photo to 2x by Stability v1's rules through the diffusion pass, guided by weighted prompts.",
        summary="Stability v1's `image-to-image/upscale` with the `stable-diffusion-x4-latent-upscaler` engine: "
        "the generative upscale (bicubic base, medium diffusion pass) sized by Stability's rules (2x by "
        "default). `text_prompts` become the conditioning: positive weights are combined by weight with "
        "ComfyUI's ConditioningAverage, a negative weight is a negative prompt. `seed` 0 means random (the "
        "graph builder draws one; this file carries a fixed seed), `steps` 10-150 (default 50), `cfg_scale` 0-35 "
        "(default 7).\n\nPOST /v1/generation/stable-diffusion-x4-latent-upscaler/image-to-image/upscale "
        "(multipart):\n" + _form({
            "image": "<file>",
            **{f"text_prompts[{i}][{key}]": value for i, (text, weight) in enumerate(STABILITY_EXAMPLE_PROMPTS)
               for key, value in (("text", text), ("weight", weight))},
            "seed": STABILITY_EXAMPLE_SEED, "steps": 50, "cfg_scale": 7}),
        prompt=stability_upscale_graph("stable-diffusion-x4-latent-upscaler", prompts=STABILITY_EXAMPLE_PROMPTS,
                                       seed=STABILITY_EXAMPLE_SEED),
    ),
    Workflow(
        name="deepmode_upscale_x4",
        title="deepmode x4 upscale",
        description="Any image to 4x its size with Real-ESRGAN x4plus alone; no diffusion, no checkpoint.",
        summary="deepmode.ai's `upscale`: x4 super-resolution of an existing image, by Real-ESRGAN x4plus alone "
        "(strength 7: no diffusion, no checkpoint; scale_by 4).\n\n"
        + _deepimage_json({"image_id": "<the id of your image: here, the Load Image node>"}),
        prompt=deepmode_upscale_graph(),
    ),
    Workflow(
        name="deepmode_generate_upscaled",
        title="deepmode generate, upscaled x4",
        description="A batch of images from a prompt at the model's native size and ratio, then 4x by Real-ESRGAN.",
        summary="deepmode.ai's `generate` with `upscale: true`: num_images images as one batch (one seed each: "
        "sample_num + i) at the model's native budget with the ratio (portrait 2:3 or square), then x4 "
        "super-resolution by Real-ESRGAN: 1664 x 2496 for SD1.5's 416 x 624 portrait. The checkpoint stands in "
        "for deepmode's model_id.\n\n"
        + _deepimage_json({"model_id": "<your model>", "prompt": LANDSCAPE_PROMPT,
                           "negative_prompt": LANDSCAPE_NEGATIVE, "num_images": 2, "upscale": True,
                           "ratio": "portrait"}),
        prompt=deepmode_generate_graph(LANDSCAPE_PROMPT, LANDSCAPE_NEGATIVE, num_images=2, ratio="portrait",
                                       upscale=True),
    ),
)

WORKFLOWS: tuple[Workflow, ...] = tuple(sorted(_DEFINED, key=lambda workflow: GROUPS.index(workflow.group)))
"""Every shipped workflow, upscaling first, then generation, then adapters (a stable sort: within a group, in
the order defined above)."""


def model_references(prompt: ApiPrompt) -> set[tuple[str, str]]:
    """(model folder, file name) for every model file the prompt names."""
    refs = set()
    for node in prompt.values():
        for name, value in node["inputs"].items():
            folder = MODEL_FOLDERS.get((node["class_type"], name))
            if folder and isinstance(value, str) and value != NO_MODEL:
                refs.add((folder, value))
    return refs


def input_images(prompt: ApiPrompt) -> set[str]:
    """The files the prompt's LoadImage nodes read from ComfyUI's input folder."""
    return {node["inputs"]["image"] for node in prompt.values() if node["class_type"] == "LoadImage"}
