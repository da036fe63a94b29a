"""BicubicClean: bicubic resize plus a learned cleanup pass for JPEG-damaged, noisy or old images."""

from __future__ import annotations

from comfy_api.latest import io

from ..core.input_checks import refusal
from ..core.plan import CLEANUP_CHOICES, check_canvas_fill, cleanup_route, plan_upscale_image
from ..core.request_rules import SIZE_DEFAULTS, SizeRequest, check_size_request_at_prompt
from ..runtime.cleanup_model import cleanup_function
from ..runtime.declared_inputs import check_widgets
from ..runtime.upscale_pipeline import upscale_image
from .common_inputs import CATEGORY, display_name, resize_inputs, size_inputs, size_rules_input

NODE = "BicubicClean"


class BicubicClean(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE,
            display_name=display_name("Bicubic Clean"),
            category=CATEGORY,
            description="Bicubic resize with a cleanup pass (waifu2x photo denoise at the source resolution) for "
            "compressed, noisy or old images. Its strength is chosen from the measured damage unless set.",
            inputs=[
                io.Image.Input("image", tooltip="The image (or batch) to resize."),
                *size_inputs(),
                io.Combo.Input(
                    "cleanup", options=list(CLEANUP_CHOICES), default="auto",
                    tooltip="auto = measure JPEG blockiness and noise and pick the level; off = plain bicubic; "
                    "light..strongest = waifu2x photo denoise level 0..3.",
                ),
                size_rules_input(),
                *resize_inputs(),
            ],
            outputs=[io.Image.Output(tooltip="The resized, cleaned image at exactly the planned size.")],
        )

    @classmethod
    def validate_inputs(cls, width: int = None, height: int = None, fit: str = None, scale_by: float = None,
                        cleanup: str = None, size_rules: str = SIZE_DEFAULTS.size_rules,
                        padding: str = SIZE_DEFAULTS.padding, min_length: int = SIZE_DEFAULTS.min_length,
                        crop_focus: str = SIZE_DEFAULTS.crop_focus, canvas_fill: str = SIZE_DEFAULTS.canvas_fill,
                        fill_color: str = SIZE_DEFAULTS.fill_color) -> bool:
        """What needs no image, refused at /prompt (outpaint too: this node has no model). A widget fed by a
        link arrives as None and is checked on the real image."""
        values = dict(fit=fit, scale_by=scale_by, cleanup=cleanup, size_rules=size_rules, padding=padding,
                      min_length=min_length, crop_focus=crop_focus, canvas_fill=canvas_fill, fill_color=fill_color)
        return refusal(
            lambda: check_widgets(cls, values),
            lambda: check_size_request_at_prompt(width=width, height=height, fit=fit, scale_by=scale_by,
                                                 size_rules=size_rules, padding=padding, min_length=min_length,
                                                 crop_focus=crop_focus, canvas_fill=canvas_fill,
                                                 fill_color=fill_color),
            lambda: check_canvas_fill(canvas_fill, NODE, model_inputs=False),
        )

    @classmethod
    def execute(cls, image, width: int, height: int, fit: str, scale_by: float, cleanup: str,
                size_rules: str = SIZE_DEFAULTS.size_rules, padding: str = SIZE_DEFAULTS.padding,
                min_length: int = SIZE_DEFAULTS.min_length,
                crop_focus: str = SIZE_DEFAULTS.crop_focus, canvas_fill: str = SIZE_DEFAULTS.canvas_fill,
                fill_color: str = SIZE_DEFAULTS.fill_color) -> io.NodeOutput:
        request = SizeRequest(width, height, fit, scale_by, size_rules, padding, min_length, crop_focus,
                              canvas_fill, fill_color)
        route, level = cleanup_route(cleanup)
        plan = plan_upscale_image(request, image, route, node=NODE, model_inputs=False)
        return io.NodeOutput(upscale_image(image, plan, None, clean=cleanup_function(level)))
