"""HiRes Studio for ComfyUI: high-resolution generation and generative upscaling at exact sizes.

Entry point only. The node modules are imported when ComfyUI asks for them, so the pure functions under
`nodes/core` stay importable (and testable) without ComfyUI.
"""


async def comfy_entrypoint():
    from .nodes.extension import create_extension

    return create_extension()
