"""BicubicClean: bicubic resize plus a learned cleanup pass for JPEG-damaged, noisy or old images."""

from __future__ import annotations

from comfy_api.latest import io

from .common_inputs import CLEANUP_CHOICES, CLEANUP_LEVELS, check_size_inputs, size_inputs
from .core.base_path import make_base, resize_alpha
from .core.resize import merge_alpha, split_alpha
from .core.sizing import plan_size
from .runtime.cleanup_model import cleanup_function


class BicubicClean(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="BicubicClean",
            display_name="Bicubic Clean (HiRes Studio)",
            category="HiRes Studio",
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
            ],
            outputs=[io.Image.Output(tooltip="The resized, cleaned image at exactly the planned size.")],
        )

    @classmethod
    def validate_inputs(cls, width: int, height: int, fit: str, scale_by: float, cleanup: str) -> bool | str:
        if cleanup not in CLEANUP_CHOICES:
            return f"cleanup={cleanup!r}: is not a cleanup level. Fix: use one of {', '.join(CLEANUP_CHOICES)}."
        return check_size_inputs(width, height, fit, scale_by)

    @classmethod
    def execute(cls, image, width: int, height: int, fit: str, scale_by: float, cleanup: str) -> io.NodeOutput:
        plan = plan_size(image.shape[2], image.shape[1], width, height, fit, scale_by)
        rgb, alpha = split_alpha(image)
        clean = cleanup_function("auto" if cleanup == "auto" else CLEANUP_LEVELS[cleanup])
        out = make_base(rgb, plan, "bicubic" if clean is None else "bicubic_clean", clean=clean)
        return io.NodeOutput(merge_alpha(out, None if alpha is None else resize_alpha(alpha, plan)))
