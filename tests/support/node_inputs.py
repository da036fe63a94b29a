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
