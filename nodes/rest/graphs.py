"""The Stability v1 and deepmode graphs the routes queue: `nodes.shipped_workflows`' builders of these names
when the installed pack has them (they also make the shipped workflow files, so a request and its file agree),
else the minimal ones below (plain GenerativeUpscale / HiResGenerate graphs with the nodes' current inputs).

Pure: no ComfyUI import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import shipped_workflows as shipped
from ..api_prompt import ApiPrompt

STABILITY_ENGINES = ("esrgan-v1-x2plus", "stable-diffusion-x4-latent-upscaler")
DEEPMODE_RATIOS = ("portrait", "square")
DEEPMODE_SIDES = {"portrait": (2, 3), "square": (1, 1)}
"""width : height of deepmode's ratios."""
NATIVE_SIDE = 512


def _node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "class_type": class_type, "_meta": {"title": class_type}}


def _save(source: str) -> dict[str, Any]:
    return _node("SaveImage", images=[source, 0], filename_prefix="hires_studio_api/result")


def _weighted_prompts(prompts: Sequence[tuple[str, float]]) -> tuple[str, str]:
    """Stability's text_prompts as one positive and one negative prompt: a negative weight is a negative
    prompt; positive prompts are joined, the heavier first."""
    positive = [text for text, weight in sorted(prompts, key=lambda p: -p[1]) if weight >= 0]
    negative = [text for text, weight in prompts if weight < 0]
    return ", ".join(positive), ", ".join(negative)


def minimal_stability_upscale_graph(engine: str, *, width: int = 0, height: int = 0,
                                    prompts: Sequence[tuple[str, float]] = (), seed: int = 0, steps: int = 50,
                                    cfg_scale: float = 7.0, image: str = shipped.EXAMPLE_IMAGE) -> ApiPrompt:
    """esrgan-v1-x2plus: the AI upscaler alone (strength 7); the latent upscaler: the generative pass guided by
    the text prompts. 2x when width and height are 0 (the routes check Stability's size rules first)."""
    sizes = {"width": width, "height": height, "scale_by": 2.0}
    graph: ApiPrompt = {"image": _node("LoadImage", image=image)}
    if engine == STABILITY_ENGINES[0]:
        graph["upscaler"] = _node("UpscaleModelLoader", model_name=shipped.REALESRGAN)
        graph["upscale"] = _node("GenerativeUpscale", image=["image", 0], upscale_model=["upscaler", 0],
                                 upscale_strength=7, **sizes)
    else:
        positive, negative = _weighted_prompts(prompts)
        graph["ckpt"] = _node("CheckpointLoaderSimple", ckpt_name=shipped.CHECKPOINT)
        graph["adapter"] = _node("AdapterSelect", adapter_type="upscale", description=positive,
                                 negative_prompt=negative, add_quality_suffix=False, clip=["ckpt", 1])
        graph["upscale"] = _node("GenerativeUpscale", image=["image", 0], model=["ckpt", 0], clip=["ckpt", 1],
                                 vae=["ckpt", 2], adapter=["adapter", 0], upscale_strength=5, seed=seed,
                                 steps=steps, cfg=cfg_scale, **sizes)
    graph["save"] = _save("upscale")
    return graph


def minimal_deepmode_upscale_graph(image: str = shipped.EXAMPLE_IMAGE) -> ApiPrompt:
    """x4 super-resolution by the AI upscaler, no diffusion."""
    return {
        "image": _node("LoadImage", image=image),
        "upscaler": _node("UpscaleModelLoader", model_name=shipped.REALESRGAN),
        "upscale": _node("GenerativeUpscale", image=["image", 0], upscale_model=["upscaler", 0], upscale_strength=7,
                         width=0, height=0, scale_by=4.0),
        "save": _save("upscale"),
    }


def minimal_deepmode_generate_graph(prompt: str, negative_prompt: str = "", num_images: int = 1,
                                    ratio: str = "portrait", upscale: bool = False, seed: int = 0, *,
                                    native: int = NATIVE_SIDE) -> ApiPrompt:
    """num_images images (seed + i each) at the model's native budget with the ratio, x4 by the AI upscaler
    when upscale is on."""
    w, h = DEEPMODE_SIDES[ratio]
    scale = (native * native / (w * h)) ** 0.5
    width, height = (max(16, round(scale * side / 16) * 16) * (4 if upscale else 1) for side in (w, h))
    graph: ApiPrompt = {
        "ckpt": _node("CheckpointLoaderSimple", ckpt_name=shipped.CHECKPOINT),
        "adapter": _node("AdapterSelect", adapter_type="upscale", description=prompt, negative_prompt=negative_prompt,
                         add_quality_suffix=False, clip=["ckpt", 1]),
    }
    extra: dict[str, Any] = {}
    if upscale:
        graph["upscaler"] = _node("UpscaleModelLoader", model_name=shipped.REALESRGAN)
        extra["upscale_model"] = ["upscaler", 0]
    for i in range(num_images):
        graph[f"generate{i}"] = _node("HiResGenerate", model=["ckpt", 0], clip=["ckpt", 1], vae=["ckpt", 2],
                                      adapter=["adapter", 0], width=width, height=height, generative_upscale=False,
                                      sample_num=seed + i, **extra)
        graph[f"save{i}"] = _save(f"generate{i}")
    return graph


def _builder(name: str, fallback: Callable[..., ApiPrompt]) -> Callable[..., ApiPrompt]:
    return getattr(shipped, name, fallback)


stability_upscale_graph = _builder("stability_upscale_graph", minimal_stability_upscale_graph)
deepmode_upscale_graph = _builder("deepmode_upscale_graph", minimal_deepmode_upscale_graph)
deepmode_generate_graph = _builder("deepmode_generate_graph", minimal_deepmode_generate_graph)
