"""Import the pack from this checkout, whatever the folder it was cloned into is called.

ComfyUI imports a custom node from its folder's path, not by a name on sys.path; the pack's own scripts do
the same: the folder above scripts/ is loaded as a package under one fixed name (the one the tests use), so
`python <any folder>/scripts/convert_weights.py` works in a plain ComfyUI install.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACK_NAME = "hires_studio"
PACK_ROOT = Path(__file__).resolve().parents[1]


def import_pack(name: str = PACK_NAME) -> ModuleType:
    """The pack's package (its entry point only: nothing of ComfyUI is imported), loaded once."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, PACK_ROOT / "__init__.py",
                                                  submodule_search_locations=[str(PACK_ROOT)])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the pack from {PACK_ROOT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
