"""docs/workflows.md, written from the shipped workflow definitions, so the page cannot drift from the files.

usage: .hires/venv/bin/python scripts/workflow_docs.py [--check]

Every table row and section comes from `WORKFLOWS` (the same definitions scripts/workflows.py writes the
workflow files from): the title, the one-line description, the note's text, the model files each one loads and
where they are published, and which ones run on a provider's servers. `--check` writes nothing and exits 1 when
the page differs from what would be written (tests/unit/test_workflow_docs.py does the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hires_studio.scripts.convert_weights import TARGETS
from hires_studio.scripts.workflows import EDITOR_DIR, GROUPS, MODEL_URLS, WORKFLOWS, Workflow, model_references

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "workflows.md"
CONVERTED = frozenset(tuple(target.relpath.split("/", 1)) for target in TARGETS)
"""(folder, file) of every model file scripts/convert_weights.py writes: the workflows that load only these run
as installed."""

INTRO = """# Workflows

<!-- Written by scripts/workflow_docs.py from the workflow definitions; edit those, then run the script. -->

The pack ships one workflow per documented request of deep-image.ai, Stability v1 and deepmode. Each is in
`{editor}/` in the editor's format (open it from the Templates browser, under the pack's folder name, or drag the
file onto the canvas) and in `{editor}/api/` in API format (for `/prompt`). Each editor file opens with a note:
its title, what it does, the request it reproduces and the models to put in place, as below.

A workflow whose models are all made by `scripts/convert_weights.py` runs as installed. The others stop at the
editor's Missing Models dialog, which offers the files listed under *Models the workflows load*; any model of
the same family works in their place (pick it in the loader). The hosted workflows make their image on the
provider's servers through ComfyUI's own API nodes: sign in to a Comfy account (or set an API key) in ComfyUI's
settings, and start ComfyUI without `--disable-api-nodes`; the pack then brings their image to the exact size.
"""

TEMPLATES_NOTE = """## The Templates browser

The editor's Templates browser lists these workflows under the pack's folder name, in the order of the table
above (upscaling, then generation, then adapters: `web/template_order.js` sorts the cards). Each card's picture is
`{editor}/<name>.jpg`, made by `make thumbnails`.
"""


def _files(workflow: Workflow) -> list[tuple[str, str]]:
    return sorted(model_references(workflow.prompt))


def _needs(workflow: Workflow) -> str:
    missing = [file for folder, file in _files(workflow) if (folder, file) not in CONVERTED]
    if workflow.hosted:
        return "a Comfy account (hosted)"
    if not missing:
        return "runs as installed"
    return ", ".join(f"`{file}`" for file in missing)


def _anchor(title: str) -> str:
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def render() -> str:
    """The whole page."""
    lines = [INTRO.format(editor=EDITOR_DIR)]
    lines.append("| | workflow | what it does | needs |")
    lines.append("| --- | --- | --- | --- |")
    for workflow in WORKFLOWS:
        lines.append(f"| {workflow.group} | [{workflow.display_title}](#{_anchor(workflow.display_title)}) "
                     f"(`{workflow.name}`) | {workflow.one_line} | {_needs(workflow)} |")
    lines.append("")
    for group in GROUPS:
        lines.append(f"## {group.capitalize()}\n")
        for workflow in (w for w in WORKFLOWS if w.group == group):
            lines.append(f"### {workflow.display_title}\n")
            lines.append(f"`{EDITOR_DIR}/{workflow.name}.json`\n")
            lines.append(workflow.summary.strip() + "\n")
            files = _files(workflow)
            if files:
                lines.append("Loads: " + ", ".join(f"`{file}` (`models/{folder}`)" for folder, file in files) + ".\n")
    lines.append("## Models the workflows load\n")
    lines.append("Every model file a shipped workflow names, the folder it goes in, and where it is published (the "
                 "same address is in the workflow's `models` list, which the Missing Models dialog offers).\n")
    lines.append("| file | folder | used by | published at |")
    lines.append("| --- | --- | --- | --- |")
    users: dict[tuple[str, str], list[str]] = {}
    for workflow in WORKFLOWS:
        for ref in _files(workflow):
            users.setdefault(ref, []).append(workflow.name)
    for (folder, file), names in sorted(users.items()):
        made = " (made by `convert_weights.py`)" if (folder, file) in CONVERTED else ""
        lines.append(f"| `{file}` | `models/{folder}`{made} | {', '.join(f'`{n}`' for n in names)} | "
                     f"<{MODEL_URLS[file]}> |")
    lines.append("")
    lines.append(TEMPLATES_NOTE.format(editor=EDITOR_DIR))
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/workflows.md is not up to date")
    args = parser.parse_args()
    page = render()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run scripts/workflow_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
