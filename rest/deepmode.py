"""deepmode's `images/upscale` and `images/generate` requests and the image object they answer with.
Pure: no ComfyUI import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import HiResInputError, short_repr
from ..core.request_rules import DEFAULT_NUM_IMAGES, check_num_images
from ..graphs.deepmode import DEEPMODE_DEFAULT_RATIO, DEEPMODE_RATIOS
from .errors import DeepmodeError

UPSCALE_FIELDS = ("image_id", "callback")
GENERATE_FIELDS = ("model_id", "prompt", "negative_prompt", "num_images", "upscale", "ratio", "callback")
UPSCALE_ACK = {"message": "Upscaling images..."}
GENERATE_ACK = {"message": "Generating images..."}


def _bad(message: str) -> DeepmodeError:
    return DeepmodeError(400, message)


def _fields(body: Any, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _bad("the body must be a JSON object")
    extra = sorted(set(body) - set(known))
    if extra:
        raise _bad(f"{extra[0]}: is not a field of this request (fields: {', '.join(known)})")
    return body


def _string(body: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(f"{name}: is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise _bad(f"{name}: must be a non-empty string")
    return value


@dataclass(frozen=True)
class UpscaleRequest:
    image_id: str
    callback: str | None


@dataclass(frozen=True)
class GenerateRequest:
    model_id: str
    prompt: str
    negative_prompt: str
    num_images: int
    upscale: bool
    ratio: str
    callback: str | None


def parse_upscale(body: Any) -> UpscaleRequest:
    body = _fields(body, UPSCALE_FIELDS)
    return UpscaleRequest(_string(body, "image_id", True), _string(body, "callback", False))


def parse_generate(body: Any) -> GenerateRequest:
    body = _fields(body, GENERATE_FIELDS)
    num = body.get("num_images", DEFAULT_NUM_IMAGES)
    try:
        check_num_images(num)
    except HiResInputError as error:
        raise _bad(f"{error.field}: {error.problem}, got {short_repr(error.value)}") from None
    upscale = body.get("upscale", False)
    if not isinstance(upscale, bool):
        raise _bad(f"upscale: must be true or false, got {upscale!r}")
    ratio = body.get("ratio", DEEPMODE_DEFAULT_RATIO)
    if ratio not in DEEPMODE_RATIOS:
        raise _bad(f"ratio: must be one of {', '.join(DEEPMODE_RATIOS)}, got {ratio!r}")
    return GenerateRequest(_string(body, "model_id", True), _string(body, "prompt", True),
                           _string(body, "negative_prompt", False) or "", num, upscale, ratio,
                           _string(body, "callback", False))


def ratio_of(size: tuple[int, int]) -> str:
    """deepmode's ratio word for an image's size (landscape is this server's word for wider than tall)."""
    w, h = size
    return "square" if w == h else "portrait" if h > w else "landscape"


def image_object(image_id: str, file_name: str, image_url: str, *, model_id: str = "", prompt: str = "",
                 negative_prompt: str = "", upscaled: bool, ratio: str) -> dict[str, Any]:
    """The image object of deepmode's responses and callbacks, with its documented keys in order."""
    return {"id": image_id, "file_name": file_name, "model_id": model_id, "image_url": image_url, "prompt": prompt,
            "negative_prompt": negative_prompt, "upscaled": upscaled, "ratio": ratio}
