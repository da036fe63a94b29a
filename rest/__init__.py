"""The hosted APIs (deep-image, Stability v1 upscale, deepmode) served on ComfyUI's PromptServer.

Pure modules (no ComfyUI import, tested on their own): the request checks of each API (`deepimage`,
`deepimage_graph`, `print_sizes`, `stability`, `deepmode`), bodies and forms (`bodies`, `forms`), `errors`,
`keys`, `config`, `safe_fetch`, `jobs`, `images`, `model_files`, `ticks` (the watcher's loop), `callbacks` (a job's
end POSTed to its caller) and `family` (what an API brings to the runner). ComfyUI-bound: `comfy_queue` (ComfyUI's
prompt queue and validation), `routes` (the shared job runner, registered by `register_routes`), beside it
`shared_worker` (this process as a worker on the shared queue), `job_files` (a job's files on this machine) and
`monitor_routes` (the status and queue routes), and one object per API on it (`deepimage_api`, `stability_api`,
`deepmode_api`).
"""
