"""The Templates browser's designed cards: what goes into a shipped workflow and what comes out, drawn from its
definition, for the workflows whose models the pack cannot ship (a picture made with random weights would look
like broken output).

Pure (no ComfyUI): the facts come from the workflow's API prompt and the pack's own planning functions (the exact
output size, the strength table's route, the diffusion pass's tile grid), so a card cannot disagree with what the
workflow does. scripts/thumbnails.py draws them; the tests read the facts.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from hires_studio.core.edges import canny_edges
from hires_studio.core.native import DEFAULT_NATIVE_SIDE
from hires_studio.core.plan import cleanup_route, plan_generation, plan_upscale, strength_route
from hires_studio.core.request_rules import SizeRequest
from hires_studio.core.tiling import TileGrid, diffusion_grid
from hires_studio.graphs.models import (  # the model files the catalog names
    CANNY_CONTROLNET,
    CHECKPOINT,
    FLUX2,
    MODEL_TYPES,
    QWEN_IMAGE,
    REALESRGAN,
    ZIMAGE,
)
from hires_studio.nodes.example_images import EXAMPLE_DIR
from hires_studio.scripts.workflows import HOSTED_NODES, Workflow

FAMILIES: dict[str, tuple[str, int]] = {
    CHECKPOINT: ("SD1.5 checkpoint", 512),
    MODEL_TYPES["realistic"]: ("SD1.5 checkpoint (realistic)", 512),
    MODEL_TYPES["fantasy"]: ("SD1.5 checkpoint (fantasy)", 512),
    MODEL_TYPES["premium"]: ("SDXL checkpoint", 1024),
    ZIMAGE.files["unet"]: ("Z-Image-Turbo", 1024),
    QWEN_IMAGE.files["unet"]: ("Qwen-Image", 1328),
    FLUX2.files["unet"]: ("FLUX.2 [dev]", 1024),
}
"""The model a workflow loads: what the card calls it, and its native side in pixels (core/native.py's
table, for the families these files belong to)."""
MODEL_LABELS: dict[str, str] = {
    **{name: label.split(" (")[0] for name, (label, _) in FAMILIES.items()},
    CANNY_CONTROLNET: "Canny ControlNet",
    REALESRGAN: "Real-ESRGAN",
}
"""How the 'needs' line names each model file a workflow loads."""
HOSTED_SOURCE = (1344, 768)
"""A hosted provider's 16:9 image, the size the hosted cards plan from (the provider decides the real one)."""
LATENT = 8
BASE_PATHS = {"upscale_4": "Real-ESRGAN x4", "bicubic": "bicubic", "bicubic_clean": "bicubic + cleanup net"}
ADAPTERS = {
    "generate_background": "object kept, new background",
    "face": "face kept, new person and scene",
    "control": "guided by the photo's Canny edges (left)",
    "control2": "guided by the photo's Canny edges (left)",
    "inpainting": "masked area regenerated",
    "upscale": "the prompt",
}
GROUP_COLORS = {"upscaling": ((28, 52, 92), (12, 20, 38)), "generation": ((70, 36, 92), (24, 14, 36)),
                "adapters": ((20, 76, 72), (10, 28, 30))}
CARD_SIZE = (256, 256)
MARGIN = 14
"""Clear of the edge the front end's hover zoom (5%) crops."""
FOOTER_SIZE, FOOTER_LINE = 11, 13
"""The type size and line pitch of the card's footer ('needs: ...')."""


@dataclass(frozen=True)
class CardFacts:
    """What a card says about one workflow."""

    title: str
    group: str
    source: str
    """What goes in: 'photo', 'portrait', 'prompt' or 'hosted'."""
    source_text: str
    source_size: tuple[int, int] | None
    output_size: tuple[int, int]
    stages: tuple[str, ...]
    needs: str
    grid: TileGrid | None
    """The diffusion pass's tiles over the output (latent px), when it runs one."""
    edges: bool = False
    """The workflow is guided by the photo's Canny edges: the card shows them (computed, no model involved)."""


def _main(prompt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for class_type in ("HiResGenerate", "GenerativeUpscale", "BicubicClean"):
        for node_id, node in prompt.items():
            if node["class_type"] == class_type:
                return node_id, node
    raise ValueError("no HiRes Studio node in the workflow")


def _upstream(prompt: dict[str, Any], link: Any) -> dict[str, Any] | None:
    return prompt[link[0]] if isinstance(link, list) else None


def _family(prompt: dict[str, Any]) -> tuple[str, int] | None:
    for node in prompt.values():
        for value in node["inputs"].values():
            if isinstance(value, str) and value in FAMILIES:
                return FAMILIES[value]
    return None


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]} x {size[1]}"


