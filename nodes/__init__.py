"""The pack's code, in layers that import downwards only (see CONTRIBUTING.md, "Layers"):

- node shells, one module per node (`adapter_select`, `bicubic_clean`, `generative_upscale`, `hires_generate`,
  with their shared inputs in `common_inputs`), listed by `extension`;
- `runtime`: ComfyUI-bound work (models on ComfyUI's device, memory, progress, interrupt);
- `rest`: the deep-image, Stability and deepmode HTTP routes, which queue graphs on ComfyUI;
- `shipped_workflows` (the catalog, with `workflow`) and `graphs` (the graph builders both it and `rest` use);
- `core`: pure functions and the plan, importing nothing from ComfyUI; `api_prompt`: the API format.

Nothing is imported here, so `nodes.core` and `nodes.graphs` load without ComfyUI."""
