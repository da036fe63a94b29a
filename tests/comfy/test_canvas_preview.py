"""Live previews of the whole canvas inside a real ComfyUI (in-process, the tiny models): ComfyUI's previewer
under the user's preview method and size, sent with the progress bar, never changing the result."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import pytest
import torch

from hires_studio.core.preview_pacing import PreviewPacer
from hires_studio.core.sizing import plan_size
from hires_studio.core.tiling import Tile, diffusion_grid
from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import GENERATIVE_UPSCALE, HIRES_GENERATE

pytestmark = pytest.mark.comfy


@contextmanager
def progress_events(method: str):
    """Every progress-bar update (value, total, preview image or None) while the block runs, with ComfyUI's
    preview method set to `method` (as `--preview-method` sets it)."""
    import comfy.utils
    from comfy.cli_args import LatentPreviewMethod, args

    events: list[tuple[int, int, tuple | None]] = []
    saved_hook, saved_method = comfy.utils.PROGRESS_BAR_HOOK, args.preview_method

    def hook(value, total, preview, node_id=None):
        events.append((value, total, preview))

    comfy.utils.set_progress_bar_global_hook(hook)
    args.preview_method = LatentPreviewMethod(method)
    try:
        yield events
    finally:
        comfy.utils.set_progress_bar_global_hook(saved_hook)
        args.preview_method = saved_method


def photo(h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    low = torch.rand(1, 3, 4, 6, generator=g)
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear").movedim(1, -1).contiguous()


UPSCALE = dict(scale_by=2.0, steps=3, tile_size=128)
IMAGE = (75, 118)  # -> 150 x 236 px, a latent canvas of 19 x 30 in several 16-px tiles


def upscale(comfy, ckpt, **kwargs) -> torch.Tensor:
    model, clip, vae = ckpt
    inputs = {**GENERATIVE_UPSCALE, "model": model, "vae": vae, "clip": clip, **UPSCALE, **kwargs}
    return comfy.node("GenerativeUpscale").execute(image=photo(*IMAGE), **inputs)[0]


def canvas_latent() -> tuple[int, int]:
    plan = plan_size(IMAGE[1], IMAGE[0], 0, 0, scale_by=UPSCALE["scale_by"])
    return -(-plan.canvas[1] // 8), -(-plan.canvas[0] // 8)


def test_previews_of_the_whole_canvas_and_the_same_bytes_with_previews_off(comfy, ckpt):
    from comfy.cli_args import args

    height, width = canvas_latent()
    assert len(diffusion_grid(height, width, UPSCALE["tile_size"] // 8).tiles) > 1, "the pass must tile"
    with progress_events("none") as off_events:
        off = upscale(comfy, ckpt)
    with progress_events("latent2rgb") as on_events:
        on = upscale(comfy, ckpt)
    assert torch.equal(on, off), (on - off).abs().max()
    assert all(preview is None for _, _, preview in off_events)
    previews = [preview for _, _, preview in on_events if preview is not None]
    assert previews, "no preview was sent during the pass"
    for kind, image, max_size in previews:
        assert kind == "JPEG" and max_size == args.preview_size
        assert image.size == (width, height)  # Latent2RGB: one pixel per latent pixel, the whole canvas
    # The bar still counts model calls: the same counts with previews on and off (a preview after a step is
    # sent with the count as it stands), ending at the total.
    counts_on = [(v, t) for i, (v, t, _) in enumerate(on_events) if i == 0 or on_events[i - 1][:2] != (v, t)]
    assert counts_on == [(v, t) for v, t, _ in off_events]
    assert off_events[-1][0] == off_events[-1][1] == len(off_events)


def test_previews_honour_the_preview_size(comfy, ckpt, monkeypatch):
    import latent_preview

    monkeypatch.setattr(latent_preview, "MAX_PREVIEW_RESOLUTION", 12)
    height, width = canvas_latent()
    with progress_events("auto") as events:
        upscale(comfy, ckpt, steps=1)
    images = [preview[1] for _, _, preview in events if preview is not None]
    assert images
    for image in images:
        assert max(image.size) == 12
        assert abs(image.size[0] / image.size[1] - width / height) < 1 / image.size[1]


def test_native_generation_previews_like_ksampler(comfy, ckpt):
    model, clip, vae = ckpt
    inputs = {**HIRES_GENERATE, "width": 96, "height": 64, "steps": 2}
    with progress_events("none"):
        off = comfy.node("HiResGenerate").execute(model=model, vae=vae, clip=clip, **inputs)[1]
    with progress_events("latent2rgb") as events:
        on = comfy.node("HiResGenerate").execute(model=model, vae=vae, clip=clip, **inputs)[1]
    assert torch.equal(on, off)
    images = [preview[1] for _, _, preview in events if preview is not None]
    assert len(images) == inputs["steps"], "a preview after every step, as KSampler"
    native_h, native_w = on.shape[1:3]
    for image in images:
        assert image.size == (-(-native_w // 8), -(-native_h // 8))


class RecordingPreviewer:
    """A previewer that keeps the latents it is asked to show."""

    def __init__(self) -> None:
        self.latents: list[torch.Tensor] = []

    def decode_latent_to_preview_image(self, preview_format, x0):
        self.latents.append(x0.clone())
        return (preview_format, None, 512)


def canvas_preview(comfy):
    """The pack's CanvasPreview class as ComfyUI loaded it."""
    return pack_module(comfy, "runtime.canvas_preview").CanvasPreview


