"""Cancel inside a long model call. ComfyUI checks its interrupt flag between nodes, and the pack's runners
check it between tiles, but one tile of a large model can take a minute on a CPU (Real-ESRGAN x4plus on a
512 px tile). While a runner works, a forward pre-hook on every leaf module of its models checks the flag at
each layer; the hooks are removed when the work ends, so the models are left as they were."""

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


def diffusion_modules(model=None, vae=None, control_net=None) -> tuple[object, ...]:
    """The torch modules behind a ComfyUI MODEL (ModelPatcher), VAE and CONTROL_NET chain, for interrupt_checks."""
    found: list[object] = []
    if model is not None:
        found.append(getattr(model, "model", None))
    if vae is not None:
        found.append(getattr(vae, "first_stage_model", None))
    while control_net is not None:
        found += [getattr(control_net, "control_model", None), getattr(control_net, "t2i_model", None)]
        control_net = getattr(control_net, "previous_controlnet", None)
    return tuple(found)
