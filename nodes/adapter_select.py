"""AdapterSelect: deep-image's `background.generate` block as one ADAPTER value for the generators."""

from __future__ import annotations

from comfy_api.latest import io

from ..core.adapter import (
    ADAPTER_TYPES,
    DEFAULT_CONTROL_SCALE,
    DEFAULT_SUFFIX,
    Adapter,
    build_prompt,
    check_adapter,
    check_face_id,
)
from ..core.input_checks import NOT_CONNECTED, check_adapter_links, check_mask_size, connected, refusal
from ..core.masks import require_face
from ..core.resize import split_alpha
from ..runtime.declared_inputs import check_widgets
from .common_inputs import CATEGORY, AdapterIO, display_name

LAZY = ("clip", "positive", "negative", "control_net")
"""The inputs that load models upstream: asked for only after the checks on the image and the mask pass."""


class AdapterSelect(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="AdapterSelect",
            display_name=display_name("Adapter Select"),
            category=CATEGORY,
            description="deep-image's background.generate block: what guides generation or a generative upscale "
            "(a prompt, an image's edges, a face, a main object or a mask).",
            inputs=[
                io.Combo.Input(
                    "adapter_type", options=list(ADAPTER_TYPES), default="upscale",
                    tooltip="generate_background: keep the main object, generate the background; face: keep the "
                    "first face, generate around it; control: image-to-image guided by the image's Canny edges; "
                    "control2: generate from the edges only; upscale: the prompt of a generative upscale; "
                    "inpainting: regenerate the masked area only.",
                ),
                io.String.Input("description", multiline=True, default="",
                                tooltip="The prompt (deep-image's description)."),
                io.Boolean.Input("add_quality_suffix", default=True,
                                 tooltip=f"Append '{DEFAULT_SUFFIX}' to the description, as deep-image does."),
                io.String.Input("negative_prompt", multiline=True, default="",
                                tooltip="What to keep out of the image."),
                io.Float.Input("controlnet_conditioning_scale",
                               display_name="controlnet_conditioning_scale (control types only)",
                               default=DEFAULT_CONTROL_SCALE, min=0.0, max=1.0, step=0.05,
                               tooltip="control and control2 only: how strongly the edges guide the result. The "
                               "other types ignore it."),
                io.Boolean.Input("face_id", display_name="face_id (face only)", default=False,
                                 tooltip="face only: keep the face alone (on) or the face with its hair (off). The "
                                 "other types ignore it."),
                io.Clip.Input("clip", optional=True, lazy=True,
                              tooltip="Encodes the prompts here. Without it the generator's own CLIP encodes them."),
                io.Conditioning.Input("positive", optional=True, lazy=True,
                                      tooltip="Ready conditioning; overrides the text."),
                io.Conditioning.Input("negative", optional=True, lazy=True,
                                      tooltip="Ready negative conditioning; overrides the negative prompt."),
                io.Image.Input("image", optional=True,
                               tooltip="The image the adapter works from (object, face, edges, inpainting)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="generate_background: the object to keep (1 = keep); inpainting: the area "
                              "to regenerate (1 = regenerate). Must be the image's size."),
                io.ControlNet.Input("control_net", optional=True, lazy=True,
                                    tooltip="The ControlNet the edges go through (control, control2)."),
            ],
            outputs=[AdapterIO.Output("adapter", display_name="adapter",
                                      tooltip="Feed to GenerativeUpscale or HiResGenerate.")],
        )

    @classmethod
    def validate_inputs(cls, adapter_type: str = None, description: str = None, negative_prompt: str = None,
                        controlnet_conditioning_scale: float = None, face_id: bool = None, image=NOT_CONNECTED,
                        mask=NOT_CONNECTED, control_net=NOT_CONNECTED) -> bool:
        values = dict(adapter_type=adapter_type, description=description, negative_prompt=negative_prompt,
                      controlnet_conditioning_scale=controlnet_conditioning_scale)
        linked = connected(dict(image=image, mask=mask, control_net=control_net))
        known = adapter_type is not None  # None: a linked widget, known only at run time
        return refusal(
            lambda: check_widgets(cls, values),
            (lambda: check_face_id(adapter_type, bool(face_id))) if known else None,
            (lambda: check_adapter_links(adapter_type, linked)) if known else None,
        )

    @classmethod
    def check_lazy_status(cls, adapter_type: str, image=None, mask=None, **inputs) -> list[str]:
        """Refuse what the image and mask show (a mask of another size, no face for `face`) before the CLIP,
        the ControlNet or ready conditioning is asked for: those are what load models."""
        linked = [name for name in LAZY if name in inputs]
        pending = [name for name in linked if inputs[name] is None]
        if pending or not linked:  # once: not again after the lazy inputs have arrived
            if mask is not None and image is not None:
                check_mask_size(tuple(mask.shape[-2:]), tuple(image.shape[1:3]))
            if adapter_type == "face" and image is not None:
                rgb, _ = split_alpha(image)
                for one in rgb:
                    require_face(one)
        return pending

    @classmethod
    def execute(cls, adapter_type: str, description: str, add_quality_suffix: bool, negative_prompt: str,
                controlnet_conditioning_scale: float, face_id: bool, clip=None, positive=None, negative=None,
                image=None, mask=None, control_net=None) -> io.NodeOutput:
        adapter = Adapter(
            adapter_type=adapter_type, prompt=build_prompt(description, add_quality_suffix),
            negative_prompt=negative_prompt, control_scale=controlnet_conditioning_scale, face_id=face_id,
            positive=positive, negative=negative, image=image, mask=mask, control_net=control_net, clip=clip,
        )
        check_adapter(adapter)
        return io.NodeOutput(adapter)
