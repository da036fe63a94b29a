"""Benchmarks and quality checks of the pack (run from the repository root; not imported by ComfyUI)."""
