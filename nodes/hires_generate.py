"""HiResGenerate: deep-image's image generation at any size. The model generates at its native pixel budget
with the target's aspect ratio; the image then reaches exactly width x height by AI upscaling, or through
GenerativeUpscale's pipeline when generative_upscale is on."""

from __future__ import annotations

from comfy_api.latest import io

from .adapter_select import AdapterIO
from .common_inputs import diffusion_inputs, diffusion_settings, strength_input
from .core.adapter import DEFAULT_CONTROL_SCALE
from .core.errors import HiResInputError
from .core.generation import generation_size, paste_kept, recipe_for, target_size
from .core.native import native_side
from .core.resize import bchw_to_bhwc, split_alpha
from .core.sizing import MAX_SIDE, plan_size
from .core.strength import strength_preset
from .runtime.conditioning import adapter_conditioning
from .runtime.generation import generate_native
from .runtime.generative import model_family
from .runtime.upscale_pipeline import EdgeControl, upscale_image

NODE = "HiResGenerate"
NO_DIFFUSION = {True: 7, False: 8}
"""Without generative_upscale: the strength rows with no diffusion (upscale_4 with a model, bicubic without)."""


class HiResGenerate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE,
            display_name="HiRes Generate (HiRes Studio)",
            category="HiRes Studio",
            description="deep-image's image generation at any size: generate at the model's native resolution with "
            "the target's aspect ratio, then reach exactly width x height (AI upscale, or the generative upscale).",
            inputs=[
                io.Model.Input("model", tooltip="Any diffusion model ComfyUI loads (checkpoint or UNET loader)."),
                io.Vae.Input("vae", tooltip="The model's VAE."),
                io.Clip.Input("clip", optional=True,
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
                *diffusion_inputs("sample_num", "deep-image's sample_num: the seed of generation and upscale."),
            ],
            outputs=[
                io.Image.Output("image", display_name="image", tooltip="The image at exactly width x height."),
                io.Image.Output("native_image", display_name="native_image",
                                tooltip="The image as generated at the native size."),
            ],
        )

    @classmethod
    def check_lazy_status(cls, upscale_strength: int, generative_upscale: bool, **inputs) -> list[str]:
        """The upscale model is loaded only when it will be used (and only if it is connected)."""
        try:
            preset = strength_preset(upscale_strength)
        except HiResInputError:
            return []
        needed = not generative_upscale or preset.base_path == "upscale_4"
        return ["upscale_model"] if needed and "upscale_model" in inputs and inputs["upscale_model"] is None else []

    @classmethod
    def validate_inputs(cls, width: int, height: int, upscale_strength: int) -> bool | str:
        try:
            strength_preset(upscale_strength)
            target_size(width, height, None, 1024)
        except HiResInputError as error:
            return str(error)
        return True

    @classmethod
    def execute(cls, model, vae, width: int, height: int, generative_upscale: bool, upscale_strength: int,
                sample_num: int, lora_name: str, lora_strength: float, steps: int, cfg: float, sampler_name: str,
                scheduler: str, denoise_override: float, tile_size: int, tile_batch: int, color_fix: str,
                clip=None, adapter=None, upscale_model=None) -> io.NodeOutput:
        preset = strength_preset(upscale_strength)
        image = None if adapter is None else adapter.image
        reference = None if image is None else (image.shape[2], image.shape[1])
        native = native_side(model_family(model))
        target = target_size(width, height, reference, native)
        gen = generation_size(target, native)
        upscaling = target[0] * target[1] > native * native
        if upscaling and generative_upscale and preset.base_path == "upscale_4" and upscale_model is None:
            raise HiResInputError(
                "upscale_model", None, f"upscale_strength {upscale_strength} takes the upscale_4 base path, which "
                "needs an UPSCALE_MODEL", "connect Load Upscale Model, or choose a bicubic strength (2, 3, 5, 6)",
            )
        positive, negative = adapter_conditioning(adapter, clip, NODE)
        rgb, alpha = (None, None) if image is None else split_alpha(image)
        adapter_type = None if adapter is None else adapter.adapter_type
        recipe = recipe_for(adapter_type, rgb, alpha, None if adapter is None else adapter.mask,
                            bool(adapter is not None and adapter.face_id), gen, target)
        settings = diffusion_settings(preset, sample_num, steps, cfg, sampler_name, scheduler, denoise_override,
                                      tile_size, tile_batch, color_fix)
        control_net = None if adapter is None else adapter.control_net
        control_scale = DEFAULT_CONTROL_SCALE if adapter is None else adapter.control_scale
        batch = 1 if image is None else image.shape[0]

        native_image = generate_native(model, vae, positive, negative, recipe, gen, batch, settings,
                                       control_net, control_scale)

        if not (upscaling and generative_upscale):
            preset = strength_preset(NO_DIFFUSION[upscale_model is not None])
        edge_control = EdgeControl(control_net, control_scale) if adapter_type in ("control", "control2") else None
        regenerate = None if recipe.regenerate is None else recipe.regenerate[:, 0]
        out = upscale_image(
            bchw_to_bhwc(native_image), plan_size(gen[0], gen[1], target[0], target[1], "crop"), preset,
            settings if preset.generative else None, upscale_model=upscale_model, model=model, vae=vae,
            positive=positive, negative=negative, lora_name=lora_name, lora_strength=lora_strength,
            edge_control=edge_control, mask=regenerate,
        )
        out = paste_kept(out.movedim(-1, 1), recipe)
        return io.NodeOutput(bchw_to_bhwc(out).contiguous(), bchw_to_bhwc(native_image).contiguous())
