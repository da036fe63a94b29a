"""Stability v1 `image-to-image/upscale`: the multipart fields checked with Stability's own names and
messages, and the sizes by Stability's rules (`core.sizing.stability_v1_size`). Pure: no ComfyUI import."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import HiResInputError
from ..core.sizing import (
    MAX_SIDE,
    STABILITY_CFG_SCALE,
    STABILITY_DEFAULT_CFG_SCALE,
    STABILITY_DEFAULT_STEPS,
    STABILITY_MIN_SIDE,
    STABILITY_PROMPT_MAX_CHARS,
    STABILITY_SEED_MAX,
    STABILITY_STEPS,
    stability_v1_size,
)
from ..graphs.stability import STABILITY_ENGINES
from .errors import StabilityError

ESRGAN, LATENT = STABILITY_ENGINES
_PROMPT_KEY = re.compile(r"^text_prompts\[(\d+)\]\[(text|weight)\]$")
FIELDS = ("image", "width", "height", "seed", "steps", "cfg_scale")
ACCEPTS = ("application/json", "image/png")


@dataclass(frozen=True)
class UpscaleRequest:
    engine: str
    width: int
    height: int
    prompts: tuple[tuple[str, float], ...]
    seed: int
    """0 = random (the server picks one and reports it)."""
    steps: int
    cfg_scale: float
    accept: str


def bad(message: str, name: str = "bad_request") -> StabilityError:
    return StabilityError(400, name, message)


def check_engine(engine: str) -> None:
    if engine not in STABILITY_ENGINES:
        raise StabilityError(404, "not_found", f"The specified engine (ID {engine}) was not found.")


def check_accept(header: str | None) -> str:
    """application/json (the default, also for */* or no header) or image/png."""
    if not header or header.strip() in ("*/*", ""):
        return "application/json"
    for part in (p.split(";")[0].strip().lower() for p in header.split(",")):
        if part in ACCEPTS:
            return part
        if part == "*/*":
            return "application/json"
    raise StabilityError(406, "not_acceptable", f"Accept: {header} is not supported: use application/json "
                         "(the default) or image/png")


def _integer(name: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\s*-?\d+\s*", text):
        raise bad(f"{name}: must be an integer, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad(f"{name}: must be from {low} to {high}, got {value}")
    return value


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise bad(f"{name}: must be a number, got {text!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise bad(f"{name}: must be from {low:g} to {high:g}, got {text}")
    return value


def parse_fields(engine: str, fields: Mapping[str, str], has_image: bool, accept: str) -> UpscaleRequest:
    """The request's text fields (the image part is checked by the caller: `has_image`)."""
    check_engine(engine)
    prompts: dict[int, dict[str, str]] = {}
    for key, value in fields.items():
        match = _PROMPT_KEY.match(key)
        if match:
            prompts.setdefault(int(match[1]), {})[match[2]] = value
        elif key not in FIELDS:
            raise bad(f"{key}: is not a field of this request")
    if not has_image:
        raise bad("image: is required")
    width = _integer("width", fields["width"], STABILITY_MIN_SIDE, MAX_SIDE) if fields.get("width") else 0
    height = _integer("height", fields["height"], STABILITY_MIN_SIDE, MAX_SIDE) if fields.get("height") else 0
    if width and height:
        raise bad("Only one of width or height may be specified")
    parsed: list[tuple[str, float]] = []
    for index in sorted(prompts):
        entry = prompts[index]
        text = entry.get("text")
        if not text:
            raise bad(f"text_prompts[{index}][text]: is required")
        if len(text) > STABILITY_PROMPT_MAX_CHARS:
            raise bad(f"text_prompts[{index}][text]: must be at most {STABILITY_PROMPT_MAX_CHARS} characters")
        weight = _number(f"text_prompts[{index}][weight]", entry.get("weight", "1"), -1e6, 1e6)
        parsed.append((text, weight))
    if engine == ESRGAN:
        for name in ("seed", "steps", "cfg_scale"):
            if fields.get(name):
                raise bad(f"{name}: is not a field of the {ESRGAN} engine")
        if parsed:
            raise bad(f"text_prompts: is not a field of the {ESRGAN} engine")
    return UpscaleRequest(
        engine=engine, width=width, height=height, prompts=tuple(parsed),
        seed=_integer("seed", fields["seed"], 0, STABILITY_SEED_MAX) if fields.get("seed") else 0,
        steps=_integer("steps", fields["steps"], *STABILITY_STEPS) if fields.get("steps") else STABILITY_DEFAULT_STEPS,
        cfg_scale=_number("cfg_scale", fields["cfg_scale"], *STABILITY_CFG_SCALE) if fields.get("cfg_scale")
        else STABILITY_DEFAULT_CFG_SCALE,
        accept=accept)


def output_size(request: UpscaleRequest, source: tuple[int, int]) -> tuple[int, int]:
    """The output size by Stability's rules, or its invalid_pixel_count refusal (`parse_fields` has refused the
    other size errors already, so what is left is a pixel count); an output whose side passes Stability's pixel
    count but not this server's MAX_SIDE (a 100000 x 1 strip) is refused too, before it can hold ComfyUI's
    queue."""
    try:
        size = stability_v1_size(source[0], source[1], request.width, request.height)
    except HiResInputError as error:
        raise bad(f"{error.field}: {error.problem}", "invalid_pixel_count") from None
    if max(size) > MAX_SIDE:
        raise bad(f"image: the output {size[0]}x{size[1]} would have a side over this server's limit of {MAX_SIDE} "
                  f"pixels; send an image whose sides are at most {MAX_SIDE // 2} pixels (or ask for a smaller "
                  "width or height)", "invalid_pixel_count")
    return size
