"""The Templates browser's card pictures, as `workflows/<name>.jpg` beside each editor workflow.

usage: .hires/venv/bin/python scripts/thumbnails.py [--only NAME ...]

No picture is a random-weight output presented as a result:
- a workflow whose models the pack provides (Real-ESRGAN, the cleanup net) is run as shipped, at its full size,
  on the pack's example photo, through a real ComfyUI server on loopback with the real converted weights: its
  card shows a detail of the input beside the same detail of the real output, pixel for pixel;
- every other workflow (a checkpoint, a ControlNet, a hosted model) gets a designed card that says what goes in
  and what comes out, drawn from its definition (scripts/workflow_cards.py) and labelled "diagram".
The front end shows the 256 x 256 picture whole on a square card; everything stays clear of the few pixels its
hover zoom crops. The output is the same on every run (fixed fonts, fixed inputs, no time stamps).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hires_studio.devtools.comfy_host import HIRES, ComfyServer, make_comfy_base
from hires_studio.nodes.example_images import EXAMPLE_DIR
from hires_studio.scripts.convert_weights import TARGETS
from hires_studio.scripts.workflow_cards import (
    CARD_SIZE,
    GROUP_COLORS,
    MARGIN,
    card_facts,
    draw_card,
    font,
    gradient,
    wrapped_text,
)
from hires_studio.scripts.workflows import (
    API_DIR,
    EDITOR_DIR,
    ROOT,
    THUMBNAIL_SIZE,
    WORKFLOWS,
    Workflow,
    input_images,
    model_references,
)

log = logging.getLogger("thumbnails")

REAL_MODELS = HIRES / "base" / "models"
PACK_WEIGHTS = {Path(target.relpath).name for target in TARGETS}
"""Model files the pack provides (what scripts/convert_weights.py writes, Real-ESRGAN among them)."""
JPEG_QUALITY = 88
DETAIL = (112, 140)
"""Each of the two panels of a real card (w, h): the same region of the input and of the output, at one scale."""
REGION = (64, 80)
"""That region, in the example photo's pixels (w, h)."""
DETAIL_CENTRE = (0.36, 0.42)
"""Where the detail is taken, as a fraction of the width and height: the cat's left eye in the example photo."""
assert CARD_SIZE == THUMBNAIL_SIZE


def runs_on_pack_weights(workflow: Workflow) -> bool:
    """Whether every model the workflow loads comes with the pack (then its card shows its real output)."""
    return not workflow.hosted and {name for _, name in model_references(workflow.prompt)} <= PACK_WEIGHTS


def _run(server: ComfyServer, workflow: Workflow) -> np.ndarray:
    """The workflow as shipped (its full size, the pack's example photo); its saved image."""
    prompt = json.loads((ROOT / API_DIR / f"{workflow.name}.json").read_text())
    save = next(node_id for node_id, node in prompt.items() if node["class_type"] == "SaveImage")
    prompt[save]["inputs"]["filename_prefix"] = f"hires_thumbnails/{workflow.name}"
    status, reply = server.post_prompt(prompt)
    if status != 200:
        raise RuntimeError(f"{workflow.name}: ComfyUI refused the prompt: {reply}")
    entry = server.wait(reply["prompt_id"], timeout=900)
    if entry["status"]["status_str"] != "success":
        raise RuntimeError(f"{workflow.name} failed: {entry['status']['messages'][-1:]}")
    info = entry["outputs"][save]["images"][0]
    query = urllib.parse.urlencode({"filename": info["filename"], "subfolder": info["subfolder"], "type": "output"})
    _, png = server.request(f"/view?{query}", raw=True)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _centre_crop(image: Image.Image, size: tuple[int, int], centre: tuple[float, float]) -> Image.Image:
    cx, cy = centre[0] * image.width, centre[1] * image.height
    left = int(min(max(0, cx - size[0] / 2), max(0, image.width - size[0])))
    top = int(min(max(0, cy - size[1] / 2), max(0, image.height - size[1])))
    return image.crop((left, top, left + size[0], top + size[1]))


