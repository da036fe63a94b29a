"""The calls whose form depends on the ComfyUI version, in one place.

The pack is tested on ComfyUI 0.3.75 and read against 0.38.1 (see docs/comfyui-versions.md). Each function says
which versions behave which way and where that is in ComfyUI's source, and picks the behaviour by asking the
running ComfyUI for the feature (never by parsing its version), so a checkout between the two works as well.
ComfyUI-bound; it sits beside `api_prompt` so that both `runtime` and `rest` can ask it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from comfy import model_management

from .api_prompt import ApiPrompt


def is_oom(error: BaseException) -> bool:
    """Whether `error` is the device running out of memory.

    - 0.38: `comfy/model_management.py` has `is_oom(e)`, which also counts a `torch.AcceleratorError` whose
      code or message says out of memory (newer CUDA builds raise those), and discards the pending CUDA error.
    - 0.3.75: no `is_oom`; out of memory is `model_management.OOM_EXCEPTION` (`torch.cuda.OutOfMemoryError`).
    """
    check = getattr(model_management, "is_oom", None)
    if check is not None:
        return bool(check(error))
    return isinstance(error, model_management.OOM_EXCEPTION)


def free_memory(model_patcher: Any, device: torch.device) -> float:
    """The memory a model call on `device` may use, as ComfyUI itself sizes its batches.

    - 0.38: `ModelPatcher.get_free_memory(device)` (`comfy/model_patcher.py`), which the sampler's cond batching
      uses (`comfy/samplers.py` `_calc_cond_batch`); with dynamic VRAM it adds what the patcher can offload.
    - 0.3.75: no such method; the sampler asks `model_management.get_free_memory(device)`.
    """
    of_patcher = getattr(model_patcher, "get_free_memory", None)
    if of_patcher is not None:
        return of_patcher(device)
    return model_management.get_free_memory(device)


def model_memory_required(model_patcher: Any, input_shape: list[int]) -> float:
    """The model's own memory estimate for one call on `input_shape`.

    - 0.38: the default patcher on NVIDIA is `ModelPatcherDynamic`, whose `memory_required` pads the model's
      estimate to x1.3 + 1 GiB per call (`comfy/model_patcher.py`); sizing tile batches from it would give
      several times fewer tiles per call.
    - 0.3.75: `ModelPatcher.memory_required` is the model's estimate as is.
    Both: `BaseModel.memory_required(input_shape)` (`comfy/model_base.py`) is the unpadded estimate the
    sampler's cond batching uses, so that is the one asked here.
    """
    return model_patcher.model.memory_required(input_shape)


def _prompt_server() -> Any:
    """ComfyUI's server, or None when ComfyUI runs without one (the in-process tests)."""
    from server import PromptServer

    return getattr(PromptServer, "instance", None)


def replace_nodes(graph: ApiPrompt) -> ApiPrompt:
    """The graph with the node replacements POST /prompt applies, so that a graph submitted by the pack runs
    the same nodes as the same graph queued from the editor (the caller's graph is not changed).

    - 0.38: POST /prompt calls `node_replace_manager.apply_replacements(prompt)` before validating it
      (`server.py` `post_prompt`, `app/node_replace_manager.py`): a node type that is no longer installed but
      has a registered replacement becomes that node, its inputs and outputs remapped.
    - 0.3.75: the server has no `node_replace_manager`; the graph is returned as is.
    """
    manager = getattr(_prompt_server(), "node_replace_manager", None)
    if manager is None:
        return graph
    replaced = copy.deepcopy(graph)
    manager.apply_replacements(replaced)
    return replaced
