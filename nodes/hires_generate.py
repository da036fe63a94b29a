"""HiResGenerate: deep-image's image generation at any size. The model generates at its native pixel budget
with the target's aspect ratio; the image then reaches exactly width x height by AI upscaling, or through
GenerativeUpscale's pipeline when generative_upscale is on."""

from __future__ import annotations

from comfy_api.latest import io

from ..core.input_checks import NOT_CONNECTED, check_generate_inputs, check_prompt_encoder, connected, refusal
from ..core.native import native_side
from ..core.plan import plan_generation, strength_route
from ..core.request_rules import DEFAULT_NUM_IMAGES, MAX_NUM_IMAGES, SIZE_DEFAULTS, check_generation_request
from ..core.sizing import MAX_SIDE
from ..runtime.declared_inputs import check_widgets
from ..runtime.diffusion_pass import DiffusionSettings, model_family
from ..runtime.hires_generation import generate_images
from .common_inputs import CATEGORY, AdapterIO, diffusion_inputs, display_name, size_rules_input, strength_input

NODE = "HiResGenerate"
LINKS = ("clip", "adapter")
"""The optional links whose presence the checks need (model and vae are required)."""


class HiResGenerate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE,
            display_name=display_name("HiRes Generate"),
            category=CATEGORY,
            description="deep-image's image generation at any size: generate at the model's native resolution with "
            "the target's aspect ratio, then reach exactly width x height (AI upscale, or the generative upscale).",
            inputs=[
                io.Model.Input("model", lazy=True,
                               tooltip="Any diffusion model ComfyUI loads (checkpoint or UNET loader)."),
                io.Vae.Input("vae", lazy=True, tooltip="The model's VAE."),
                io.Clip.Input("clip", optional=True, lazy=True,
                              tooltip="Encodes the prompt when the adapter brings no conditioning. Without an "
                              "adapter the prompt is deep-image's quality suffix."),
                AdapterIO.Input("adapter", optional=True,
                                tooltip="AdapterSelect: the prompt and how the image is used (background, face, "
                                "control, control2, upscale, inpainting)."),
                io.Int.Input("width", default=2048, min=0, max=MAX_SIDE,
                             tooltip="Output width. 0 = from height and the adapter image's aspect (square "
                             "without one); both 0 = the adapter image's size (the native size without one)."),
                io.Int.Input("height", default=1024, min=0, max=MAX_SIDE, tooltip="Output height (0: see width)."),
                io.Boolean.Input("generative_upscale", default=False,
                                 tooltip="Reach the size through the diffusion upscale (richer detail) instead of "
                                 "AI upscaling."),
                strength_input(),
                io.UpscaleModel.Input("upscale_model", optional=True, lazy=True,
                                      tooltip="AI upscaler: up to 4x by the model, bicubic beyond. Without one, a "
                                      "clean bicubic resize."),
                *diffusion_inputs("sample_num", "deep-image's sample_num: the seed of generation and upscale "
                                  "(image i of num_images uses sample_num + i)."),
                size_rules_input(),
                io.Int.Input("num_images", default=DEFAULT_NUM_IMAGES, min=1, max=MAX_NUM_IMAGES, optional=True,
                             tooltip="deepmode's num_images: this many images as one batch, each with its own "
                             "seed (sample_num + i)."),
            ],
            outputs=[
                io.Image.Output("image", display_name="image", tooltip="The image at exactly width x height."),
                io.Image.Output("native_image", display_name="native_image",
                                tooltip="The image as generated at the native size."),
            ],
        )

    @classmethod
    def check_lazy_status(cls, width: int, height: int, upscale_strength: int, generative_upscale: bool,
                          denoise_override: float, size_rules: str = SIZE_DEFAULTS.size_rules,
                          num_images: int = DEFAULT_NUM_IMAGES,
                          adapter=None, **inputs) -> list[str]:
        """The request's own rules and what the adapter shows are refused before the model, VAE and CLIP are
        asked for (they are lazy so that nothing loads first); the upscale model is loaded only when it will
        be used. What depends on the model's native size is planned in execute."""
        check_generation_request(width, height, size_rules, num_images)
        route = strength_route(upscale_strength, denoise_override)
        check_generate_inputs({name for name in LINKS if name in inputs}, adapter, NODE)
        wanted = ["model", "vae"]
        if adapter is None or adapter.needs_clip:
            wanted.append("clip")
        if not generative_upscale or route.uses_upscale_model:
            wanted.append("upscale_model")
        return [name for name in wanted if name in inputs and inputs[name] is None]

    @classmethod
    def validate_inputs(cls, width: int = None, height: int = None, upscale_strength: int = None,
                        lora_name: str = None, lora_strength: float = None, cfg: float = None,
                        sampler_name: str = None, scheduler: str = None, denoise_override: float = None,
                        color_fix: str = None, size_rules: str = SIZE_DEFAULTS.size_rules,
                        num_images: int = DEFAULT_NUM_IMAGES, clip=NOT_CONNECTED, adapter=NOT_CONNECTED) -> bool:
        """What needs no model or image, refused at /prompt. A widget fed by a link arrives as None."""
        # The sizes, num_images and the strength get the generation and strength rules' own messages below.
        values = dict(lora_name=lora_name, lora_strength=lora_strength, cfg=cfg, sampler_name=sampler_name,
                      scheduler=scheduler, denoise_override=denoise_override, color_fix=color_fix,
                      size_rules=size_rules)
        request = (width, height, size_rules, num_images)
        return refusal(
            lambda: check_widgets(cls, values),
            None if upscale_strength is None else lambda: strength_route(upscale_strength),  # None: linked
            None if None in request else lambda: check_generation_request(*request),
            lambda: check_prompt_encoder(connected(dict(clip=clip, adapter=adapter)), None, NODE),
        )

    @classmethod
    def execute(cls, model, vae, width: int, height: int, generative_upscale: bool, upscale_strength: int,
                sample_num: int, lora_name: str, lora_strength: float, steps: int, cfg: float, sampler_name: str,
                scheduler: str, denoise_override: float, tile_size: int, tile_batch: int, color_fix: str,
                clip=None, adapter=None, upscale_model=None, size_rules: str = SIZE_DEFAULTS.size_rules,
                num_images: int = DEFAULT_NUM_IMAGES) -> io.NodeOutput:
        check_generate_inputs({name for name, value in (("clip", clip), ("adapter", adapter)) if value is not None},
                              adapter, NODE)
        image = None if adapter is None else adapter.image
        reference = None if image is None else (image.shape[2], image.shape[1])
        native = native_side(model_family(model))
        plan = plan_generation(width, height, size_rules, reference, native, generative_upscale=generative_upscale,
                               strength=upscale_strength, denoise_override=denoise_override, num_images=num_images,
                               connected={"upscale_model"} if upscale_model is not None else set())
        settings = DiffusionSettings(seed=sample_num, steps=steps, cfg=cfg, sampler_name=sampler_name,
                                     scheduler=scheduler, denoise=1.0, tile_size=tile_size, tile_batch=tile_batch,
                                     color_fix=color_fix)
        return io.NodeOutput(*generate_images(plan, model, vae, clip, adapter, settings, upscale_model=upscale_model,
                                              lora_name=lora_name, lora_strength=lora_strength, node=NODE))