def _pass_grid(size: tuple[int, int], tile_px: int) -> TileGrid:
    """The diffusion pass's tiles over an output of size (w, h) px, its latent rounded up, for a tile side in px."""
    return diffusion_grid(-(-size[1] // LATENT), -(-size[0] // LATENT), tile_px // LATENT)


Planned = tuple[list[str], tuple[int, int], TileGrid | None]
"""A route's stages as the card lists them, the exact output size (w, h), and the diffusion pass's tiles."""


def _image_node(prompt: dict[str, Any], inputs: dict[str, Any],
                adapter: dict[str, Any] | None) -> dict[str, Any] | None:
    """The node the picture comes from: the main node's image input, or else the adapter's."""
    return _upstream(prompt, inputs.get("image")) or (_upstream(prompt, adapter["inputs"].get("image"))
                                                      if adapter else None)


def _source(image_node: dict[str, Any] | None,
            adapter: dict[str, Any] | None) -> tuple[str, tuple[int, int] | None, str]:
    """What goes in: its kind, its size in pixels (None for a prompt) and how the card describes it."""
    if image_node is not None and image_node["class_type"] == "LoadImage":
        with Image.open(EXAMPLE_DIR / image_node["inputs"]["image"]) as photo:
            source_size = photo.size
        source = "portrait" if source_size[0] == source_size[1] else "photo"
        return source, source_size, f"your photo, e.g. {_size(source_size)}"
    if image_node is not None and image_node["class_type"] in HOSTED_NODES:
        return "hosted", HOSTED_SOURCE, HOSTED_NODES[image_node["class_type"]].split(" (")[0] + "'s servers"
    return "prompt", None, adapter["inputs"]["description"] if adapter else ""


def _generation_stages(inputs: dict[str, Any], family: tuple[str, int] | None, adapter_type: str | None,
                       source_size: tuple[int, int] | None) -> Planned:
    """HiResGenerate's route as its planner runs it, from the generation at the model's native size."""
    native = family[1] if family else DEFAULT_NATIVE_SIDE
    plan = plan_generation(inputs["width"], inputs["height"], inputs.get("size_rules", "deep-image"),
                           source_size, native, generative_upscale=inputs.get("generative_upscale", False),
                           strength=inputs.get("upscale_strength", 5),
                           denoise_override=inputs.get("denoise_override", 0.0),
                           num_images=inputs.get("num_images", 1),
                           connected={"upscale_model"} if "upscale_model" in inputs else set())
    count = f"{plan.num_images} images, " if plan.num_images > 1 else ""
    stages = [f"{count}{family[0] if family else 'the model'}, native {_size(plan.generation)}"]
    if adapter_type and adapter_type != "upscale":
        stages.append(f"{adapter_type}: {ADAPTERS[adapter_type]}")
    route = plan.finish.route
    finish = f"{BASE_PATHS[route.base_path]} to the size"
    grid = None
    if route.diffusion is not None:
        finish = f"{BASE_PATHS[route.base_path]}, then tiled diffusion, denoise {route.diffusion.denoise:g}"
        grid = _pass_grid(plan.target, native)
    stages.append(finish)
    return stages, plan.target, grid


def _upscale_stages(class_type: str, inputs: dict[str, Any], family: tuple[str, int] | None,
                    adapter_type: str | None, source_size: tuple[int, int]) -> Planned:
    """GenerativeUpscale's or BicubicClean's route as its planner runs it, from the source's size."""
    request = SizeRequest(**{key: inputs[key] for key in ("width", "height", "fit", "scale_by", "size_rules")
                             if key in inputs})
    if class_type == "BicubicClean":
        cleanup = inputs.get("cleanup", "auto")
        route, _ = cleanup_route(cleanup)
        strength = None
    else:
        strength = inputs.get("upscale_strength", 5)
        route = strength_route(strength)
    plan = plan_upscale(request, *source_size, route, node=class_type,
                        connected={"upscale_model", "model", "vae", "clip", "adapter"})
    output_size = plan.size.canvas
    band = f"strength {strength}: " if strength is not None else ""
    level = f", level {cleanup}" if class_type == "BicubicClean" else ""
    stages = [f"{band}{BASE_PATHS[route.base_path]}{level} ({plan.size.scale:.1f}x)"]
    grid = None
    if route.diffusion is not None:
        grid = _pass_grid(output_size, family[1] if family else 512)
        guide = f", {ADAPTERS[adapter_type]}" if adapter_type and adapter_type != "upscale" else ""
        stages.append(f"tiled diffusion, denoise {route.diffusion.denoise:g}{guide}")
    return stages, output_size, grid


def _needs(prompt: dict[str, Any], source: str) -> str:
    """What the user must have besides ComfyUI: the model files it loads, or a Comfy account."""
    if source == "hosted":
        return "needs a Comfy account (API node)"
    files = {value for node in prompt.values() for value in node["inputs"].values() if isinstance(value, str)}
    labels = [label for name, label in MODEL_LABELS.items() if name in files]
    return "needs: " + (", ".join(dict.fromkeys(labels)) or "nothing else")


def card_facts(workflow: Workflow) -> CardFacts:
    """The card of `workflow`, from its API prompt."""
    prompt = workflow.prompt
    _, main = _main(prompt)
    inputs = main["inputs"]
    family = _family(prompt)
    adapter = _upstream(prompt, inputs.get("adapter"))
    adapter_type = adapter["inputs"]["adapter_type"] if adapter else None
    image_node = _image_node(prompt, inputs, adapter)
    source, source_size, source_text = _source(image_node, adapter)
    stages = [f"{image_node['_meta']['title']}: a 16:9 image"] if source == "hosted" else []
    if main["class_type"] == "HiResGenerate":
        planned, output_size, grid = _generation_stages(inputs, family, adapter_type, source_size)
    else:
        planned, output_size, grid = _upscale_stages(main["class_type"], inputs, family, adapter_type, source_size)
    stages += [*planned, f"exactly {_size(output_size)}"]
    return CardFacts(workflow.display_title, workflow.group, source, source_text, source_size, output_size,
                     tuple(stages), _needs(prompt, source), grid, edges=adapter_type in ("control", "control2"))


# --- drawing --------------------------------------------------------------------------------------------------


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's own scalable font: the same on every machine with the same Pillow."""
    return ImageFont.load_default(size=size)


def gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    ramp = np.linspace(0.0, 1.0, size[1], dtype=np.float32)[:, None, None]
    pixels = (1 - ramp) * np.array(top, np.float32) + ramp * np.array(bottom, np.float32)
    return Image.fromarray(np.broadcast_to(pixels, (size[1], size[0], 3)).astype(np.uint8))


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def wrapped_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill: tuple[int, int, int],
          width: int, lines: int) -> int:
    """Wrapped text (at most `lines` lines, the last one ellipsised); the y below it."""
    face = font(size)
    per_line = max(8, int(width / (size * 0.52)))
    wrapped = textwrap.wrap(text, per_line) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: per_line - 1].rstrip() + "…"
    x, y = xy
    for line in wrapped:
        while draw.textlength(line, font=face) > width and len(line) > 2:
            line = line[:-2] + "…"
        draw.text((x, y), line, font=face, fill=fill)
        y += round(size * 1.22)
    return y


