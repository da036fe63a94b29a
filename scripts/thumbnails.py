"""The Templates browser's card pictures: each shipped workflow's own output, as `workflows/<name>.jpg`.

usage: PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts:tests/support \
           .hires/venv/bin/python scripts/thumbnails.py [--only NAME ...]

ComfyUI 0.3.75's front end (1.32.9) shows `<name>.jpg` beside a custom node's template file as the card's
picture (it reads no title or description for custom nodes: the card's title is the file name). This runs every
local workflow through a real ComfyUI server on loopback, as shipped except for a small size and 2 steps
(tests/support/staging.py), on the real converted weights where the workflow uses them (Real-ESRGAN, the
cleanup net) and the tests' tiny random-weight stand-ins for the checkpoints this machine does not have; each
picture says which. Hosted workflows (ComfyUI API nodes) cannot run without an account and are never run:
their card is drawn, and says so.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import textwrap
import urllib.parse
from pathlib import Path

import cv2
import numpy as np
from comfy_host import HIRES, ComfyServer, ensure_tiny_models, make_comfy_base
from PIL import Image
from staging import small_version, stage_base, tiny_stand_ins

from workflows import API_DIR, EDITOR_DIR, HOSTED_NODES, ROOT, THUMBNAIL_SIZE, WORKFLOWS, Workflow, model_references

log = logging.getLogger("thumbnails")

RUN_SIDE = 256
"""Longest side the workflows run at for their picture."""
PHOTO_WIDTH = 192
REAL_MODELS = HIRES / "base" / "models"
JPEG_QUALITY = 82
LABEL_HEIGHT = 38


def _cover(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover `size` (w, h) and crop the centre."""
    w, h = size
    scale = max(w / rgb.shape[1], h / rgb.shape[0])
    resized = cv2.resize(rgb, (max(w, round(rgb.shape[1] * scale)), max(h, round(rgb.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
    return resized[top:top + h, left:left + w]


def _label(rgb: np.ndarray, title: str, note: str) -> np.ndarray:
    """The workflow's title and how the picture was made, in a strip along the bottom."""
    out = np.ascontiguousarray(rgb.copy())
    bottom = out.shape[0]
    cv2.rectangle(out, (0, bottom - LABEL_HEIGHT), (out.shape[1], bottom), (20, 20, 20), -1)
    cv2.putText(out, title, (6, bottom - 22), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(out, note, (6, bottom - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (190, 190, 190), 1, cv2.LINE_AA)
    return out


def _stand_in_note(workflow: Workflow, linked: dict[str, Path]) -> str:
    """Whether the picture was made with real weights or with a tiny stand-in for a model this host lacks."""
    refs = {f"{folder}/{name}" for folder, name in model_references(workflow.prompt)}
    return "tiny random-weight stand-in model" if refs & set(linked) else "real weights"


def _hosted_card(workflow: Workflow) -> np.ndarray:
    """A drawn card for a workflow that only runs on a provider's servers."""
    w, h = THUMBNAIL_SIZE
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    card = ((1 - ramp) * np.array([40, 52, 90]) + ramp * np.array([14, 18, 32])) * np.ones((h, w, 3))
    card = np.ascontiguousarray(card.astype(np.uint8))
    (node,) = [n for n in workflow.prompt.values() if n["class_type"] in HOSTED_NODES]
    lines = [node["_meta"]["title"], "", "runs on the provider's", "servers (Comfy account);",
             "HiRes Studio makes it", "exactly 2048 x 1024"]
    y = 40
    for line in lines:
        for part in textwrap.wrap(line, 26) or [""]:
            cv2.putText(card, part, (14, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (240, 240, 240), 1, cv2.LINE_AA)
            y += 22
    return _label(card, workflow.display_title.replace(" (hosted)", ""), "hosted: not run here (API node)")


def _run(server: ComfyServer, workflow: Workflow) -> np.ndarray:
    prompt = small_version(json.loads((ROOT / API_DIR / f"{workflow.name}.json").read_text()),
                           f"hires_thumbnails/{workflow.name}", side=RUN_SIDE)
    status, reply = server.post_prompt(prompt)
    if status != 200:
        raise RuntimeError(f"{workflow.name}: ComfyUI refused the prompt: {reply}")
    entry = server.wait(reply["prompt_id"], timeout=600)
    if entry["status"]["status_str"] != "success":
        raise RuntimeError(f"{workflow.name} failed: {entry['status']['messages'][-1:]}")
    save = next(node_id for node_id, node in prompt.items() if node["class_type"] == "SaveImage")
    info = entry["outputs"][save]["images"][0]
    query = urllib.parse.urlencode({"filename": info["filename"], "subfolder": info["subfolder"], "type": "output"})
    _, png = server.request(f"/view?{query}", raw=True)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="make only these workflows' pictures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chosen = [w for w in WORKFLOWS if not args.only or w.name in args.only]
    with tempfile.TemporaryDirectory(prefix="hires-thumbnails-") as tmp:
        base = make_comfy_base(Path(tmp), [REAL_MODELS])
        linked = stage_base(base, tiny_stand_ins(ensure_tiny_models()), photo_width=PHOTO_WIDTH)
        server = ComfyServer(base)  # no API nodes: the hosted workflows are drawn, never run
        try:
            for workflow in chosen:
                if workflow.hosted:
                    picture = _hosted_card(workflow)
                else:
                    picture = _label(_cover(_run(server, workflow), THUMBNAIL_SIZE), workflow.display_title,
                                     _stand_in_note(workflow, linked))
                path = ROOT / EDITOR_DIR / f"{workflow.name}.jpg"
                Image.fromarray(picture).save(path, "JPEG", quality=JPEG_QUALITY, optimize=True)
                log.info("%-40s %6d bytes", path.relative_to(ROOT), path.stat().st_size)
        finally:
            server.stop()
    for stale in sorted(set((ROOT / EDITOR_DIR).glob("*.jpg")) - {ROOT / EDITOR_DIR / f"{w.name}.jpg"
                                                                     for w in WORKFLOWS}):
        stale.unlink()
        log.info("removed %s", stale.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
