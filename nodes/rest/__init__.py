"""The hosted APIs (deep-image, Stability v1 upscale, deepmode) served on ComfyUI's PromptServer.

Pure modules (no ComfyUI import, tested on their own): the request checks of each API (`deepimage`,
`deepimage_graph`, `print_sizes`, `stability`, `deepmode`), bodies and forms (`bodies`, `forms`), `errors`,
`keys`, `config`, `safe_fetch`, `jobs`, `images`, `models`, `ticks` (the watcher's loop) and `family` (what an
API brings to the runner). ComfyUI-bound: `comfy_queue` (ComfyUI's prompt queue and validation), `routes` (the
shared job runner, registered by `register_routes`) and one object per API on it (`deepimage_api`,
`stability_api`, `deepmode_api`).
"""