def _arrow(draw: ImageDraw.ImageDraw, x0: int, x1: int, y: int) -> None:
    draw.line((x0, y, x1 - 4, y), fill=(220, 220, 220), width=2)
    draw.polygon([(x1, y), (x1 - 7, y - 5), (x1 - 7, y + 5)], fill=(220, 220, 220))


def _source_box(card: Image.Image, draw: ImageDraw.ImageDraw, facts: CardFacts, box: tuple[int, int, int, int],
                photo: Path | None) -> None:
    x0, y0, x1, y1 = box
    if photo is not None:
        with Image.open(photo) as image:
            thumb = image.convert("RGB")
            size = _fit(thumb.size, (x1 - x0, y1 - y0))
            thumb = thumb.resize(size, Image.Resampling.LANCZOS)
        if facts.edges:  # the hint the ControlNet follows, as the adapter makes it (at the card's scale)
            rgb = torch.from_numpy(np.array(thumb)).movedim(-1, 0)[None].float() / 255.0
            thumb = Image.fromarray((canny_edges(rgb)[0].movedim(0, -1).numpy() * 255).astype(np.uint8))
        at = (x0 + (x1 - x0 - size[0]) // 2, y0 + (y1 - y0 - size[1]) // 2)
        card.paste(thumb, at)
        draw.rectangle((at[0] - 1, at[1] - 1, at[0] + size[0], at[1] + size[1]), outline=(230, 230, 230))
        return
    draw.rounded_rectangle(box, radius=6, fill=(245, 240, 225), outline=(230, 230, 230))
    label = "prompt" if facts.source == "prompt" else "hosted model"
    draw.text((x0 + 5, y0 + 3), label, font=font(10), fill=(120, 100, 60))
    wrapped_text(draw, (x0 + 5, y0 + 16), facts.source_text, 10, (40, 30, 20), x1 - x0 - 10, 4)


def _output_box(draw: ImageDraw.ImageDraw, facts: CardFacts, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    size = _fit(facts.output_size, (x1 - x0, y1 - y0))
    left, top = x0 + (x1 - x0 - size[0]) // 2, y0 + (y1 - y0 - size[1]) // 2
    draw.rectangle((left, top, left + size[0], top + size[1]), fill=(52, 60, 72), outline=(255, 255, 255), width=2)
    if facts.grid is not None:
        sx, sy = size[0] / facts.grid.width, size[1] / facts.grid.height
        for tile in facts.grid.tiles:
            draw.rectangle((left + tile.x * sx, top + tile.y * sy, left + (tile.x + tile.w) * sx,
                            top + (tile.y + tile.h) * sy), outline=(255, 196, 70), width=1)
    label = _size(facts.output_size)
    face = font(12)
    width = draw.textlength(label, font=face)
    draw.rectangle((left + (size[0] - width) / 2 - 3, top + size[1] / 2 - 9, left + (size[0] + width) / 2 + 3,
                    top + size[1] / 2 + 8), fill=(0, 0, 0))
    draw.text((left + (size[0] - width) / 2, top + size[1] / 2 - 8), label, font=face, fill=(255, 255, 255))


def draw_card(facts: CardFacts, photo: Path | None) -> Image.Image:
    """The card: title, what goes in -> what comes out (with the diffusion tiles), the stages, what it needs."""
    card = gradient(CARD_SIZE, *GROUP_COLORS[facts.group])
    draw = ImageDraw.Draw(card)
    width = CARD_SIZE[0] - 2 * MARGIN
    y = wrapped_text(draw, (MARGIN, MARGIN - 2), facts.title, 17, (255, 255, 255), width, 2) + 4
    row = (y, y + 70)
    _source_box(card, draw, facts, (MARGIN, row[0], MARGIN + 92, row[1]), photo)
    _arrow(draw, MARGIN + 98, MARGIN + 124, (row[0] + row[1]) // 2)
    _output_box(draw, facts, (MARGIN + 130, row[0], CARD_SIZE[0] - MARGIN, row[1]))
    y = row[1] + 3
    if facts.source_size is not None and facts.source != "hosted":
        draw.text((MARGIN, y), _size(facts.source_size), font=font(10), fill=(200, 200, 200))
    if facts.grid is not None:
        text = f"{len(facts.grid.tiles)} tiles, one canvas"
        draw.text((CARD_SIZE[0] - MARGIN - draw.textlength(text, font=font(10)), y), text, font=font(10),
                  fill=(255, 196, 70))
    y += 16
    tag_font = font(10)
    tag = "diagram"
    tag_x = CARD_SIZE[0] - MARGIN - draw.textlength(tag, font=tag_font) - 6
    needs = footer_lines(draw, facts.needs, int(tag_x - MARGIN - 6))
    footer = CARD_SIZE[1] - MARGIN - 12 - (len(needs) - 1) * FOOTER_LINE
    for size in (12, 11, 10):  # the largest type at which every stage fits above the footer
        scratch = ImageDraw.Draw(Image.new("RGB", CARD_SIZE))
        end = y
        for number, stage in enumerate(facts.stages, 1):
            end = wrapped_text(scratch, (MARGIN, end), f"{number}. {stage}", size, (0, 0, 0), width, 2) + 1
        if end <= footer - 6:
            break
    for number, stage in enumerate(facts.stages, 1):
        y = wrapped_text(draw, (MARGIN, y), f"{number}. {stage}", size, (235, 235, 235), width, 2) + 1
    draw.line((MARGIN, footer - 5, CARD_SIZE[0] - MARGIN, footer - 5), fill=(120, 120, 120))
    draw.rounded_rectangle((tag_x, footer - 1, CARD_SIZE[0] - MARGIN, footer + 12), radius=3, fill=(235, 235, 235))
    draw.text((tag_x + 3, footer), tag, font=tag_font, fill=(30, 30, 30))
    for number, line in enumerate(needs):
        draw.text((MARGIN, footer + number * FOOTER_LINE), line, font=font(FOOTER_SIZE), fill=(200, 200, 200))
    return card


def footer_lines(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    """The 'needs' text in lines no wider than `width`, broken at spaces but never inside parentheses: the whole
    text, never cut."""
    face = font(FOOTER_SIZE)
    lines = [""]
    for word in re.findall(r"\([^)]*\)|\S+", text):
        joined = f"{lines[-1]} {word}".strip()
        if lines[-1] and draw.textlength(joined, font=face) > width:
            lines.append(word)
        else:
            lines[-1] = joined
    return lines
