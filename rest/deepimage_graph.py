"""deep-image's request as the API-format graph its shipped workflow holds (the model files and families come
from `graphs`, as the shipped workflows' do; tests/e2e/test_rest_api.py proves each seed request builds its
shipped graph). Pure: no ComfyUI import."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..core.sizing import MAX_SIDE, parse_percent, plan_size, resolve_dimension
from ..core.strength import DEFAULT_PLAIN_STRENGTH, DEFAULT_STRENGTH, strength_preset
from ..graphs.models import CANNY_CONTROLNET, CHECKPOINT, FAMILIES, MODEL_TYPES, REALESRGAN
from .deepimage import DEFAULT_FIT, DENOISE_CLEANUP, IMAGE_ADAPTERS, TOO_LARGE, DeepImageRequest
from .print_sizes import oriented

SAVE_NODE = "save"


def _node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "class_type": class_type, "_meta": {"title": class_type}}


@dataclass(frozen=True)
class ModelChoice:
    """The loader nodes of a model_type, the links to its model, clip and vae, the diffusion settings it needs,
    and whether its text-to-image workflow AI-upscales to the size (Real-ESRGAN) or resizes."""

    nodes: dict[str, Any]
    model: list
    clip: list
    vae: list
    settings: dict[str, Any]
    text_upscaler: bool


def _model_choice(model_type: str | None) -> ModelChoice:
    if model_type in FAMILIES:
        family = FAMILIES[model_type]
        nodes = {class_type.lower(): _node(class_type, **inputs)
                 for class_type, inputs in family.loader_inputs().items()}
        return ModelChoice(nodes, ["unetloader", 0], ["cliploader", 0], ["vaeloader", 0], family.settings, False)
    ckpt = MODEL_TYPES[model_type] if model_type else CHECKPOINT
    return ModelChoice({"ckpt": _node("CheckpointLoaderSimple", ckpt_name=ckpt)}, ["ckpt", 0], ["ckpt", 1],
                       ["ckpt", 2], {}, True)


def _adapter_node(generate: Mapping[str, Any], adapter_type: str, clip: list, **links: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"adapter_type": adapter_type, "description": generate.get("description", ""),
                              "clip": clip, **links}
    for name in ("negative_prompt", "face_id", "controlnet_conditioning_scale"):
        if name in generate:
            inputs[name] = generate[name]
    return _node("AdapterSelect", **inputs)


def upscale_sizes(request: DeepImageRequest, source: tuple[int, int]) -> dict[str, Any]:
    """GenerativeUpscale's size inputs for the request on an image of `source` size, checked by the sizing
    rules now (so a too-large size is refused at the request, in deep-image's words)."""
    one = (request.width is None) != (request.height is None)
    for name, side in (("width", 0), ("height", 1)):
        value = getattr(request, name)
        percent = parse_percent(value)
        if percent is not None and max(source if one else (source[side],)) * percent / 100.0 > MAX_SIDE:
            raise HiResInputError(name, value, TOO_LARGE, f"ask for at most {MAX_SIDE} pixels per side")
    plan_size(source[0], source[1], request.width, request.height, request.fit, 1.0)
    percent = parse_percent(request.width if request.height is None else request.height) if one else None
    if percent is not None:
        return {"width": 0, "height": 0, "scale_by": percent / 100.0}
    sizes: dict[str, Any] = {name: resolve_dimension(name, getattr(request, name), source[side]) or 0
                             for name, side in (("width", 0), ("height", 1))}
    if request.width is None and request.height is None:
        sizes["scale_by"] = 1.0
    elif request.width is not None and request.height is not None:
        sizes["fit"] = request.fit
    return sizes


def _resize_extras(request: DeepImageRequest) -> dict[str, Any]:
    """The deep-image resize fields beyond the size (GenerativeUpscale's padding, min_length, crop_focus and
    fill_color inputs), set only when the request gives them."""
    extras: dict[str, Any] = {}
    if request.padding is not None:
        extras["padding"] = str(request.padding)
    if request.min_length:
        extras["min_length"] = request.min_length
    if request.crop_focus is not None:
        extras["crop_focus"] = request.crop_focus
    if request.background_color:
        extras["fill_color"] = request.background_color
    return extras


def build_graph(request: DeepImageRequest, *, image: str | None, source: tuple[int, int] | None,
                mask: str | None = None, prefix: str = "hires_studio_api/result") -> ApiPrompt:
    """The API-format graph of the request: `image` and `mask` are the files (in ComfyUI's input folder) the
    request's url and ip_image2 were saved as, `source` the image's size."""
    if request.print_size and request.print_reorientation and source:
        width, height = oriented((request.width, request.height), source)
        request = dataclasses.replace(request, width=width, height=height)
    graph: ApiPrompt = {}
    if image is not None:
        graph["image"] = _node("LoadImage", image=image)
        if request.denoise:
            graph["denoise"] = _node("BicubicClean", image=["image", 0], width=0, height=0, fit=DEFAULT_FIT,
                                     scale_by=1.0, cleanup=DENOISE_CLEANUP)
    source_link = ["denoise" if request.denoise else "image", 0]
    if request.url is not None and request.adapter_type in (None, "upscale"):
        final = _upscale_nodes(graph, request, source_link, source)
    else:
        final = _generation_nodes(graph, request, source_link, mask)
    graph[SAVE_NODE] = _node("SaveImage", images=[final, 0], filename_prefix=prefix)
    return graph


def _upscale_nodes(graph: ApiPrompt, request: DeepImageRequest, source_link: list,
                   source: tuple[int, int] | None) -> str:
    """GenerativeUpscale on the input image (and what it loads): the id of its node."""
    generate = request.generate or {}
    preset = strength_preset(request.upscale_strength or (
        DEFAULT_STRENGTH if request.generative_upscale else DEFAULT_PLAIN_STRENGTH))
    if not request.generative_upscale:
        preset = strength_preset(preset.base_path_only)
    main: dict[str, Any] = {"image": source_link, "upscale_strength": preset.strength}
    if preset.generative:
        choice = _model_choice(generate.get("model_type"))
        graph.update(choice.nodes)
        main.update(model=choice.model, clip=choice.clip, vae=choice.vae, **choice.settings)
    if preset.uses_upscale_model:
        graph["upscaler"] = _node("UpscaleModelLoader", model_name=REALESRGAN)
        main["upscale_model"] = ["upscaler", 0]
    if request.adapter_type == "upscale":
        graph["adapter"] = _adapter_node(generate, "upscale", main["clip"])
        main["adapter"] = ["adapter", 0]
    if "sample_num" in generate:
        main["seed"] = generate["sample_num"]
    main.update(upscale_sizes(request, source or (0, 0)))
    main.update(_resize_extras(request))
    graph["upscale"] = _node("GenerativeUpscale", **main)
    return "upscale"


def _generation_nodes(graph: ApiPrompt, request: DeepImageRequest, source_link: list, mask: str | None) -> str:
    """HiResGenerate with its adapter (and what they load): the id of its node."""
    adapter = request.adapter_type
    generate = request.generate or {}
    choice = _model_choice(generate.get("model_type"))
    graph.update(choice.nodes)
    links: dict[str, Any] = {}
    if adapter in IMAGE_ADAPTERS:
        links["image"] = source_link
    if adapter in ("control", "control2"):
        graph["controlnet"] = _node("ControlNetLoader", control_net_name=CANNY_CONTROLNET)
        links["control_net"] = ["controlnet", 0]
    if adapter == "inpainting":
        graph["mask"] = _node("LoadImageMask", image=mask, channel="red")
        links["mask"] = ["mask", 0]
    graph["adapter"] = _adapter_node(generate, adapter, choice.clip, **links)
    main = {"model": choice.model, "clip": choice.clip, "vae": choice.vae, "adapter": ["adapter", 0],
            "width": request.width or 0, "height": request.height or 0,
            "generative_upscale": request.generative_upscale, **choice.settings}
    if request.upscale_strength is not None:
        main["upscale_strength"] = request.upscale_strength
    preset = strength_preset(request.upscale_strength or DEFAULT_STRENGTH)
    text_only = adapter not in IMAGE_ADAPTERS
    if (text_only and choice.text_upscaler and not request.generative_upscale) or (
            request.generative_upscale and preset.uses_upscale_model):
        graph["upscaler"] = _node("UpscaleModelLoader", model_name=REALESRGAN)
        main["upscale_model"] = ["upscaler", 0]
    if "sample_num" in generate:
        main["sample_num"] = generate["sample_num"]
    graph["generate"] = _node("HiResGenerate", **main)
    return "generate"
