"""Cancel inside a long model call. ComfyUI's own models (UNet, VAE, ControlNet, built from comfy.ops) check
the interrupt flag at every layer already; plain torch models do not: a spandrel upscaler or the cleanup net
checks only between the pack's tiles, and one tile can take a minute on a CPU (Real-ESRGAN x4plus, 512 px).
While a runner works, a forward pre-hook on every leaf module of such a model checks the flag at each layer;
the hooks are removed when the work ends, so the model is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from comfy import model_management


def _check_interrupt(module: torch.nn.Module, args: tuple) -> None:
    model_management.throw_exception_if_processing_interrupted()


def _leaves(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    for sub in module.modules():
        if next(sub.children(), None) is None:
            yield sub


@contextmanager
def interrupt_checks(*modules: object) -> Iterator[None]:
    """Check for Cancel before every leaf layer of the given torch modules (others, and None, are skipped)
    while the block runs."""
    handles = []
    try:
        seen: set[int] = set()
        for module in modules:
            if not isinstance(module, torch.nn.Module):
                continue
            for leaf in _leaves(module):
                if id(leaf) not in seen:
                    seen.add(id(leaf))
                    handles.append(leaf.register_forward_pre_hook(_check_interrupt))
        yield
    finally:
        for handle in handles:
            handle.remove()
