"""GenerativeUpscale: any image to exactly width x height, by deep-image's upscale_strength table, with a
seamless tiled diffusion pass guided by a prompt (or an image's edges) for strengths 1..6."""

from __future__ import annotations

from comfy_api.latest import io

from .adapter_select import AdapterIO
from .common_inputs import check_size_inputs, diffusion_inputs, diffusion_settings, size_inputs, strength_input
from .core.errors import HiResInputError
from .core.input_checks import NOT_CONNECTED, check_upscale_inputs, check_upscale_links, connected, refusal
from .core.sizing import plan_size
from .core.strength import strength_preset
from .runtime.conditioning import adapter_conditioning
from .runtime.declared_inputs import check_widgets
from .runtime.upscale_pipeline import EdgeControl, upscale_image

NODE = "GenerativeUpscale"
USABLE_ADAPTERS = ("upscale", "control")
LINKS = ("model", "vae", "clip", "adapter", "upscale_model")


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
    def check_lazy_status(cls, upscale_strength: int, image=None, adapter=None, mask=None, **inputs) -> list[str]:
        """Load only what the chosen strength uses: no checkpoint at all for 7..9. Only connected inputs
        (present in `inputs`) that are not evaluated yet (None) can be asked for. Everything that can be
        refused without the models is refused here, before any of them is asked for."""
        try:
            preset = strength_preset(upscale_strength)
        except HiResInputError:
            return []
        linked = {name for name in LINKS if name in inputs or (name == "adapter" and adapter is not None)}
        check_upscale_inputs(preset, linked, adapter, NODE, USABLE_ADAPTERS,
                             None if image is None else tuple(image.shape[1:3]),
                             None if mask is None else tuple(mask.shape[-2:]))
        wanted = []
        if preset.base_path == "upscale_4":
            wanted.append("upscale_model")
        if preset.generative:
            wanted += ["model", "vae"]
            if adapter is None or adapter.needs_clip:
                wanted.append("clip")
        return [name for name in wanted if name in inputs and inputs[name] is None]

    @classmethod
    def validate_inputs(cls, width: int = None, height: int = None, fit: str = None, scale_by: float = None,
                        upscale_strength: int = None, lora_name: str = None, lora_strength: float = None,
                        cfg: float = None, sampler_name: str = None, scheduler: str = None,
                        denoise_override: float = None, color_fix: str = None, model=NOT_CONNECTED,
                        vae=NOT_CONNECTED, clip=NOT_CONNECTED, adapter=NOT_CONNECTED,
                        upscale_model=NOT_CONNECTED) -> bool | str:
        # The whole numbers (sizes, strength) get the sizing and strength rules' own messages below.
        values = dict(fit=fit, scale_by=scale_by, lora_name=lora_name, lora_strength=lora_strength, cfg=cfg,
                      sampler_name=sampler_name, scheduler=scheduler, denoise_override=denoise_override,
                      color_fix=color_fix)
        linked = connected(dict(model=model, vae=vae, clip=clip, adapter=adapter, upscale_model=upscale_model))

        strength = None if upscale_strength is None else lambda: strength_preset(upscale_strength)  # None: linked
        return refusal(
            lambda: check_widgets(cls, values), strength, lambda: check_size_inputs(width, height, fit, scale_by),
            None if strength is None else lambda: check_upscale_links(strength_preset(upscale_strength), linked,
                                                                      None, NODE),
        )

    @classmethod
    def execute(cls, image, width: int, height: int, fit: str, scale_by: float, upscale_strength: int,
                seed: int, lora_name: str, lora_strength: float, steps: int, cfg: float, sampler_name: str,
                scheduler: str, denoise_override: float, tile_size: int, tile_batch: int, color_fix: str,
                model=None, vae=None, clip=None, adapter=None, upscale_model=None, mask=None) -> io.NodeOutput:
        preset = strength_preset(upscale_strength)
        plan = plan_size(image.shape[2], image.shape[1], width, height, fit, scale_by)
        given = dict(model=model, vae=vae, clip=clip, adapter=adapter, upscale_model=upscale_model)
        check_upscale_inputs(preset, {name for name, value in given.items() if value is not None}, adapter, NODE,
                             USABLE_ADAPTERS, tuple(image.shape[1:3]), None if mask is None else tuple(mask.shape[-2:]))
        settings = positive = negative = edge_control = None
        if preset.generative:
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
