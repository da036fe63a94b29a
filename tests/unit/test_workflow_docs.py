"""docs/workflows.md is what scripts/workflow_docs.py writes from the workflow definitions: it cannot drift."""

from __future__ import annotations

from hires_studio.scripts import workflow_docs
from hires_studio.scripts.workflows import MODEL_URLS, WORKFLOWS, model_references


def test_the_page_is_up_to_date() -> None:
    written = workflow_docs.PAGE.read_text()
    assert written == workflow_docs.render(), "docs/workflows.md is out of date: run scripts/workflow_docs.py"


def test_every_workflow_has_its_row_and_section() -> None:
    page = workflow_docs.render()
    for workflow in WORKFLOWS:
        assert f"(`{workflow.name}`) | {workflow.one_line} |" in page
        assert f"### {workflow.display_title}\n\n`workflows/{workflow.name}.json`\n" in page


def test_every_model_file_is_listed_with_its_address() -> None:
    page = workflow_docs.render()
    for workflow in WORKFLOWS:
        for folder, file in model_references(workflow.prompt):
            assert f"| `{file}` | `models/{folder}`" in page
            assert f"<{MODEL_URLS[file]}>" in page


def test_only_workflows_on_converted_weights_run_as_installed() -> None:
    installed = {w.name for w in WORKFLOWS if workflow_docs._needs(w) == "runs as installed"}
    assert installed == {"upscale_realesrgan_to_width", "bicubic_clean_to_size", "stability_esrgan_x2_upscale",
                         "deepmode_upscale_x4"}
