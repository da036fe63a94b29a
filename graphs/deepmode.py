"""deepmode's `upscale` and `generate` as graphs: x4 by the AI upscaler alone, and a batch of images at the
model's native budget with deepmode's ratio (x4 after when asked)."""

from __future__ import annotations

from typing import Any

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..core.native import budget_size
from ..core.request_rules import DEFAULT_NUM_IMAGES, check_num_images
from ..core.strength import DEFAULT_PLAIN_STRENGTH
from .building import Graph, generate, load_image, node, output, save
from .models import CHECKPOINT, REALESRGAN, checkpoint_loader, realesrgan_loader

DEEPMODE_RATIOS: dict[str, float] = {"portrait": 2 / 3, "square": 1.0}
"""deepmode's `ratio` as width / height."""
DEEPMODE_DEFAULT_RATIO = "portrait"
DEEPMODE_UPSCALE = 4
"""deepmode's `upscale` is x4 super-resolution."""
SD15_NATIVE = 512
"""The shipped checkpoint's native side: deepmode's sizes are worked out for the model the graph loads."""


def deepmode_upscale_graph(image: str, upscale_model: str = REALESRGAN) -> ApiPrompt:
    """deepmode's `upscale` of the input file `image`: x4 super-resolution by the AI upscaler alone."""
    graph = Graph()
    loaded = graph.add(load_image(image))
    upscaler = graph.add(realesrgan_loader(upscale_model))
    upscaled = graph.add(node("GenerativeUpscale", "Generative Upscale (x4, Real-ESRGAN alone)", image=loaded,
                              upscale_model=upscaler, upscale_strength=DEFAULT_PLAIN_STRENGTH, width=0, height=0,
                              scale_by=float(DEEPMODE_UPSCALE)))
    graph.add(save(upscaled[0], "deepmode_upscale_x4"))
    return graph.prompt


def deepmode_sizes(ratio: str, upscale: bool, native: int = SD15_NATIVE) -> tuple[int, int]:
    """The output size of deepmode's `generate` for a model of `native` side: its budget at the ratio, x4 when
    `upscale` is true."""
    if ratio not in DEEPMODE_RATIOS:
        raise HiResInputError("ratio", ratio, "is not a deepmode ratio", f"use one of {', '.join(DEEPMODE_RATIOS)}")
    width, height = budget_size(native, DEEPMODE_RATIOS[ratio])
    factor = DEEPMODE_UPSCALE if upscale else 1
    return width * factor, height * factor


def deepmode_generate_graph(prompt: str, negative_prompt: str = "", num_images: int = DEFAULT_NUM_IMAGES,
                            ratio: str = DEEPMODE_DEFAULT_RATIO,
                            upscale: bool = False, seed: int = 0, *, checkpoint: str = CHECKPOINT,
                            native: int = SD15_NATIVE, upscale_model: str = REALESRGAN) -> ApiPrompt:
    """deepmode's `generate`: `num_images` images as one batch, one seed each (seed + i), at the model's
    native budget with the `ratio`; with `upscale` true, x4 super-resolution by Real-ESRGAN."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise HiResInputError("prompt", prompt, "is required", "give the prompt's text")
    check_num_images(num_images)
    width, height = deepmode_sizes(ratio, upscale, native)
    graph = Graph()
    ckpt = graph.add(checkpoint_loader(checkpoint, "Load Checkpoint (deepmode's model_id)"))
    adapter = graph.add(node("AdapterSelect", "Adapter Select (prompt)", adapter_type="upscale", description=prompt,
                             negative_prompt=negative_prompt, add_quality_suffix=False, clip=output(ckpt, 1)))
    extra: dict[str, Any] = {}
    if upscale:
        extra["upscale_model"] = graph.add(realesrgan_loader(upscale_model))
    generated = graph.add(generate(f"HiRes Generate ({ratio}{', x4' if upscale else ''})", adapter,
                                   output(ckpt, 0), output(ckpt, 1), output(ckpt, 2), width=width, height=height,
                                   generative_upscale=False, num_images=num_images, sample_num=int(seed), **extra))
    graph.add(save(generated[0], "deepmode_generate_upscaled" if upscale else "deepmode_generate"))
    return graph.prompt
