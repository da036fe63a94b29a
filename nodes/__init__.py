"""The pack's four nodes as ComfyUI sees them: one thin shell per node (`adapter_select`, `bicubic_clean`,
`generative_upscale`, `hires_generate`) that declares its inputs, validates, calls `core` and `runtime`, and
returns; the inputs they share (`common_inputs`); the extension that lists them and registers the routes
(`extension`); the example photos and the Templates pictures the editor reads (`example_images`,
`template_pictures`). The layers beside this package are described in CONTRIBUTING.md ("Layers")."""
