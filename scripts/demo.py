"""The README's demo, a tour of the product through a real ComfyUI server (loopback) with real weights.

usage (what `make demo` runs): .hires/venv/bin/python scripts/demo.py [OUT]

1. The exact-size contract and the strength dial: a real photo (scikit-image's bundled chelsea, cropped to an odd
   447 x 299), shrunk 4x and saved as JPEG quality 40, is brought back to exactly 447 x 299 by GenerativeUpscale
   at strengths 7 (Real-ESRGAN x4plus, real weights), 8 (bicubic) and 9 (bicubic + the waifu2x cleanup, real
   weights): the three no-diffusion rows of the dial, no checkpoint loaded.
2. The generative path: strength 5 (bicubic + the medium diffusion pass) really runs, on the tests' tiny
   random-weight SD1.5 checkpoint, with 256 px tiles so the tiled pass really tiles. Random weights make noise, so
   its pixels are never shown as a result: its panel is a diagram of what the run guarantees and was measured to
   do (the tile grid it ran, the exact output size, the seam check: the mean step between neighbouring pixels
   across the tiles' borders against the same everywhere), drawn over the pass's input, darkened.
3. One side-by-side picture (OUT/side_by_side.png, and docs/demo.png with --docs) with the PSNR of each panel
   against the original photo (none for the diagram).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import cv2
import numpy as np

from hires_studio.bench.cleanup_quality import degrade
from hires_studio.bench.photos import load_photos
from hires_studio.core.tiling import TileGrid, diffusion_grid
from hires_studio.devtools.comfy_host import HIRES, ROOT, ComfyServer, ensure_tiny_models, make_comfy_base

PHOTO = "chelsea"
SIZE = (447, 299)
"""The exact output size: odd on both sides, so nothing can round it to a multiple of 8 or 2."""
JPEG_QUALITY = 40
SCALE = 4
TINY_CHECKPOINT = "checkpoints/tiny_sd15.safetensors"
GENERATIVE = {"steps": 4, "tile_size": 256, "seed": 7}
"""Strength 5's diffusion pass, kept short: 256 px tiles so a 447 x 299 canvas takes several."""
DIAL = ((7, "Real-ESRGAN x4plus"), (8, "bicubic"), (9, "bicubic + cleanup"))
TILE_COLORS = ((255, 200, 80), (90, 200, 255), (140, 255, 140), (255, 120, 200))
"""The diagram's tile outlines (RGB), one colour per tile in turn."""
CAPTIONS = {
    "input": "the input: {w}x{h}, JPEG quality 40, shown enlarged without smoothing",
    7: "strength 7: Real-ESRGAN x4plus (real weights) to exactly {W}x{H}; sharpest, but its detail is invented",
    8: "strength 8: plain bicubic to exactly {W}x{H}: soft, and the JPEG blocks are enlarged with it",
    9: "strength 9: the cleanup net (real waifu2x weights) measured the JPEG damage and removed it, then bicubic",
    5: "strength 5: the tiled diffusion pass ran ({tiles}) in {seconds:.1f} s to exactly {W}x{H}; seam check "
       "{seam:.2f} (1.00 = no step at the tiles' borders); shown as a diagram: its test model has random weights",
}
PSNR_NOTE = (
    "Why Real-ESRGAN scores lowest on PSNR although it looks sharpest: PSNR is the mean squared difference from "
    "the original, pixel by pixel. A blurry guess that sits between the possible values is never far off; "
    "Real-ESRGAN draws crisp fur and edges the tiny input cannot pin down, and every invented detail that is "
    "not exactly where the original had it costs twice (the missing detail and the wrong one). PSNR rewards "
    "caution, not plausibility; judge the look in the picture."
)


def photo_at(size: tuple[int, int]) -> np.ndarray:
    """The real photo, centre-cropped to exactly `size` (w, h): no resampling, the camera's pixels."""
    rgb = dict(load_photos())[PHOTO]
    w, h = size
    top, left = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
    return np.ascontiguousarray(rgb[top:top + h, left:left + w])


