"""Pure functions of the pack: typed torch/numpy code that imports nothing from ComfyUI.

Each module holds one concern (sizing, the strength table, resizing, the cleanup network, tiling, color fix,
edges, faces). The node modules one level up are thin shells that validate, call these, and return.
"""
