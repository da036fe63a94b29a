"""Where a REST job's files lie on this machine (its input images, ComfyUI's outputs, the encoded results) and
how they go, and which images a finished prompt saved: the runner and the shared-queue worker both ask here.
ComfyUI-bound (its input and output folders).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import folder_paths

from ..api_prompt import ApiPrompt
from . import comfy_queue
from .jobs import Job

SUBFOLDER = "hires_studio_api"
"""Where the jobs' images go inside ComfyUI's input and output folders."""


def save_prefix(job_id: str, attempt: int = 1) -> str:
    """The SaveImage prefix of a job's outputs. A shared-queue job's later attempt gets its own: ComfyUI answers
    an unchanged graph from its cache without running SaveImage again, and the first attempt's files are gone by
    then (docs/cluster.md). Every prefix starts with the job's id, so `delete_local` finds all its files."""
    return f"{SUBFOLDER}/{job_id}" if attempt == 1 else f"{SUBFOLDER}/{job_id}_attempt{attempt}"


def with_save_prefix(graph: ApiPrompt, prefix: str) -> ApiPrompt:
    """The graph with each of its SaveImage nodes writing under `prefix` (changed in place)."""
    for node in graph.values():
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = prefix
    return graph


def saved_paths(state: comfy_queue.PromptState, graph: ApiPrompt) -> list[str]:
    """The images a finished prompt saved; a cancelled, failed or empty run raises its message."""
    if state.state == comfy_queue.GONE:
        raise RuntimeError("The job was removed from ComfyUI's queue (cancelled).")
    ok, message = comfy_queue.outcome(state.history)
    if not ok:
        raise RuntimeError(message)
    paths = comfy_queue.saved_images(state.history, graph)
    if not paths:
        raise RuntimeError("The job saved no image.")
    return paths


def delete_files(job: Job, results: Path) -> None:
    """The files a job's record lists and its encoded results."""
    for path in job.files:
        Path(path).unlink(missing_ok=True)
    shutil.rmtree(results / job.id, ignore_errors=True)


def delete_inputs(job_id: str) -> None:
    """A job's input images in ComfyUI's input folder."""
    for path in (Path(folder_paths.get_input_directory()) / SUBFOLDER).glob(f"{job_id}_*"):
        path.unlink(missing_ok=True)


def _delete_saved(job_id: str) -> None:
    for path in (Path(folder_paths.get_output_directory()) / SUBFOLDER).glob(f"{job_id}_*"):
        path.unlink(missing_ok=True)


def delete_local(job_id: str, results: Path) -> None:
    """Every file of a job on this machine: its inputs, ComfyUI's outputs and the encoded results."""
    delete_inputs(job_id)
    _delete_saved(job_id)
    shutil.rmtree(results / job_id, ignore_errors=True)


def delete_outputs(job: Job, results: Path) -> None:
    """A job that did not finish: its partial outputs go (its inputs too)."""
    delete_files(job, results)
    _delete_saved(job.id)
