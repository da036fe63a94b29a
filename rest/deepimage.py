"""deep-image's `process` request: its fields checked, then turned into the API-format graph that the shipped
workflow of the same request holds (the model files and model families come from `graphs`, as the
shipped workflows' do; tests/e2e/test_rest_api.py proves each seed request builds its shipped graph).

Pure: no ComfyUI import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.adapter import ADAPTER_TYPES
from ..core.errors import HiResInputError
from ..core.sizing import CROP_FOCI, FITS, MAX_SIDE, parse_padding, parse_percent
from ..core.strength import DEFAULT_STRENGTH, STRENGTHS, strength_preset
from ..graphs.models import FAMILIES, MODEL_TYPES
from .images import FORMATS, MAX_DPI, parse_file_size
from .print_sizes import PAPER_INCHES, print_pixels

TOP_FIELDS = ("url", "width", "height", "fit", "padding", "min_length", "generative_upscale", "upscale_strength",
              "background", "ip_image2", "output_format", "quality", "max_file_size", "dpi", "print_size",
              "print_reorientation", "enhancements", "denoise_parameters")
REFUSED_FIELDS: dict[str, tuple[str, str]] = {
    "target": ("storage:// targets name deep-image's cloud storage, which this server does not have",
               "leave it out and fetch the file from result_url"),
    "preset": ("presets are deep-image's hosted recipes, which this server does not have",
               "send the fields of the recipe you want (width, height, generative_upscale, ...)"),
    "deblur_parameters": ("deblur is not served by this server", "leave it out"),
    "light_parameters": ("light is not served by this server", "leave it out"),
    "color_parameters": ("color is not served by this server", "leave it out"),
    "white_balance_parameters": ("white_balance is not served by this server", "leave it out"),
    "background.remove": ("background removal is not served by this server", "leave it out"),
    "background.replace": ("background replacement is not served by this server", "leave it out"),
}
"""Schema fields this server cannot honour: each is refused with its own reason, never dropped."""
ENHANCEMENTS = ("denoise", "deblur", "clean", "face_enhance", "light", "color", "white_balance",
                "exposure_correction")
"""The schema's `enhancements` types."""
SERVED_ENHANCEMENTS = ("denoise",)
"""Those with an honest implementation here: denoise is BicubicClean's cleanup pass (waifu2x photo denoise, its
level chosen from the measured noise) on the input image before the upscale."""
DENOISE_TYPES = ("v1",)
"""denoise_parameters.type values served (the schema's v1 and v2 name deep-image's models; this server has one)."""
DENOISE_CLEANUP = "auto"
"""BicubicClean's cleanup choice for the denoise enhancement: the level follows the noise it measures."""
DEFAULT_DPI = 300
FILE_PARTS = ("image", "file", "fileName")
"""Form-data file parts that carry the input image (fileName is the schema's)."""
BACKGROUND_FIELDS = ("generate", "color")
TOO_LARGE = f"Image cannot be upscaled above {MAX_SIDE} x {MAX_SIDE} pixels limit"
"""deep-image's own words for a size over the limit (its ErrorFileIsTooLarge)."""
DEFAULT_FIT = "canvas"
"""The schema's default fit: a client that sends it with a generation request asks for nothing more."""
GENERATE_FIELDS = ("description", "negative_prompt", "adapter_type", "face_id", "controlnet_conditioning_scale",
                   "sample_num", "model_type", "ip_image2")
IMAGE_ADAPTERS = ("generate_background", "face", "control", "control2", "inpainting")
SD_MODEL_TYPES = tuple(MODEL_TYPES)
HOSTED_MODEL_TYPES = ("gemini-3-pro-image-preview", "google-gemini-image-flash", "see-dream-4.5")


@dataclass(frozen=True)
class DeepImageRequest:
    url: str | None
    width: int | str | None
    height: int | str | None
    fit: str
    crop_focus: str | None
    padding: int | str | None
    min_length: int | None
    generative_upscale: bool
    upscale_strength: int | None
    generate: Mapping[str, Any] | None
    background_color: str | None
    mask_url: str | None
    output_format: str
    quality: int
    max_file_size: int | None
    dpi: int = DEFAULT_DPI
    print_size: str | None = None
    print_reorientation: bool = True
    denoise: bool = False

    @property
    def adapter_type(self) -> str | None:
        if self.generate is None:
            return None
        default = "generate_background" if self.url else "upscale"
        return self.generate.get("adapter_type", default)