def always(comfy):
    pacer = PreviewPacer(share=1.0, min_interval=0)
    return canvas_preview(comfy)(RecordingPreviewer(), cfg=3.0, max_side=512, pacer=pacer)


def test_tile_estimates_are_pasted_into_the_canvas_with_cfg(comfy):
    preview = always(comfy)
    assert preview.after_tiles(torch.zeros(2, 4, 4, 4), [Tile(0, 0, 4, 4)], [0, 1], (8, 8)) is None, \
        "nothing to show before the first step"
    x0 = torch.zeros(2, 4, 8, 8)  # a batch of two images: the first is shown
    assert preview.after_step(x0) is not None
    # one call with cond and uncond of two tiles (group-major, then tile, then sample)
    tiles = [Tile(0, 0, 4, 4), Tile(4, 2, 4, 4)]
    out = torch.empty(2, 2, 2, 4, 4, 4)
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 2.0, 5.0, 1.0, 4.0
    assert preview.after_tiles(out.reshape(8, 4, 4, 4), tiles, [0, 1], (8, 8)) is not None
    shown = preview.previewer.latents[-1]
    assert shown.shape == (1, 4, 8, 8)
    assert torch.all(shown[..., 0:4, 0:4] == 1.0 + 3.0 * (2.0 - 1.0))
    assert torch.all(shown[..., 4:8, 2:6] == 4.0 + 3.0 * (5.0 - 4.0))
    assert shown.sum() == 4 * (4 * 4) * 4.0 + 4 * (4 * 4) * 7.0  # nothing else changed
    assert torch.equal(x0, torch.zeros(2, 4, 8, 8)), "the sampler's tensor is never written"


def test_the_first_tile_batches_show_over_the_starting_latent(comfy):
    preview = always(comfy)
    start = torch.full((1, 4, 8, 8), 0.5)
    preview.begin(start)
    assert preview.after_tiles(torch.ones(1, 4, 4, 4), [Tile(0, 4, 4, 4)], [0], (8, 8)) is not None
    shown = preview.previewer.latents[-1]
    assert torch.all(shown[..., 0:4, 4:8] == 1.0) and shown.sum() == 0.5 * 4 * 48 + 1.0 * 4 * 16
    assert torch.equal(start, torch.full((1, 4, 8, 8), 0.5)), "the pass's latent is never written"


def test_an_uncond_only_call_or_another_size_leaves_the_canvas(comfy):
    preview = always(comfy)
    preview.after_step(torch.zeros(1, 4, 8, 8))
    assert preview.after_tiles(torch.ones(1, 4, 4, 4), [Tile(0, 0, 4, 4)], [1], (8, 8)) is None
    assert preview.after_tiles(torch.ones(1, 4, 4, 4), [Tile(0, 0, 4, 4)], [0], (8, 10)) is None
    assert torch.equal(preview.canvas, torch.zeros(1, 4, 8, 8))
    assert preview.after_tiles(torch.ones(1, 4, 4, 4), [Tile(0, 0, 4, 4)], [0], (8, 8)) is not None
    assert preview.canvas.sum() == 4 * 4 * 4


def test_a_large_canvas_is_shrunk_to_the_preview_size_before_decoding(comfy):
    preview = canvas_preview(comfy)(RecordingPreviewer(), cfg=1.0, max_side=64, pacer=PreviewPacer(min_interval=0))
    preview.after_step(torch.ones(1, 4, 256, 128))
    assert preview.previewer.latents[-1].shape == (1, 4, 64, 32)


class UpscalingPreviewer(RecordingPreviewer):
    """A previewer that decodes every latent pixel to 8 x 8 pixels, as TAESD does for SD1.5."""

    def decode_latent_to_preview_image(self, preview_format, x0):
        from PIL import Image

        self.latents.append(x0.clone())
        return (preview_format, Image.new("RGB", (x0.shape[-1] * 8, x0.shape[-2] * 8)), 512)


def test_a_taesd_like_previewer_decodes_no_more_than_the_preview_size(comfy, ckpt):
    model = ckpt[0]
    module = sys.modules[canvas_preview(comfy).__module__]
    latent_format = model.model.latent_format
    assert module.decode_scale(UpscalingPreviewer(), latent_format, "cpu") == 8
    import latent_preview

    previewer = latent_preview.Latent2RGBPreviewer(latent_format.latent_rgb_factors)
    assert module.decode_scale(previewer, latent_format, "cpu") == 1
    preview = canvas_preview(comfy)(UpscalingPreviewer(), cfg=1.0, max_side=512, scale=8,
                                    pacer=PreviewPacer(min_interval=0))
    _, image, _ = preview.after_step(torch.ones(1, 4, 256, 192))
    assert preview.previewer.latents[-1].shape == (1, 4, 64, 48)
    assert image.size == (384, 512)


def test_the_first_image_of_a_nested_x0_is_shown(comfy):
    from comfy.nested_tensor import NestedTensor

    module = sys.modules[canvas_preview(comfy).__module__]
    image, audio = torch.rand(2, 4, 6, 8), torch.rand(2, 8, 5)
    assert torch.equal(module.first_sample(NestedTensor([image, audio])), image[:1])
    assert torch.equal(module.first_sample(image), image[:1])
