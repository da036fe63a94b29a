"""HiRes Studio's nodes: one module per node, each a thin shell over `nodes.core` (pure) and
`nodes.runtime` (ComfyUI-bound helpers). Nothing is imported here, so `nodes.core` needs no ComfyUI."""
