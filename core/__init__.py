"""Pure functions of the pack: typed torch/numpy code that imports nothing from ComfyUI.

One module per concern: the rules that need no image (`request_rules`), the plan worked out before any model
loads (`plan`), output sizes and each API's limits (`sizing`), the strength table (`strength`), the base route
(`base_route`) and the resizing under it (`resize`), adapters and their recipes, the cleanup network, tiling,
colour fix, edges, faces and masks, and the one error type (`errors`). The node shells validate, call these
(through `runtime` where models run), and return.
"""
