"""The layers of CONTRIBUTING.md's "Layers" section, enforced on the pack's import statements (read with ast,
nothing is imported): imports go downwards only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACK = Path(__file__).resolve().parents[2]
CODE = ("nodes", "core", "runtime", "rest", "graphs", "catalog", "host.py", "api_prompt.py")
"""The pack's code: its packages and the two modules beside them (the entry point `__init__.py` imports only
`nodes.extension`)."""
COMFYUI = frozenset(f"top:{name}" for name in (
    "comfy", "comfy_api", "comfy_extras", "comfy_execution", "folder_paths", "server", "execution", "nodes",
    "node_helpers", "latent_preview", "app"))
"""ComfyUI's own top-level modules, as absolute imports (`import nodes` is ComfyUI's: the pack imports its own
modules relatively, so they appear by their place in the pack, e.g. `nodes.extension`)."""
SHELLS = frozenset({"nodes.adapter_select", "nodes.bicubic_clean", "nodes.generative_upscale",
                    "nodes.hires_generate"})
"""The node shells: only the extension, which lists them, imports them."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACK).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module the file imports: the pack's as `nodes.<...>`, absolute ones as `top:<top-level name>`."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for statement in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(statement, ast.Import):
            found |= {"top:" + alias.name.split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom):
            if statement.level == 0:
                found.add("top:" + statement.module.split(".")[0])
                continue
            parts = package.split(".") if package else []  # a module beside the packages has no package
            base = parts[: len(parts) - statement.level + 1]
            target = ".".join(base + ([statement.module] if statement.module else []))
            found.add(target)
            if not statement.module:  # `from . import x`: the modules named
                found |= {f"{target}.{alias.name}" for alias in statement.names}
    return found


def code_files() -> list[Path]:
    return [path for entry in CODE
            for path in (sorted((PACK / entry).rglob("*.py")) if (PACK / entry).is_dir() else [PACK / entry])]


MODULES = {module_name(path): imports(path) for path in code_files()}


def under(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def offenders(importer_packages: tuple[str, ...], forbidden: frozenset[str] | tuple[str, ...]) -> dict[str, set]:
    """The modules under `importer_packages` that import anything in (or under) `forbidden`."""
    found = {}
    for name, imported in MODULES.items():
        if under(name, *importer_packages):
            bad = {target for target in imported if under(target, *forbidden)}
            if bad:
                found[name] = bad
    return found


def test_the_walk_sees_the_pack() -> None:
    assert "core.plan" in MODULES and "rest.routes" in MODULES and "graphs.models" in MODULES
    assert "runtime.hires_generation" in MODULES["nodes.hires_generate"]
    assert "top:comfy_api" in MODULES["nodes.extension"]
    assert "top:folder_paths" in MODULES["rest.routes"] and "core.errors" in MODULES["rest.routes"]
    assert "rest.routes" in offenders(("rest",), COMFYUI), "the check finds an import that is there"


def test_pure_core_imports_nothing_from_comfyui_or_the_layers_above() -> None:
    assert offenders(("core",), COMFYUI) == {}
    above = ("runtime", "rest", "graphs", "catalog.shipped_workflows", "catalog.workflow",
             "nodes.common_inputs", "nodes.extension", *SHELLS)
    assert offenders(("core",), above) == {}


def test_graphs_and_the_catalog_are_pure() -> None:
    pure = ("graphs", "catalog.shipped_workflows", "catalog.workflow", "api_prompt")
    assert offenders(pure, COMFYUI) == {}
    assert offenders(pure, ("runtime", "rest", "nodes.common_inputs", *SHELLS)) == {}


def test_graphs_do_not_reach_into_the_catalog() -> None:
    assert offenders(("graphs",), ("catalog.shipped_workflows", "catalog.workflow")) == {}


def test_the_host_module_imports_no_layer_of_the_pack() -> None:
    assert "host" in MODULES and MODULES["host"] >= {"api_prompt", "top:comfy"}
    assert offenders(("host",), ("nodes", "core", "runtime", "rest", "graphs", "catalog")) == {}


def test_rest_imports_no_runtime_module_and_not_the_catalog() -> None:
    assert offenders(("rest",), ("runtime", "catalog.shipped_workflows", "catalog.workflow")) == {}


def test_runtime_imports_no_shell_and_no_rest() -> None:
    assert offenders(("runtime",), ("rest", "nodes.common_inputs", "nodes.extension", *SHELLS)) == {}


def test_the_pack_imports_itself_relatively_only() -> None:
    """The development venv names the pack `hires_studio` on its import path (scripts/bootstrap.sh writes it); a
    user's clone sits under any folder name with no such name on sys.path, so an absolute import of the pack
    would pass every test here and fail there. The check sees such an import where the tooling makes one."""
    assert "top:hires_studio" in imports(PACK / "scripts" / "demo.py")
    absolute = {name for name, imported in MODULES.items() if "top:hires_studio" in imported}
    assert absolute == set()
    assert "top:hires_studio" not in imports(PACK / "__init__.py")


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_nothing_but_the_extension_imports_a_node_shell(shell: str) -> None:
    importers = {name for name, imported in MODULES.items() if shell in imported}
    assert importers == {"nodes.extension"}


def test_the_graphs_and_the_catalog_load_without_torch_or_comfyui() -> None:
    """scripts/workflows.py and the REST parsers build graphs in any Python: nothing heavy comes with them."""
    code = ("import sys; import hires_studio.catalog.shipped_workflows, hires_studio.graphs.stability, "
            "hires_studio.graphs.deepmode, hires_studio.graphs.deepimage; "
            "print(sorted(m for m in ('torch', 'comfy', 'comfy_api', 'folder_paths') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
