"""Which model files a graph loads on this server: the config's `models` map first (shipped name -> your
file), then the file itself; a checkpoint or upscale model that is missing falls back to the first one
installed (so a server with one checkpoint serves every SD model_type). Anything else missing is refused
with the file's name and folder before the job is queued. Pure: the installed files come in as lists.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..graphs.models import MODEL_FOLDERS, NO_MODEL

FALLBACK_FOLDERS = ("checkpoints", "upscale_models")


def resolve_models(graph: ApiPrompt, installed: Mapping[str, Sequence[str]], overrides: Mapping[str, str],
                   config_hint: str = "the API config") -> ApiPrompt:
    """The graph with every model file name replaced by the file this server has."""
    out = copy.deepcopy(graph)
    for node in out.values():
        for name, value in list(node["inputs"].items()):
            folder = MODEL_FOLDERS.get((node["class_type"], name))
            if not folder or not isinstance(value, str) or value == NO_MODEL:
                continue
            wanted = overrides.get(value, value)
            files = sorted(installed.get(folder, ()))
            if wanted in files:
                node["inputs"][name] = wanted
            elif folder in FALLBACK_FOLDERS and files and value not in overrides:
                node["inputs"][name] = files[0]
            else:
                raise HiResInputError("model", wanted, f"is not installed in models/{folder} on this server",
                                 f"put {wanted} in models/{folder}, or map {value} to a file you have under "
                                 f"\"models\" in {config_hint}")
    return out
