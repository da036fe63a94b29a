"""The shipped workflows as pure data (`shipped_workflows`, each a `workflow.Workflow` with its note), built from
the graph builders in `graphs`; `scripts/workflows.py` writes them to `workflows/`. Imports nothing from ComfyUI."""
