"""GenerativeUpscale: any image to exactly width x height, by deep-image's upscale_strength table, with a
seamless tiled diffusion pass guided by a prompt (or an image's edges) for strengths 1..6."""

from __future__ import annotations

from comfy_api.latest import io

from .adapter_select import AdapterIO
from .common_inputs import check_size_inputs, diffusion_inputs, diffusion_settings, size_inputs, strength_input
from .core.adapter import check_consumer
from .core.errors import HiResInputError
from .core.sizing import plan_size
from .core.strength import strength_preset
from .runtime.conditioning import adapter_conditioning
from .runtime.upscale_pipeline import EdgeControl, upscale_image

NODE = "GenerativeUpscale"
USABLE_ADAPTERS = ("upscale", "control")


class GenerativeUpscale(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE,
            display_name="Generative Upscale (HiRes Studio)",
            category="HiRes Studio",
            description="deep-image's generative upscale: the base path of upscale_strength, then a seamless tiled "
            "diffusion pass (strengths 1-6) guided by a prompt or the image's edges, to exactly width x height.",
            inputs=[
                io.Image.Input("image", tooltip="The image (or batch) to upscale."),
                *size_inputs(),
                strength_input(),
                io.Model.Input("model", optional=True, lazy=True,
                               tooltip="The diffusion model (any ComfyUI loads). Needed for strengths 1-6."),
                io.Vae.Input("vae", optional=True, lazy=True, tooltip="The model's VAE. Needed for strengths 1-6."),
                io.Clip.Input("clip", optional=True, lazy=True,
                              tooltip="Encodes the prompt when the adapter brings no conditioning (or there is no "
                              "adapter: then the prompt is deep-image's quality suffix)."),
                AdapterIO.Input("adapter", optional=True,
                                tooltip="AdapterSelect with adapter_type upscale (the prompt) or control (the edges)."),
                io.UpscaleModel.Input("upscale_model", optional=True, lazy=True,
                                      tooltip="The AI upscaler of the upscale_4 path (strengths 1, 4, 7); at most 4x."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Where the diffusion pass may change the image (1 = change). The image's size."),
                *diffusion_inputs(),
            ],
            outputs=[io.Image.Output(tooltip="The upscaled image at exactly the planned size.")],
        )

    @classmethod
    def check_lazy_status(cls, upscale_strength: int, **inputs) -> list[str]:
        """Load only what the chosen strength uses: no checkpoint at all for 7..9. Only connected inputs
        (present in `inputs`) that are not evaluated yet (None) can be asked for."""
        try:
            preset = strength_preset(upscale_strength)
        except HiResInputError:
            return []
        wanted = []
        if preset.base_path == "upscale_4":
            wanted.append("upscale_model")
        if preset.generative:
            wanted += ["model", "vae"]
            adapter = inputs.get("adapter")
            if adapter is None or adapter.needs_clip:
                wanted.append("clip")
        return [name for name in wanted if name in inputs and inputs[name] is None]

    @classmethod
    def validate_inputs(cls, width: int, height: int, fit: str, scale_by: float, upscale_strength: int) -> bool | str:
        try:
            strength_preset(upscale_strength)
        except HiResInputError as error:
            return str(error)
        return check_size_inputs(width, height, fit, scale_by)

    @classmethod
    def execute(cls, image, width: int, height: int, fit: str, scale_by: float, upscale_strength: int,
                seed: int, lora_name: str, lora_strength: float, steps: int, cfg: float, sampler_name: str,
                scheduler: str, denoise_override: float, tile_size: int, tile_batch: int, color_fix: str,
                model=None, vae=None, clip=None, adapter=None, upscale_model=None, mask=None) -> io.NodeOutput:
        preset = strength_preset(upscale_strength)
        plan = plan_size(image.shape[2], image.shape[1], width, height, fit, scale_by)
        check_consumer(adapter, NODE, USABLE_ADAPTERS)
        if preset.base_path == "upscale_4" and upscale_model is None:
            raise HiResInputError(
                "upscale_model", None, f"upscale_strength {upscale_strength} takes the upscale_4 base path, which "
                "needs an UPSCALE_MODEL", "connect Load Upscale Model (e.g. RealESRGAN_x4plus), or choose a "
                "bicubic strength (2, 3, 5, 6, 8, 9)",
            )
        if mask is not None and tuple(mask.shape[-2:]) != tuple(image.shape[1:3]):
            raise HiResInputError(
                "mask", f"{mask.shape[-1]}x{mask.shape[-2]}",
                f"the mask must be the image's size ({image.shape[2]}x{image.shape[1]})",
                "resize the mask to the image, or take both from the same Load Image node",
            )
        settings = positive = negative = edge_control = None
        if preset.generative:
            for name, value in (("model", model), ("vae", vae)):
                if value is None:
                    raise HiResInputError(
                        name, None, f"upscale_strength {upscale_strength} runs a diffusion pass, which needs a "
                        f"{name.upper()}", f"connect the checkpoint's {name.upper()}, or choose strength 7-9 "
                        "(no diffusion)",
                    )
            positive, negative = adapter_conditioning(adapter, clip, NODE)
            if adapter is not None and adapter.adapter_type == "control":
                edge_control = EdgeControl(adapter.control_net, adapter.control_scale)
            settings = diffusion_settings(preset, seed, steps, cfg, sampler_name, scheduler, denoise_override,
                                          tile_size, tile_batch, color_fix)
        out = upscale_image(
            image, plan, preset, settings, upscale_model=upscale_model, model=model, vae=vae,
            positive=positive, negative=negative, lora_name=lora_name, lora_strength=lora_strength,
            edge_control=edge_control, mask=mask,
        )
        return io.NodeOutput(out)
