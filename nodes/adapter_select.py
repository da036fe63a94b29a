"""AdapterSelect: deep-image's `background.generate` block as one ADAPTER value for the generators."""

from __future__ import annotations

from dataclasses import replace

from comfy_api.latest import io

from .core.adapter import ADAPTER_TYPES, DEFAULT_CONTROL_SCALE, DEFAULT_SUFFIX, Adapter, build_prompt, check_adapter
from .runtime.conditioning import encode_text

AdapterIO = io.Custom("HIRES_ADAPTER")


class AdapterSelect(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="AdapterSelect",
            display_name="Adapter Select (HiRes Studio)",
            category="HiRes Studio",
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
                io.Clip.Input("clip", optional=True,
                              tooltip="Encodes the prompts here. Without it the generator's own CLIP encodes them."),
                io.Conditioning.Input("positive", optional=True, tooltip="Ready conditioning; overrides the text."),
                io.Conditioning.Input("negative", optional=True,
                                      tooltip="Ready negative conditioning; overrides the negative prompt."),
                io.Image.Input("image", optional=True,
                               tooltip="The image the adapter works from (object, face, edges, inpainting)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="generate_background: the object to keep (1 = keep); inpainting: the area "
                              "to regenerate (1 = regenerate). Must be the image's size."),
                io.ControlNet.Input("control_net", optional=True,
                                    tooltip="The ControlNet the edges go through (control, control2)."),
            ],
            outputs=[AdapterIO.Output("adapter", display_name="adapter",
                                      tooltip="Feed to GenerativeUpscale or HiResGenerate.")],
        )

    @classmethod
    def validate_inputs(cls, controlnet_conditioning_scale: float) -> bool | str:
        if not 0.0 <= controlnet_conditioning_scale <= 1.0:
            return (f"controlnet_conditioning_scale={controlnet_conditioning_scale!r}: must be from 0 to 1. "
                    f"Fix: use a value in 0..1 ({DEFAULT_CONTROL_SCALE} is the default).")
        return True

    @classmethod
    def execute(cls, adapter_type: str, description: str, add_quality_suffix: bool, negative_prompt: str,
                controlnet_conditioning_scale: float, face_id: bool, clip=None, positive=None, negative=None,
                image=None, mask=None, control_net=None) -> io.NodeOutput:
        adapter = Adapter(
            adapter_type=adapter_type, prompt=build_prompt(description, add_quality_suffix),
            negative_prompt=negative_prompt, control_scale=controlnet_conditioning_scale, face_id=face_id,
            positive=positive, negative=negative, image=image, mask=mask, control_net=control_net,
        )
        check_adapter(adapter)
        if clip is not None:
            adapter = replace(
                adapter,
                positive=positive if positive is not None else encode_text(clip, adapter.prompt),
                negative=negative if negative is not None else encode_text(clip, adapter.negative_prompt),
            )
        return io.NodeOutput(adapter)
