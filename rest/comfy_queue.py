"""The REST jobs on ComfyUI's own prompt queue: the same validation as POST /prompt, the same queue (so the
jobs show in the editor's queue, report progress there and can be cancelled from it), and where a job stands.

ComfyUI-bound: imports ComfyUI's `execution`, `nodes` and `folder_paths`.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import execution
import folder_paths

import nodes as comfy_nodes  # ComfyUI's module, not this pack's package of the same name

from .. import host
from ..api_prompt import ApiPrompt, complete_prompt, node_info
from ..graphs.models import MODEL_FOLDERS

QUEUED, RUNNING, DONE, GONE = "queued", "running", "done", "gone"


class GraphRefused(ValueError):
    """ComfyUI's validation refused the graph: the message is the first node error, as /prompt reports it."""


def complete(graph: ApiPrompt) -> ApiPrompt:
    """The graph with every widget input it leaves out at the node's default, as the shipped files are
    completed; an input the installed node does not have is refused (so a field is never silently dropped).
    Node replacements the server registers are applied first, as POST /prompt applies them."""
    graph = host.replace_nodes(graph)
    info = {}
    for node in graph.values():
        class_type = node["class_type"]
        if class_type not in comfy_nodes.NODE_CLASS_MAPPINGS:
            raise GraphRefused(f"the node type {class_type} is not installed in this ComfyUI")
        info[class_type] = node_info(comfy_nodes.NODE_CLASS_MAPPINGS[class_type], class_type)
    try:
        return complete_prompt(graph, info)
    except (KeyError, ValueError) as error:
        raise GraphRefused(str(error).strip("'\"")) from None


def installed_models() -> dict[str, list[str]]:
    """The model files of every folder a graph may name."""
    return {folder: folder_paths.get_filename_list(folder) for folder in sorted(set(MODEL_FOLDERS.values()))}


RAISED_IN_VALIDATION = ("exception_during_inner_validation", "exception_during_validation")
"""node_errors types of an error a node's validate_inputs raised (how the pack refuses an input): filed on that
node, its details the whole refusal, its message ComfyUI's generic "Exception when validating ... node"."""


def _first_error(error: dict[str, Any], node_errors: dict[str, Any]) -> str:
    for node_id, entry in node_errors.items():
        for item in entry.get("errors", []):
            details = item.get("details") or ""
            message = item.get("message") or ""
            if details and item.get("type") in RAISED_IN_VALIDATION:
                text = details
            else:
                text = f"{message}: {details}" if details and details not in message else message or details
            return f"{entry.get('class_type', node_id)}: {text}"
    return f"{error.get('message', 'invalid graph')}: {error.get('details', '')}".rstrip(": ")


async def check(graph: ApiPrompt) -> None:
    """Validate the graph as POST /prompt does, without queueing it (a shared-queue job is refused here, on the
    worker that took the request, before any worker runs it)."""
    valid, error, _, node_errors = await execution.validate_prompt(str(uuid.uuid4()), graph, None)
    if not valid:
        raise GraphRefused(_first_error(error or {}, node_errors or {}))


async def submit(server: Any, graph: ApiPrompt, job_id: str) -> str:
    """Validate the graph as POST /prompt does and put it on ComfyUI's queue; the prompt id."""
    prompt_id = str(uuid.uuid4())
    valid, error, outputs, node_errors = await execution.validate_prompt(prompt_id, graph, None)
    if not valid:
        raise GraphRefused(_first_error(error or {}, node_errors or {}))
    number = server.number
    server.number += 1
    extra_data = {"create_time": int(time.time() * 1000), "hires_studio_job": job_id}
    server.prompt_queue.put((number, prompt_id, graph, extra_data, outputs, {}))
    return prompt_id


@dataclass(frozen=True)
class PromptState:
    state: str
    history: dict[str, Any] | None = None


def prompt_states(server: Any, prompt_ids: list[str]) -> dict[str, PromptState]:
    """Where each prompt is, read in one pass under the queue's lock, so a prompt moving between the queue,
    the running set and the history is never missed."""
    queue = server.prompt_queue
    states = {}
    with queue.mutex:
        running = {item[1] for item in queue.currently_running.values()}
        queued = {item[1] for item in queue.queue}
        for prompt_id in prompt_ids:
            if prompt_id in queue.history:
                states[prompt_id] = PromptState(DONE, queue.history[prompt_id])
            elif prompt_id in running:
                states[prompt_id] = PromptState(RUNNING)
            elif prompt_id in queued:
                states[prompt_id] = PromptState(QUEUED)
            else:
                states[prompt_id] = PromptState(GONE)
    return states


def outcome(history: dict[str, Any]) -> tuple[bool, str | None]:
    """(succeeded, the error message if not) of a finished prompt."""
    status = history.get("status") or {}
    if status.get("status_str") == "success" and status.get("completed"):
        return True, None
    for event, data in status.get("messages", []):
        if event == "execution_interrupted":
            return False, "The job was cancelled on the server."
        if event == "execution_error":
            return False, f"{data.get('node_type')}: {data.get('exception_message', '').strip()}"
    return False, "The job failed on the server."


def saved_images(history: dict[str, Any], graph: ApiPrompt) -> list[str]:
    """The files the graph's SaveImage nodes wrote, in the graph's node order, as paths. Only each entry's
    filename and subfolder are read: newer ComfyUI adds asset ids to the entries."""
    paths = []
    output_dir = folder_paths.get_output_directory()
    for node_id, node in graph.items():
        if node["class_type"] != "SaveImage":
            continue
        for image in history.get("outputs", {}).get(node_id, {}).get("images", []):
            if image.get("filename"):
                paths.append(str(os.path.join(output_dir, image.get("subfolder", ""), image["filename"])))
    return paths

