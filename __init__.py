"""HiRes Studio for ComfyUI: high-resolution generation and generative upscaling at exact sizes.

Entry point only. The node modules are imported when ComfyUI asks for them, so the pure functions under
`core` stay importable (and testable) without ComfyUI.
"""

WEB_DIRECTORY = "./web"
"""The front-end extension that lists the pack's templates in its order (web/template_order.js)."""


async def comfy_entrypoint():
    from .nodes.extension import create_extension

    return create_extension()
