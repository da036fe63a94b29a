"""Staging for the tests (and the demo and the thumbnails): a ComfyUI base directory that can run every shipped
workflow as shipped, with real example photos and tiny random-weight stand-ins for the models it lacks, and the
small version of a workflow that runs in seconds on a CPU.

Test support: the shipped workflows themselves are defined in the pack (catalog/shipped_workflows.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hires_studio.catalog.shipped_workflows import EXAMPLE_FACE_IMAGE, WORKFLOWS
from hires_studio.graphs.models import input_images, model_references

EXAMPLE_PHOTO = "chelsea"
"""The real photograph (bench/photos.py) that stands in for the user's image: 3:2, so sizes round."""


def example_photo(width: int = 96) -> Any:
    """The example photograph as HxWx3 uint8 RGB: centre-cropped to exactly 3:2, then `width` px wide."""
    import cv2

    from hires_studio.bench.photos import load_photos

    rgb = dict(load_photos())[EXAMPLE_PHOTO]
    h, w = rgb.shape[:2]
    side = min(w // 3, h // 2)
    top, left = (h - 2 * side) // 2, (w - 3 * side) // 2
    rgb = rgb[top:top + 2 * side, left:left + 3 * side]
    return cv2.resize(rgb, (width, width * 2 // 3), interpolation=cv2.INTER_AREA)


EXAMPLE_FACE_PHOTO = "astronaut"
"""The real portrait (bench/photos.py) for the face workflows: square, and large enough for the face detector."""


def example_face_photo(side: int = 256) -> Any:
    import cv2

    from hires_studio.bench.photos import load_photos

    return cv2.resize(dict(load_photos())[EXAMPLE_FACE_PHOTO], (side, side), interpolation=cv2.INTER_AREA)


TINY_STAND_INS: dict[str, str] = {
    "checkpoints": "checkpoints/tiny_sd15.safetensors",
    "upscale_models": "upscale_models/tiny_rrdb.safetensors",
    "loras": "loras/tiny_lora.safetensors",
    "controlnet": "controlnet/tiny_controlnet.safetensors",
    "diffusion_models": "diffusion_models/tiny_unet.safetensors",
    "text_encoders": "text_encoders/tiny_clip_l.safetensors",
    "vae": "vae/tiny_taesd.safetensors",
}
"""For the tests: which tiny random-weight model (tests/fixtures/make_tiny_models.py) stands in for a
model the workflows name, by model folder."""


def tiny_stand_ins(tiny_models: Path) -> dict[str, Path]:
    return {folder: tiny_models / rel for folder, rel in TINY_STAND_INS.items()}


def stage_base(base: Path, stand_ins: Mapping[str, Path], photo_width: int = 96) -> dict[str, Path]:
    """Make a ComfyUI base directory able to run every shipped workflow as shipped.

    Writes the example photograph (`photo_width` px wide, 3:2) under every input name the workflows use,
    and links `stand_ins[folder]` under every model name the workflows use that the base lacks (tests map
    the real names onto tiny random-weight models). Returns the links made, by "folder/name".
    """
    import cv2

    photo = example_photo(photo_width)
    for image in sorted({name for workflow in WORKFLOWS for name in input_images(workflow.prompt)}):
        target = base / "input" / image
        target.parent.mkdir(parents=True, exist_ok=True)
        rgb = example_face_photo() if image == EXAMPLE_FACE_IMAGE else photo
        if not cv2.imwrite(str(target), rgb[:, :, ::-1]):
            raise OSError(f"cannot write {target}")
    linked: dict[str, Path] = {}
    for folder, name in sorted({ref for workflow in WORKFLOWS for ref in model_references(workflow.prompt)}):
        link = base / "models" / folder / name
        if link.exists():
            continue
        if folder not in stand_ins:
            raise FileNotFoundError(f"{link} is missing and there is no stand-in for models/{folder}")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():  # a dangling link from an earlier run
            link.unlink()
        link.symlink_to(stand_ins[folder])
        linked[f"{folder}/{name}"] = stand_ins[folder]
    return linked


SMALL_SIDE = 128
"""Longest requested side in the small runs (the staged example photograph is smaller: 96 x 64)."""
SMALL_STEPS = 2


def small_version(prompt: dict[str, Any], prefix: str, side: int = SMALL_SIDE) -> dict[str, Any]:
    """The prompt with only its sizes scaled down (longest side `side`, 0 stays 0), its steps at SMALL_STEPS,
    and its SaveImage prefix made unique."""
    small = copy.deepcopy(prompt)
    for node in small.values():
        inputs = node["inputs"]
        sides = [inputs[k] for k in ("width", "height") if isinstance(inputs.get(k), int)]
        if sides and max(sides) > side:
            factor = side / max(sides)
            for key in ("width", "height"):
                if isinstance(inputs.get(key), int) and inputs[key]:
                    inputs[key] = max(8, round(inputs[key] * factor))
        if isinstance(inputs.get("steps"), int):
            inputs["steps"] = SMALL_STEPS
        if node["class_type"] == "SaveImage":
            inputs["filename_prefix"] = prefix
        if node["class_type"] == "CLIPLoader":
            inputs["type"] = "stable_diffusion"  # the tiny stand-in text encoder is a CLIP-L
    return small