def _int(name: str, value: Any, low: int, high: int, fix: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HiResInputError(name, value, f"must be an integer from {low} to {high}", fix)
    return value


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise HiResInputError(name, value, "must be true or false", f"send {name}: true or false")
    return value


def _size(name: str, value: Any) -> int | str | None:
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, int) and value < 0):
        raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage (\"200%\")")
    if isinstance(value, str) and not (parse_percent(value) or 0) > 0:
        raise HiResInputError(name, value, "is not a size", "give pixels (e.g. 1024) or a percentage (\"200%\")")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise HiResInputError(name, value, "must be a string", f"send {name} as text")
    return value


def _unknown(where: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for name in sorted(data):
        if f"{where}{name}" in REFUSED_FIELDS:
            problem, fix = REFUSED_FIELDS[f"{where}{name}"]
            raise HiResInputError(f"{where}{name}", data[name], problem, fix)
    extra = sorted(set(data) - set(known))
    if extra:
        raise HiResInputError(f"{where}{extra[0]}", data[extra[0]], "is not supported by this server",
                         f"leave it out; supported fields here: {', '.join(known)}")


def _enhancements(body: Mapping[str, Any]) -> bool:
    """Whether denoise is asked for; any other enhancement type is refused by its place in the list."""
    value = body.get("enhancements", [])
    if not isinstance(value, list):
        raise HiResInputError("enhancements", value, "must be a list", 'send e.g. ["denoise"]')
    for index, item in enumerate(value):
        if item not in ENHANCEMENTS:
            raise HiResInputError(f"enhancements[{index}]", item, "is not an enhancement type",
                             f"use one of {', '.join(ENHANCEMENTS)}")
        if item not in SERVED_ENHANCEMENTS:
            raise HiResInputError(f"enhancements[{index}]", item, "is not served by this server",
                             f"leave it out; served: {', '.join(SERVED_ENHANCEMENTS)}")
    denoise = "denoise" in value
    parameters = body.get("denoise_parameters")
    if parameters is not None:
        if not isinstance(parameters, Mapping):
            raise HiResInputError("denoise_parameters", parameters, "must be an object", 'send {"type": "v1"}')
        _unknown("denoise_parameters.", parameters, ("type",))
        if parameters.get("type", "v1") not in DENOISE_TYPES:
            raise HiResInputError("denoise_parameters.type", parameters["type"], "is not served by this server",
                             f"use {', '.join(DENOISE_TYPES)} or leave it out")
        if not denoise:
            raise HiResInputError("denoise_parameters", dict(parameters),
                                  "has no effect without the denoise enhancement",
                             'add "denoise" to enhancements, or leave it out')
    return denoise


def _print_size(body: Mapping[str, Any], dpi: int) -> tuple[int, int] | None:
    """The paper's pixel size at `dpi` (portrait as named), or None without print_size."""
    name = body.get("print_size")
    if name is None:
        return None
    if name not in PAPER_INCHES:
        raise HiResInputError("print_size", name, "has no single standard size this server can print at",
                         f"use one of {', '.join(PAPER_INCHES)}, or width and height in pixels")
    for other in ("width", "height"):
        if body.get(other) not in (None, "", 0):
            raise HiResInputError(other, body[other], "print_size sets the size", f"send either print_size or {other}")
    size = print_pixels(name, dpi)
    if max(size) > MAX_SIDE:
        raise HiResInputError("print_size", name, f"at {dpi} dpi is {size[0]} x {size[1]} pixels: Image cannot be "
                         f"upscaled above {MAX_SIDE} x {MAX_SIDE} pixels limit", "use a smaller paper or dpi")
    return size


def parse_request(body: Mapping[str, Any]) -> DeepImageRequest:
    """The request's fields, each checked; the first field at fault is a HiResInputError."""
    if not isinstance(body, Mapping):
        raise HiResInputError("body", type(body).__name__, "must be a JSON object",
                              "send the request fields as an object")
    _unknown("", body, TOP_FIELDS)
    url = _url(body)
    fit, crop_focus = _fit(body)
    padding = body.get("padding")
    if padding is not None:
        if isinstance(padding, bool) or not isinstance(padding, (int, str)):
            raise HiResInputError("padding", padding, "is not a margin",
                                  "give pixels (e.g. 24) or a percentage (\"5%\")")
        parse_padding(padding)
    min_length = body.get("min_length")
    if min_length is not None:
        min_length = _int("min_length", min_length, 0, MAX_SIDE, f"give the shortest side in pixels, 0 to {MAX_SIDE}")
    strength = body.get("upscale_strength")
    if strength is not None:
        strength = _int("upscale_strength", strength, STRENGTHS[0], STRENGTHS[-1],
                        f"use {STRENGTHS[0]} (most creative) to {STRENGTHS[-1]} (most conservative)")
    generate, color = _background(body)
    mask_url = body.get("ip_image2") or (generate or {}).get("ip_image2")
    output_format = body.get("output_format", "png")
    if output_format not in FORMATS:
        raise HiResInputError("output_format", output_format, "is not an output format", "use jpeg, jpg, png or webp")
    quality = _int("quality", body.get("quality", 85), 0, 100, "use 0 to 100 (jpeg and webp)")
    max_file_size = body.get("max_file_size")
    dpi = _int("dpi", body.get("dpi", DEFAULT_DPI), 1, MAX_DPI, f"use 1 to {MAX_DPI} (dots per inch)")
    reorientation = _bool("print_reorientation", body.get("print_reorientation", True))
    paper = _print_size(body, dpi)
    width, height = paper or (_size("width", body.get("width")), _size("height", body.get("height")))
    request = DeepImageRequest(
        url=url, width=width, height=height, fit=fit,
        crop_focus=crop_focus, padding=padding, min_length=min_length,
        generative_upscale=_bool("generative_upscale", body.get("generative_upscale", False)),
        upscale_strength=strength, generate=generate, background_color=color,
        mask_url=_text("ip_image2", mask_url) if mask_url else None, output_format=output_format,
        quality=max(quality, 1), max_file_size=None if max_file_size is None else parse_file_size(max_file_size),
        dpi=dpi, print_size=body.get("print_size"), print_reorientation=reorientation, denoise=_enhancements(body))
    _check_combination(request, body)
    return request


def _url(body: Mapping[str, Any]) -> str | None:
    url = body.get("url")
    if url is not None:
        url = _text("url", url)
        if url.startswith("storage://"):
            raise HiResInputError("url", url, "storage:// URLs name deep-image's cloud storage, which this server "
                                  "does not have", "send an http(s) URL or \"base64,<data>\"")
    return url


def _fit(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """(fit, crop_focus): a fit mode, or the object form {"crop": focus}."""
    fit = body.get("fit", DEFAULT_FIT)
    if isinstance(fit, Mapping):
        if set(fit) != {"crop"} or fit["crop"] not in CROP_FOCI:
            raise HiResInputError("fit", dict(fit), "the object form is {\"crop\": \"item\"|\"content\"|\"center\"}",
                                  "send e.g. {\"crop\": \"center\"}")
        return "crop", fit["crop"]
    if fit not in FITS:
        raise HiResInputError("fit", fit, "is not a fit mode", f"use one of {', '.join(FITS)} or {{\"crop\": ...}}")
    return fit, None


def _background(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(background.generate checked, background.color)."""
    background = body.get("background")
    if background is None:
        return None, None
    if not isinstance(background, Mapping):
        raise HiResInputError("background", background, "must be an object", "send {\"generate\": {...}}")
    _unknown("background.", background, BACKGROUND_FIELDS)
    color = background.get("color")
    if color is not None:
        color = _text("background.color", color)
        if not (color.startswith("#") and len(color) in (4, 7)
                and all(c in "0123456789abcdefABCDEF" for c in color[1:])):
            raise HiResInputError("background.color", color, "is not a colour", "send a hex colour like \"#ffffff\"")
    generate = background.get("generate")
    return (None if generate is None else _parse_generate(generate)), color


def _parse_generate(generate: Any) -> dict[str, Any]:
    if not isinstance(generate, Mapping):
        raise HiResInputError("background.generate", generate, "must be an object", "send {\"description\": ...}")
    _unknown("background.generate.", generate, GENERATE_FIELDS)
    out = dict(generate)
    adapter = out.get("adapter_type")
    if adapter is not None and adapter not in ADAPTER_TYPES:
        raise HiResInputError("background.generate.adapter_type", adapter, "is not an adapter type",
                         f"use one of {', '.join(ADAPTER_TYPES)}")
    model_type = out.get("model_type")
    if model_type is not None:
        known = (*SD_MODEL_TYPES, *FAMILIES, *HOSTED_MODEL_TYPES)
        if model_type not in known:
            raise HiResInputError("background.generate.model_type", model_type, "is not a model type",
                             f"use one of {', '.join(known)}")
        served = (*SD_MODEL_TYPES, *FAMILIES)
        if model_type not in served:
            raise HiResInputError("background.generate.model_type", model_type, "is not served by this server's API "
                             "(hosted models need an account with their provider; the others need their own loaders)",
                             f"use one of {', '.join(served)}, or run the shipped workflow "
                             "for this model_type in the graph editor")
    for name in ("description", "negative_prompt"):
        if name in out:
            out[name] = _text(f"background.generate.{name}", out[name])
    if "face_id" in out:
        out["face_id"] = _bool("background.generate.face_id", out["face_id"])
    if "sample_num" in out:
        out["sample_num"] = _int("background.generate.sample_num", out["sample_num"], 0, 2**63 - 1,
                                 "use a non-negative integer seed")
    if "controlnet_conditioning_scale" in out:
        scale = out["controlnet_conditioning_scale"]
        if isinstance(scale, str):
            try:
                scale = float(scale)
            except ValueError:
                pass
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0.0 <= scale <= 1.0):
            raise HiResInputError("background.generate.controlnet_conditioning_scale", scale,
                                  "must be a number from 0 to 1",
                             "use e.g. 0.5 (how much the edges are kept)")
        out["controlnet_conditioning_scale"] = float(scale)
    return out


def _check_combination(request: DeepImageRequest, body: Mapping[str, Any]) -> None:
    adapter = request.adapter_type
    if request.url is None and request.generate is None:
        raise HiResInputError("url", None, "File or image url is required",
                         "send url (http(s) or \"base64,<data>\"), or background.generate to generate from text")
    if request.url is None and adapter in IMAGE_ADAPTERS:
        raise HiResInputError("url", None,
                              f"adapter_type {adapter} works on an input image: File or image url is required",
                         "send url, or use adapter_type upscale to generate from text")
    if request.url is not None and adapter == "upscale" and not request.generative_upscale:
        raise HiResInputError("generative_upscale", False, "adapter_type upscale holds the prompt of the generative "
                         "upscale", "set generative_upscale true, or leave background.generate out")
    if adapter == "upscale" and request.url is not None and not strength_preset(
            request.upscale_strength or DEFAULT_STRENGTH).generative:
        raise HiResInputError("upscale_strength", request.upscale_strength, "strengths 7-9 have no diffusion pass, so "
                         "the prompt of adapter_type upscale cannot guide them", "use a strength from 1 to 6")
    if adapter == "inpainting" and not request.mask_url:
        raise HiResInputError("ip_image2", None, "adapter_type inpainting needs the mask image",
                         "send ip_image2 (white = regenerate)")
    if request.mask_url and adapter != "inpainting":
        raise HiResInputError("ip_image2", request.mask_url[:60], "is the inpainting mask",
                         "set background.generate.adapter_type inpainting, or leave ip_image2 out")
    generating = request.generate is not None and adapter != "upscale" or request.url is None
    if request.denoise and request.url is None:
        raise HiResInputError("enhancements", ["denoise"], "denoise works on an input image",
                         "send url, or leave denoise out for generation")
    if generating:
        for name in ("fit", "padding", "min_length"):
            if name in body and not (name == "fit" and body[name] == DEFAULT_FIT):
                raise HiResInputError(name, body[name], "sizes the upscale of an input image, not a generated one",
                                 "leave it out: generation makes exactly width x height")
        if request.background_color:
            raise HiResInputError("background.color", request.background_color, "fills the canvas around an upscaled "
                             "image", "leave it out for generation")
    for name in ("width", "height"):
        value = getattr(request, name)
        if request.url is None and isinstance(value, str):
            raise HiResInputError(name, value, "a percentage needs an input image", "give pixels for generation")
        if isinstance(value, int) and value > MAX_SIDE:
            raise HiResInputError(name, value, TOO_LARGE, f"ask for at most {MAX_SIDE} pixels per side")
