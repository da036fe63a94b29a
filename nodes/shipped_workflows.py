"""The shipped workflows, defined once in ComfyUI's API format: the graph of every documented request.

Pure data and builders (no ComfyUI import). `scripts/workflows.py` writes them as the editor and API files under
`workflows/`; anything that turns a request into a graph starts from these same definitions, so a shipped file
and a graph built at run time can never disagree. Unlisted widget inputs take the node's defaults (see
`api_prompt.complete_prompt`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .api_prompt import ApiPrompt

PACK_FOLDER = "hires_studio"
"""The folder name ComfyUI loads the pack under: its templates are served under this name."""

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
MODEL_URLS: dict[str, str] = {
    CHECKPOINT: "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
    "v1-5-pruned-emaonly-fp16.safetensors",
    REALESRGAN: "https://huggingface.co/Comfy-Org/Real-ESRGAN_repackaged/resolve/main/RealESRGAN_x4plus.safetensors",
}
"""Where the editor's missing-model dialog may point a user (the addresses ComfyUI's own templates use)."""
NO_MODEL = "none"


@dataclass(frozen=True)
class Workflow:
    """One shipped workflow: a file name, the request it reproduces, and its nodes in API format."""

    name: str
    summary: str
    """One paragraph for the note in the editor file: what it does and which request it reproduces."""
    prompt: ApiPrompt
    """API format, node id -> {class_type, inputs, _meta: {title}}; unlisted widget inputs take defaults."""


def _node(class_type: str, title: str, **inputs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "class_type": class_type, "_meta": {"title": title}}


def _save(source: str, name: str) -> dict[str, Any]:
    return _node("SaveImage", "Save Image", images=[source, 0], filename_prefix=f"{PACK_FOLDER}/{name}")


def _load_image(image: str = EXAMPLE_IMAGE) -> dict[str, Any]:
    return _node("LoadImage", "Load Image (your photo)", image=image)


def _checkpoint() -> dict[str, Any]:
    return _node("CheckpointLoaderSimple", "Load Checkpoint (any SD-family model)", ckpt_name=CHECKPOINT)


def _adapter(adapter_type: str, description: str, clip: list, **inputs: Any) -> dict[str, Any]:
    return _node("AdapterSelect", f"Adapter Select ({adapter_type})", adapter_type=adapter_type,
                 description=description, clip=clip, **inputs)


def _generate(title: str, adapter: list, model: list, clip: list, vae: list, **inputs: Any) -> dict[str, Any]:
    return _node("HiResGenerate", title, model=model, clip=clip, vae=vae, adapter=adapter, **inputs)


def _text_only(model_type: str) -> Workflow:
    request = {"width": 2048, "height": 1024, "background": {"generate": {"description": CYBERPUNK_PROMPT}}}
    if model_type != "realistic":
        request["background"]["generate"]["model_type"] = model_type
    return Workflow(
        name=f"deepimage_text_only_{model_type}",
        summary=f"deep-image.ai's \"Based on text only\" generation at 2048 x 1024 with model_type {model_type}: "
        "pick the checkpoint you use for that look. The model generates at its native resolution with the "
        "2:1 aspect ratio, then Real-ESRGAN brings it to exactly 2048 x 1024 (generative_upscale off).\n\n"
        + _deepimage_json(request),
        prompt={
            "1": _node("CheckpointLoaderSimple", f"Load Checkpoint (model_type {model_type})",
                       ckpt_name=MODEL_TYPES[model_type]),
            "2": _adapter("upscale", CYBERPUNK_PROMPT, ["1", 1]),
            "3": _realesrgan(),
            "4": _generate("HiRes Generate", ["2", 0], ["1", 0], ["1", 1], ["1", 2], upscale_model=["3", 0],
                           width=2048, height=1024, generative_upscale=False),
            "5": _save("4", f"deepimage_text_only_{model_type}"),
        },
    )


def _realesrgan() -> dict[str, Any]:
    return _node("UpscaleModelLoader", "Load Upscale Model (Real-ESRGAN)", model_name=REALESRGAN)


def _deepimage_json(request: Mapping[str, Any]) -> str:
    return "```json\n" + json.dumps(request, indent=2) + "\n```"


WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(
        name="upscale_realesrgan_to_width",
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
        name="deepimage_upscale_any_image",
        summary="deep-image.ai's \"Upscale any image\" request: generative upscale of a regular photo to 3000 px "
        "wide at upscale_strength 5 (bicubic base, medium generative effect).\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 3000,
                           "generative_upscale": True, "upscale_strength": 5}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _node("GenerativeUpscale", "Generative Upscale", image=["1", 0], model=["2", 0], clip=["2", 1],
                       vae=["2", 2], width=3000, height=0, upscale_strength=5),
            "4": _save("3", "deepimage_upscale_any_image"),
        },
    ),
    Workflow(
        name="deepimage_prompt_guided_upscale",
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
            "6": _save("5", "deepimage_prompt_guided_upscale"),
        },
    ),
    Workflow(
        name="deepimage_generative_upscaling",
        summary="deep-image.ai's \"Generative upscaling\" request from its image-generation guide: 3000 px wide "
        "with generative_upscale on and the default upscale_strength (5).\n\n"
        + _deepimage_json({"url": "https://deep-image.ai/api-example.png", "width": 3000,
                           "generative_upscale": True}),
        prompt={
            "1": _load_image(),
            "2": _checkpoint(),
            "3": _node("GenerativeUpscale", "Generative Upscale", image=["1", 0], model=["2", 0], clip=["2", 1],
                       vae=["2", 2], width=3000, height=0),
            "4": _save("3", "deepimage_generative_upscaling"),
        },
    ),
    Workflow(
        name="deepimage_hires_generation",
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
            "4": _save("3", "deepimage_hires_generation"),
        },
    ),
    _text_only("realistic"),
    _text_only("fantasy"),
    _text_only("premium"),
    Workflow(
        name="deepimage_item_on_the_beach",
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
            "5": _save("4", "deepimage_item_on_the_beach"),
        },
    ),
    Workflow(
        name="deepimage_model_on_the_beach",
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
            "5": _save("4", "deepimage_model_on_the_beach"),
        },
    ),
    Workflow(
        name="deepimage_model_in_the_room",
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
            "6": _save("5", "deepimage_model_in_the_room"),
        },
    ),
    Workflow(
        name="zimage_turbo_text_to_image",
        summary="The same nodes with a model family ComfyUI loads from separate files: Z-Image-Turbo's UNET, "
        "its Qwen3-4B text encoder and its VAE. The cyberpunk prompt at 2048 x 1024 (8 steps, cfg 1, as the "
        "turbo model wants); HiResGenerate finds the family's native resolution itself.",
        prompt={
            "1": _node("UNETLoader", "Load Diffusion Model (Z-Image-Turbo)", unet_name=ZIMAGE["unet"],
                       weight_dtype="default"),
            "2": _node("CLIPLoader", "Load CLIP (Qwen3-4B)", clip_name=ZIMAGE["clip"], type="lumina2",
                       device="default"),
            "3": _node("VAELoader", "Load VAE", vae_name=ZIMAGE["vae"]),
            "4": _adapter("upscale", CYBERPUNK_PROMPT, ["2", 0]),
            "5": _generate("HiRes Generate", ["4", 0], ["1", 0], ["2", 0], ["3", 0], width=2048, height=1024,
                           steps=8, cfg=1.0, sampler_name="res_multistep", scheduler="simple"),
            "6": _save("5", "zimage_turbo_text_to_image"),
        },
    ),
)

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

