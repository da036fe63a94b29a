"""Every widget of the pack's nodes at a small, valid value: tests take these and change what they test."""

from __future__ import annotations

GENERATIVE_UPSCALE = dict(
    width=0, height=0, fit="canvas", scale_by=2.0, upscale_strength=5, seed=7, lora_name="none", lora_strength=1.0,
    steps=2, cfg=5.0, sampler_name="euler", scheduler="normal", denoise_override=0.0, tile_size=128,
    tile_batch=0, color_fix="wavelet",
)
HIRES_GENERATE = dict(
    width=64, height=64, generative_upscale=False, upscale_strength=5, sample_num=3, lora_name="none",
    lora_strength=1.0, steps=1, cfg=5.0, sampler_name="euler", scheduler="normal", denoise_override=0.0,
    tile_size=256, tile_batch=0, color_fix="wavelet",
)
ADAPTER = dict(description="on the beach", add_quality_suffix=True, negative_prompt="",
               controlnet_conditioning_scale=0.5, face_id=False)


def upscale_prompt(image_size: tuple[int, int], batch_size: int = 1, **inputs) -> dict:
    """A /prompt graph: an EmptyImage of `image_size` (width, height) into GenerativeUpscale (node "4",
    GENERATIVE_UPSCALE with `inputs` over it) on the tiny checkpoint (node "2"), previewed by node "5"."""
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": image_size[0], "height": image_size[1], "batch_size": batch_size, "color": 0x336699}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sd15.safetensors"}},
        "4": {"class_type": "GenerativeUpscale", "inputs": {
            **GENERATIVE_UPSCALE, "image": ["1", 0], "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1],
            **inputs}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