def real_card(workflow: Workflow, source: Image.Image, output: Image.Image, centre: tuple[float, float]) -> Image.Image:
    """Title; the same region of the input (enlarged, square pixels) and of the real output, shown at one scale;
    the sizes; the stages."""
    card = gradient(CARD_SIZE, *GROUP_COLORS[workflow.group])
    draw = ImageDraw.Draw(card)
    width = CARD_SIZE[0] - 2 * MARGIN
    y = wrapped_text(draw, (MARGIN, MARGIN - 2), workflow.display_title, 17, (255, 255, 255), width, 2) + 4
    scale = output.width / source.width
    region_out = (round(REGION[0] * scale), round(REGION[1] * scale))
    left = _centre_crop(source, REGION, centre).resize(DETAIL, Image.Resampling.NEAREST)
    right = _centre_crop(output, region_out, centre).resize(DETAIL, Image.Resampling.LANCZOS)
    gap = width - 2 * DETAIL[0]
    card.paste(left, (MARGIN, y))
    card.paste(right, (MARGIN + DETAIL[0] + gap, y))
    for x, text in ((MARGIN, f"in {source.width} x {source.height}"),
                    (MARGIN + DETAIL[0] + gap, f"out {output.width} x {output.height}")):
        face = font(11)
        draw.rectangle((x, y + DETAIL[1] - 15, x + draw.textlength(text, font=face) + 6, y + DETAIL[1]), fill=(0, 0, 0))
        draw.text((x + 3, y + DETAIL[1] - 14), text, font=face, fill=(255, 255, 255))
    y += DETAIL[1] + 6
    facts = card_facts(workflow)
    wrapped_text(draw, (MARGIN, y), ", ".join(facts.stages[:-1]), 11, (235, 235, 235), width, 1)
    footer = CARD_SIZE[1] - MARGIN - 12
    draw.line((MARGIN, footer - 5, CARD_SIZE[0] - MARGIN, footer - 5), fill=(120, 120, 120))
    wrapped_text(draw, (MARGIN, footer), "real output of the real weights", 11, (200, 200, 200), width, 1)
    return card


def _input_photo(workflow: Workflow) -> Path | None:
    images = sorted(input_images(workflow.prompt))
    return EXAMPLE_DIR / images[0] if images else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="make only these workflows' pictures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chosen = [w for w in WORKFLOWS if not args.only or w.name in args.only]
    pictures: dict[str, Image.Image] = {}
    for workflow in chosen:
        if not runs_on_pack_weights(workflow):
            pictures[workflow.name] = draw_card(card_facts(workflow), _input_photo(workflow))
    real = [w for w in chosen if runs_on_pack_weights(w)]
    if real:
        with tempfile.TemporaryDirectory(prefix="hires-thumbnails-") as tmp:
            # A ComfyUI with the pack and its real weights only: the pack puts its example photos in input/.
            server = ComfyServer(make_comfy_base(Path(tmp), [REAL_MODELS]))
            try:
                for workflow in real:
                    photo = _input_photo(workflow)
                    with Image.open(photo) as source:
                        output = Image.fromarray(_run(server, workflow))
                        pictures[workflow.name] = real_card(workflow, source.convert("RGB"), output, DETAIL_CENTRE)
            finally:
                server.stop()
    for workflow in chosen:
        path = ROOT / EDITOR_DIR / f"{workflow.name}.jpg"
        pictures[workflow.name].save(path, "JPEG", quality=JPEG_QUALITY, optimize=True)
        log.info("%-40s %6d bytes", path.relative_to(ROOT), path.stat().st_size)
    for stale in sorted(set((ROOT / EDITOR_DIR).glob("*.jpg")) - {ROOT / EDITOR_DIR / f"{w.name}.jpg"
                                                                     for w in WORKFLOWS}):
        stale.unlink()
        log.info("removed %s", stale.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
