"""Development tooling, imported as `hires_studio.devtools`: the ComfyUI host that the tests, the demo and the
benchmarks start, the staging of models and images, a loopback Redis, and the tests' helpers.

ComfyUI never imports this package (it loads only the pack's `__init__.py`); nothing in the pack's own code
imports it either.
"""
