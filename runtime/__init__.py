"""ComfyUI-bound helpers shared by the nodes: running models on ComfyUI's device with its memory
management, progress bar and interrupt. The maths they call lives in `core`."""
