"""The seeds' own REST APIs (deep-image, Stability v1 upscale, deepmode) served on ComfyUI's PromptServer.

Pure modules (no ComfyUI import, tested on their own): `errors`, `keys`, `config`, `safe_fetch`, `jobs`,
`images`, `models`, `deepimage`, `stability`, `deepmode`. ComfyUI-bound: `comfy_queue` (ComfyUI's prompt
queue and validation) and `routes` (the aiohttp handlers, registered by `register_routes`).
"""
