"""GenerativeUpscale: any image to exactly width x height, by deep-image's upscale_strength table, with a
seamless tiled diffusion pass guided by a prompt (or an image's edges) for strengths 1..6."""

from __future__ import annotations

from comfy_api.latest import io

from ..core.input_checks import NOT_CONNECTED, connected, refusal
from ..core.plan import check_connected, lazy_inputs_for, plan_generative_upscale, strength_route
from ..core.request_rules import SIZE_DEFAULTS, SizeRequest, check_size_request_at_prompt
from ..runtime.conditioning import adapter_conditioning
from ..runtime.declared_inputs import check_widgets
from ..runtime.diffusion_pass import DiffusionSettings
from ..runtime.upscale_pipeline import EdgeControl, upscale_image
from .common_inputs import (
    CATEGORY,
    AdapterIO,
    diffusion_inputs,
    display_name,
    resize_inputs,
    size_inputs,
    size_rules_input,
    strength_input,
)

NODE = "GenerativeUpscale"
USABLE_ADAPTERS = ("upscale", "control")
LAZY_INPUTS = ("upscale_model", "model", "vae", "clip")


class GenerativeUpscale(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE,
            display_name=display_name("Generative Upscale"),
            category=CATEGORY,
            description="deep-image's generative upscale: the base path of upscale_strength, then a seamless tiled "
            "diffusion pass (strengths 1-6) guided by a prompt or the image's edges, to exactly width x height.",
            inputs=[
                io.Image.Input("image", tooltip="The image (or batch) to upscale."),
                *size_inputs(),
                strength_input(),
                io.Model.Input("model", optional=True, lazy=True,
                               tooltip="The diffusion model (any ComfyUI loads). Needed for strengths 1-6 and "
                               "for canvas_fill outpaint."),
                io.Vae.Input("vae", optional=True, lazy=True, tooltip="The model's VAE. Needed with the model."),
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
                size_rules_input(),
                *resize_inputs(),
            ],
            outputs=[io.Image.Output(tooltip="The upscaled image at exactly the planned size.")],
        )

    @classmethod
    def check_lazy_status(cls, image, width: int, height: int, fit: str, scale_by: float, upscale_strength: int,
                          denoise_override: float, size_rules: str = SIZE_DEFAULTS.size_rules,
                          padding: str = SIZE_DEFAULTS.padding, min_length: int = SIZE_DEFAULTS.min_length,
                          crop_focus: str = SIZE_DEFAULTS.crop_focus, canvas_fill: str = SIZE_DEFAULTS.canvas_fill,
                          fill_color: str = SIZE_DEFAULTS.fill_color, adapter=None, mask=None, **inputs) -> list[str]:
        """The plan on the real image first, with everything that can be refused without the models (its
        errors come before any of them is asked for), then only what it uses: no checkpoint at all for 7..9.
        Only connected inputs (present in `inputs`) not evaluated yet (None) can be asked for."""
        request = SizeRequest(width, height, fit, scale_by, size_rules, padding, min_length, crop_focus,
                              canvas_fill, fill_color)
        plan = plan_generative_upscale(request, image, strength_route(upscale_strength, denoise_override),
                                       node=NODE, connected={name for name in LAZY_INPUTS if name in inputs},
                                       adapter=adapter, usable=USABLE_ADAPTERS, mask=mask, find_focus=False)
        wanted = lazy_inputs_for(plan, adapter is None or adapter.needs_clip)
        return [name for name in wanted if name in inputs and inputs[name] is None]

    @classmethod
    def validate_inputs(cls, width: int = None, height: int = None, fit: str = None, scale_by: float = None,
                        upscale_strength: int = None, lora_name: str = None, lora_strength: float = None,
                        cfg: float = None, sampler_name: str = None, scheduler: str = None,
                        denoise_override: float = None, color_fix: str = None,
                        size_rules: str = SIZE_DEFAULTS.size_rules, padding: str = SIZE_DEFAULTS.padding,
                        min_length: int = SIZE_DEFAULTS.min_length, crop_focus: str = SIZE_DEFAULTS.crop_focus,
                        canvas_fill: str = SIZE_DEFAULTS.canvas_fill, fill_color: str = SIZE_DEFAULTS.fill_color,
                        model=NOT_CONNECTED, vae=NOT_CONNECTED, clip=NOT_CONNECTED, adapter=NOT_CONNECTED,
                        upscale_model=NOT_CONNECTED) -> bool:
        """What needs no image, refused at /prompt; the rest is checked on the real image. A widget fed by a
        link arrives as None (its value is known only at run time). The new optional inputs default to their
        own defaults, as ComfyUI leaves them out of an older prompt."""
        # The sizes and the strength get the sizing and strength rules' own messages below.
        values = dict(fit=fit, scale_by=scale_by, lora_name=lora_name, lora_strength=lora_strength, cfg=cfg,
                      sampler_name=sampler_name, scheduler=scheduler, denoise_override=denoise_override,
                      color_fix=color_fix, size_rules=size_rules, padding=padding, min_length=min_length,
                      crop_focus=crop_focus, canvas_fill=canvas_fill, fill_color=fill_color)
        linked = connected(dict(model=model, vae=vae, clip=clip, adapter=adapter, upscale_model=upscale_model))
        known = upscale_strength is not None
        return refusal(
            lambda: check_widgets(cls, values),
            (lambda: strength_route(upscale_strength)) if known else None,
            lambda: check_size_request_at_prompt(width=width, height=height, fit=fit, scale_by=scale_by,
                                                 size_rules=size_rules, padding=padding, min_length=min_length,
                                                 crop_focus=crop_focus, canvas_fill=canvas_fill,
                                                 fill_color=fill_color),
            (lambda: check_connected(strength_route(upscale_strength), canvas_fill == "outpaint", NODE,
                                     linked)) if known else None,
        )

    @classmethod
    def execute(cls, image, width: int, height: int, fit: str, scale_by: float, upscale_strength: int,
                seed: int, lora_name: str, lora_strength: float, steps: int, cfg: float, sampler_name: str,
                scheduler: str, denoise_override: float, tile_size: int, tile_batch: int, color_fix: str,
                model=None, vae=None, clip=None, adapter=None, upscale_model=None, mask=None,
                size_rules: str = SIZE_DEFAULTS.size_rules, padding: str = SIZE_DEFAULTS.padding,
                min_length: int = SIZE_DEFAULTS.min_length, crop_focus: str = SIZE_DEFAULTS.crop_focus,
                canvas_fill: str = SIZE_DEFAULTS.canvas_fill, fill_color: str = SIZE_DEFAULTS.fill_color,
                ) -> io.NodeOutput:
        request = SizeRequest(width, height, fit, scale_by, size_rules, padding, min_length, crop_focus,
                              canvas_fill, fill_color)
        given = {"upscale_model": upscale_model, "model": model, "vae": vae, "clip": clip}
        linked = {name for name, value in given.items() if value is not None}
        plan = plan_generative_upscale(request, image, strength_route(upscale_strength, denoise_override),
                                       node=NODE, connected=linked, adapter=adapter, usable=USABLE_ADAPTERS,
                                       mask=mask)
        settings = positive = negative = edge_control = None
        if plan.needs_model:
            positive, negative = adapter_conditioning(adapter, clip, NODE)
            if adapter is not None and adapter.adapter_type == "control":
                edge_control = EdgeControl(adapter.control_net, adapter.control_scale)
            denoise = plan.route.diffusion.denoise if plan.route.diffusion is not None else 1.0
            settings = DiffusionSettings(seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name,
                                         scheduler=scheduler, denoise=denoise, tile_size=tile_size,
                                         tile_batch=tile_batch, color_fix=color_fix)
        out = upscale_image(
            image, plan, settings, upscale_model=upscale_model, model=model, vae=vae,
            positive=positive, negative=negative, lora_name=lora_name, lora_strength=lora_strength,
            edge_control=edge_control, mask=mask,
        )
        return io.NodeOutput(out)
