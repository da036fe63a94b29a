"""The catalog of shipped workflows: every documented request as a Workflow, with the note that explains it.

Pure data (no ComfyUI import). The graphs come from `graphs`, the same builders the REST API uses, so a
shipped file and a graph built for a request can never disagree. `scripts/workflows.py` writes them as the
editor and API files under `workflows/`. Unlisted widget inputs take the node's defaults (see
`api_prompt.complete_prompt`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..graphs.building import adapter as _adapter
from ..graphs.building import generate as _generate
from ..graphs.building import load_image
from ..graphs.building import node as _node
from ..graphs.building import save as _save
from ..graphs.deepimage import checkpoint_text_to_image, family_text_to_image, hosted_text_to_image
from ..graphs.deepmode import deepmode_generate_graph, deepmode_upscale_graph
from ..graphs.models import CANNY_CONTROLNET, FLUX2, QWEN_IMAGE, ZIMAGE, ModelFamily, checkpoint_loader
from ..graphs.models import realesrgan_loader as _realesrgan
from ..graphs.stability import stability_upscale_graph
from .workflow import GROUPS, Workflow

EXAMPLE_IMAGE = "hires_example.png"
"""The file every shipped LoadImage names; users pick their own image in the editor."""
EXAMPLE_FACE_IMAGE = "hires_example_face.png"
"""The file the face workflows name: a portrait (the face adapter needs a face to keep)."""
COTTAGE_PROMPT = "small cottage and cows eating grass on the green fields. Sunset."
CYBERPUNK_PROMPT = ("woman in a futuristic suit holding a gun in her hand, looking at the camera, cyberpunk art, "
                    "neo-figurative, anime")


def _load_image(image: str = EXAMPLE_IMAGE) -> dict[str, Any]:
    return load_image(image)


def _checkpoint() -> dict[str, Any]:
    return checkpoint_loader()


def _deepimage_json(request: Mapping[str, Any]) -> str:
    return "```json\n" + json.dumps(request, indent=2) + "\n```"


TEXT_ONLY_REQUEST = {"width": 2048, "height": 1024, "background": {"generate": {"description": CYBERPUNK_PROMPT}}}
"""deep-image's "Based on text only" request: every model_type workflow reproduces it with its own model."""
TEXT_ONLY_SIZE = (TEXT_ONLY_REQUEST["width"], TEXT_ONLY_REQUEST["height"])


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
        prompt=checkpoint_text_to_image(model_type, CYBERPUNK_PROMPT, *TEXT_ONLY_SIZE, name),
    )


def _separate_files(name: str, title: str, description: str, summary: str, family: ModelFamily) -> Workflow:
    """A model family ComfyUI loads from separate UNET, text encoder and VAE files, through HiResGenerate."""
    return Workflow(name=name, title=title, description=description, summary=summary,
                    prompt=family_text_to_image(family, CYBERPUNK_PROMPT, *TEXT_ONLY_SIZE, name))


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
        prompt=hosted_text_to_image(node, *TEXT_ONLY_SIZE, name),
    )


def _form(fields: Mapping[str, Any]) -> str:
    return "```\n" + "\n".join(f"{key}={value}" for key, value in fields.items()) + "\n```"


STABILITY_EXAMPLE_PROMPTS = (("a photo of a tabby cat, sharp fur detail", 1.0), ("whiskers, bright eyes", 0.5),
                             ("blurry, jpeg artifacts", -1.0))
STABILITY_EXAMPLE_SEED = 1050625087
"""A fixed seed (the one in Stability's response example), so the shipped file is the same on every build."""
LANDSCAPE_PROMPT = "A beautiful landscape with mountains and a river."
LANDSCAPE_NEGATIVE = "rainy, foggy"


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
        ZIMAGE,
    ),
    _separate_files(
        "text_to_image_qwen", "Text to image: Qwen-Image",
        "2048 x 1024 from a prompt with Qwen-Image's UNET, text encoder and VAE files.",
        "deep-image.ai's model_type qwen: Qwen-Image from its three files (the diffusion model, the Qwen2.5-VL 7B "
        "text encoder and its VAE). HiResGenerate generates at Qwen-Image's native 1328 x 1328 pixel budget with "
        "the 2:1 aspect ratio, then reaches exactly 2048 x 1024 (clean bicubic resize without an upscale model; "
        "connect Real-ESRGAN for AI upscaling).\n\n" + _text_only_request("qwen"),
        QWEN_IMAGE,
    ),
    _separate_files(
        "text_to_image_flux2", "Text to image: FLUX.2",
        "2048 x 1024 from a prompt with FLUX.2 [dev]'s UNET, text encoder and VAE files.",
        "deep-image.ai's model_type flux2-klein9b, with the FLUX.2 model ComfyUI 0.3.75 loads: FLUX.2 [dev] "
        "(its diffusion model, the Mistral-3 Small text encoder and the FLUX.2 VAE). FLUX.2 [klein] 9B needs a newer "
        "ComfyUI, which knows its Qwen3 text encoder; with one, load its files here the same way. Guidance-"
        "distilled, so cfg 1.\n\n" + _text_only_request("flux2-klein9b"),
        FLUX2,
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
        prompt=stability_upscale_graph("esrgan-v1-x2plus", image=EXAMPLE_IMAGE),
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
        prompt=stability_upscale_graph("stable-diffusion-x4-latent-upscaler", image=EXAMPLE_IMAGE,
                                       prompts=STABILITY_EXAMPLE_PROMPTS, seed=STABILITY_EXAMPLE_SEED),
    ),
    Workflow(
        name="deepmode_upscale_x4",
        title="deepmode x4 upscale",
        description="Any image to 4x its size with Real-ESRGAN x4plus alone; no diffusion, no checkpoint.",
        summary="deepmode.ai's `upscale`: x4 super-resolution of an existing image, by Real-ESRGAN x4plus alone "
        "(strength 7: no diffusion, no checkpoint; scale_by 4).\n\n"
        + _deepimage_json({"image_id": "<the id of your image: here, the Load Image node>"}),
        prompt=deepmode_upscale_graph(EXAMPLE_IMAGE),
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