def _upscale(image: list, strength: int, **inputs: object) -> dict:
    return {"class_type": "GenerativeUpscale", "inputs": {
        "image": image, "width": SIZE[0], "height": SIZE[1], "fit": "crop", "scale_by": 1.0,
        "upscale_strength": strength, "seed": 0, "lora_name": "none", "lora_strength": 1.0, "steps": 20, "cfg": 7.0,
        "sampler_name": "euler", "scheduler": "normal", "denoise_override": 0.0, "tile_size": 0, "tile_batch": 0,
        "color_fix": "wavelet", **inputs,
    }}


def _save(source: str, name: str) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": [source, 0], "filename_prefix": f"hires_demo/{name}"}}


def dial_prompt(image_name: str) -> dict:
    """Strengths 7, 8 and 9 from one LoadImage: the dial's no-diffusion rows, no checkpoint."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "RealESRGAN_x4plus.safetensors"}},
        "3": _upscale(["1", 0], 7, upscale_model=["2", 0]),
        "4": _upscale(["1", 0], 8),
        "5": _upscale(["1", 0], 9),
        "6": _save("3", "strength_7"), "7": _save("4", "strength_8"), "8": _save("5", "strength_9"),
    }


def generative_prompt(image_name: str) -> dict:
    """Strength 5 on the tiny checkpoint: the tiled diffusion pass."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": Path(TINY_CHECKPOINT).name}},
        "3": _upscale(["1", 0], 5, model=["2", 0], clip=["2", 1], vae=["2", 2], **GENERATIVE),
        "4": _save("3", "strength_5"),
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(image.copy())
    cv2.rectangle(out, (0, 0), (out.shape[1], 24), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _grid(shape: tuple[int, ...]) -> TileGrid:
    """The diffusion pass's grid for a canvas of this image's size (latent px), as the pack plans it."""
    return diffusion_grid(-(-shape[0] // 8), -(-shape[1] // 8), GENERATIVE["tile_size"] // 8)


def seam_ratio(image: np.ndarray, grid: TileGrid) -> float:
    """The mean step between neighbouring pixels across the tiles' inner borders, over the mean step everywhere:
    1.0 when the borders do not show (a seam would make it larger)."""
    rgb = image.astype(np.float64)
    step_x = np.abs(np.diff(rgb, axis=1)).mean(axis=(0, 2))  # step between columns c and c+1
    step_y = np.abs(np.diff(rgb, axis=0)).mean(axis=(1, 2))
    cols = sorted({edge * 8 - 1 for t in grid.tiles for edge in (t.x, t.x + t.w)} - {-1} & set(range(len(step_x))))
    rows = sorted({edge * 8 - 1 for t in grid.tiles for edge in (t.y, t.y + t.h)} - {-1} & set(range(len(step_y))))
    borders = np.concatenate([step_x[cols], step_y[rows]])
    return float(borders.mean() / np.concatenate([step_x, step_y]).mean()) if borders.size else 1.0


def diagram(backdrop: np.ndarray, grid: TileGrid, lines: list[str]) -> np.ndarray:
    """The diffusion panel: the pass's input darkened, its tiles outlined and shaded where they overlap, and what
    the run did, in words. A diagram of the run, not its pixels."""
    out = (backdrop.astype(np.float32) * 0.35).astype(np.float32)
    cover = np.zeros(backdrop.shape[:2], np.int32)
    for tile in grid.tiles:
        cover[tile.y * 8:(tile.y + tile.h) * 8, tile.x * 8:(tile.x + tile.w) * 8] += 1
    overlap = cover > 1
    out[overlap] = out[overlap] * 0.4 + np.array([120, 95, 30], np.float32) * 0.6  # where tiles are blended
    out = np.ascontiguousarray(out.astype(np.uint8))
    for index, tile in enumerate(grid.tiles):
        color = TILE_COLORS[index % len(TILE_COLORS)]
        inset = 1 + index % 2  # neighbouring outlines side by side, not on top of each other
        cv2.rectangle(out, (tile.x * 8 + inset, tile.y * 8 + inset),
                      (min(out.shape[1], (tile.x + tile.w) * 8) - 1 - inset,
                       min(out.shape[0], (tile.y + tile.h) * 8) - 1 - inset), color, 2)
    box_h = 14 + 21 * len(lines)
    top = out.shape[0] - box_h - 12
    shade = out[top:top + box_h, 10:out.shape[1] - 10].astype(np.float32) * 0.25
    out[top:top + box_h, 10:out.shape[1] - 10] = shade.astype(np.uint8)
    y = top + 22
    for line in lines:
        cv2.putText(out, line, (18, y), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (255, 255, 255), 1, cv2.LINE_AA)
        y += 21
    return out


def run(server: ComfyServer, prompt: dict) -> tuple[dict[str, np.ndarray], float]:
    """Queue a prompt, wait, and fetch each SaveImage's image by its node id; the seconds it took."""
    started = time.monotonic()
    status, reply = server.post_prompt(prompt)
    if status != 200:
        raise RuntimeError(f"ComfyUI refused the prompt: {reply}")
    entry = server.wait(reply["prompt_id"])
    seconds = time.monotonic() - started
    if entry["status"]["status_str"] != "success":
        raise RuntimeError(f"the run failed: {entry['status']['messages'][-1:]}")
    images = {}
    for node_id, output in entry["outputs"].items():
        info = output["images"][0]
        query = urllib.parse.urlencode({"filename": info["filename"], "subfolder": info["subfolder"], "type": "output"})
        _, png = server.request(f"/view?{query}", raw=True)
        images[node_id] = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    return images, seconds


def _arguments(argv: list[str] | None) -> tuple[Path, bool]:
    """OUT (out/demo by default), and whether --docs asks for docs/demo.png too."""
    args = sys.argv[1:] if argv is None else argv
    paths = [a for a in args if a != "--docs"]
    return (Path(paths[0]) if paths else ROOT / "out" / "demo"), "--docs" in args


def _serve_and_run(small: np.ndarray,
                   started: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, str]:
    """Both prompts on a fresh ComfyUI server: the dial's images, the generative pass's images, the seconds the
    pass took and the server's log (which says the tiles the pass ran)."""
    with tempfile.TemporaryDirectory(prefix="hires-demo-") as tmp:
        base = make_comfy_base(Path(tmp), [ensure_tiny_models(), HIRES / "base" / "models"])
        cv2.imwrite(str(base / "input" / "hires_demo_input.png"), small[:, :, ::-1])
        server = ComfyServer(base)
        try:
            print(f"ComfyUI 0.3.75 up on {server.url} (loopback) in {time.monotonic() - started:.1f} s")
            dial, dial_s = run(server, dial_prompt("hires_demo_input.png"))
            print(f"strengths 7, 8, 9 (no diffusion, no checkpoint) in {dial_s:.1f} s")
            generated, gen_s = run(server, generative_prompt("hires_demo_input.png"))
            log = server.log_path.read_text()
        finally:
            server.stop()
    return dial, generated, gen_s, log


def _ran_tiles(log: str) -> str | None:
    """The tiles the generative pass says it ran, in pixels; None when the log does not say."""
    tiles = re.findall(r"generative pass: (\d+) tiles of (\d+)x(\d+) latent px", log)
    return f"{tiles[-1][0]} tiles of {int(tiles[-1][1]) * 8}x{int(tiles[-1][2]) * 8} px" if tiles else None


def _input_panel(small: np.ndarray) -> np.ndarray:
    """Print the table's header and the input's row; the input's panel, enlarged without smoothing."""
    shown = cv2.resize(small, SIZE, interpolation=cv2.INTER_NEAREST)
    print(f"{'panel':>26}  {'size':>9}  {'PSNR':>8}  what it proves")
    print(f"{'input':>26}  {small.shape[1]}x{small.shape[0]:<5}  {'':>8}  "
          + CAPTIONS["input"].format(w=small.shape[1], h=small.shape[0]))
    return labelled(shown, f"input {small.shape[1]}x{small.shape[0]}, JPEG q{JPEG_QUALITY}")


def _diagram_panel(backdrop: np.ndarray, grid: TileGrid, planned: str, seam: float) -> np.ndarray:
    """Strength 5's panel: the diagram of its run, since a random-weight model's pixels are no result."""
    w, h = SIZE
    panel = diagram(backdrop, grid, [
        f"ran: {planned}, overlapping (shaded),", "blended into one canvas at every step",
        f"out: exactly {w} x {h}; seam check {seam:.2f} (1 = none)",
        "a test model with random weights ran it:", "its pixels are no result, so not shown"])
    return labelled(panel, f"5: tiled diffusion pass, {w}x{h}, diagram")


def _strength_panels(results: dict[int, np.ndarray], photo: np.ndarray, gen_s: float, ran: str | None,
                     out_dir: Path) -> list[np.ndarray] | None:
    """Write each strength's output, print its row and make its panel; None, once it is said why, when the pass
    ran other tiles than the pack plans or an output is not exactly SIZE."""
    w, h = SIZE
    grid = _grid(results[5].shape)
    planned = f"{len(grid.tiles)} tiles of {grid.tile_w * 8}x{grid.tile_h * 8} px"
    if ran and ran != planned:
        print(f"the pass ran {ran}, the pack plans {planned} for this canvas")
        return None
    seam = seam_ratio(results[5], grid)
    panels = []
    for strength, title in (*DIAL, (5, "tiled diffusion pass (diagram)")):
        image = results[strength]
        if image.shape[:2] != (h, w):
            print(f"strength {strength} gave {image.shape[1]}x{image.shape[0]}, not {w}x{h}")
            return None
        cv2.imwrite(str(out_dir / f"strength_{strength}.png"), image[:, :, ::-1])
        caption = CAPTIONS[strength].format(W=w, H=h, tiles=planned, seconds=gen_s, seam=seam)
        if strength == 5:
            print(f"{f'{strength}: {title}':>26}  {w}x{h:<5}  {'':>8}  {caption}")
            panels.append(_diagram_panel(results[8], grid, planned, seam))
            continue
        quality = psnr(image, photo)
        print(f"{f'{strength}: {title}':>26}  {w}x{h:<5}  {quality:5.2f} dB  {caption}")
        panels.append(labelled(image, f"{strength}: {title}, {w}x{h}, {quality:.2f} dB"))
    return panels


def _write_side_by_side(panels: list[np.ndarray], out_dir: Path, docs: bool) -> None:
    """The panels in one picture: OUT/side_by_side.png, and with --docs the README's docs/demo.png."""
    side_by_side = np.concatenate(panels, axis=1)
    cv2.imwrite(str(out_dir / "side_by_side.png"), side_by_side[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if docs:
        cv2.imwrite(str(ROOT / "docs" / "demo.png"), side_by_side[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main(argv: list[str] | None = None) -> int:
    out_dir, docs = _arguments(argv)
    out_dir.mkdir(parents=True, exist_ok=True)
    photo = photo_at(SIZE)
    small = degrade(photo, JPEG_QUALITY, SCALE)
    cv2.imwrite(str(out_dir / "original.png"), photo[:, :, ::-1])
    cv2.imwrite(str(out_dir / "input.png"), small[:, :, ::-1])
    print(f"the photo: scikit-image's {PHOTO}, {SIZE[0]}x{SIZE[1]}; the input: {small.shape[1]}x{small.shape[0]} "
          f"(shrunk {SCALE}x, JPEG quality {JPEG_QUALITY}); every output is asked for at exactly {SIZE[0]}x{SIZE[1]}")

    started = time.monotonic()
    dial, generated, gen_s, log = _serve_and_run(small, started)
    ran = _ran_tiles(log)
    print(f"strength 5 on the tiny checkpoint: {GENERATIVE['steps']} steps, {ran or 'tiles'}, in {gen_s:.1f} s "
          "(model load included)")

    results = {7: dial["6"], 8: dial["7"], 9: dial["8"], 5: generated["4"]}
    input_panel = _input_panel(small)
    strength_panels = _strength_panels(results, photo, gen_s, ran, out_dir)
    if strength_panels is None:
        return 1
    print(PSNR_NOTE)
    _write_side_by_side([input_panel, *strength_panels], out_dir, docs)
    print(f"wrote {out_dir}/side_by_side.png and each panel beside it; the whole tour took "
          f"{time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
