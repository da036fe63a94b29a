"""This process as one worker on the shared work queue (config.json's queue_url, docs/cluster.md): it takes the
next job only when its own ComfyUI queue is empty (pull, not push), writes the job's input images into its own
input folder, renews its claims while the jobs run, and stores each result where every worker can serve it,
fenced by the claim so a job ends once. Apart from the shared job runner (`routes.RestApi`), which watches
ComfyUI's queue for local and claimed jobs alike and hands the claimed ones here. ComfyUI-bound.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folder_paths

from ..api_prompt import ApiPrompt
from . import comfy_queue
from .atomic_files import write_atomic
from .callbacks import send_callback
from .job_files import SUBFOLDER, delete_local, save_prefix, saved_paths, with_save_prefix
from .jobs import COMPLETE, FAILED, Job
from .store import CLAIM_BLOCK_MS, INPUT_BLOB, RESULT_BLOB, Claim, StoreUnavailable

if TYPE_CHECKING:
    from .routes import RestApi

log = logging.getLogger(__name__)

PULL_S = 0.05
"""How often an idle worker asks the shared queue for its next job (each ask waits up to store.CLAIM_BLOCK_MS)."""
SEEN_S = 2.0
"""How often a worker notes in the shared store that it is alive (the queue route lists workers seen)."""


class SharedWorker:
    """The shared-queue side of one runner: pulling, claims, lease renewal and storing results."""

    def __init__(self, runner: RestApi) -> None:
        self.runner = runner
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        """This worker's name on the shared queue: a restarted process is a new worker."""
        self.claims: dict[str, Claim] = {}
        self.unconfirmed: dict[str, Claim] = {}
        """Claimed jobs whose last write went unanswered (the store dropped out): asked again when it is back."""
        self.last_pull = self.last_renew = self.last_seen = 0.0
        self.queue_down = False

    async def tick(self) -> None:
        """The shared queue's part of one watcher turn; an outage is logged once, when it starts and ends."""
        try:
            await self._queue_tick()
        except StoreUnavailable as error:  # one line per outage, not a traceback a second
            if not self.queue_down:
                log.warning("HiRes Studio API: %s; this worker takes no job until it is back", error)
            self.queue_down = True
            return
        if self.queue_down:
            log.warning("HiRes Studio API: the job queue at %s answers again", self.runner.store.where)
        self.queue_down = False

    def _comfy_busy(self) -> bool:
        """Whether this ComfyUI has anything queued or running (the editor's prompts too): then it takes no job."""
        return bool(self.runner.watched) or self.runner.server.prompt_queue.get_tasks_remaining() > 0

    async def _queue_tick(self) -> None:
        """Renew the claims of the jobs this worker runs, and take the next job when this ComfyUI is idle."""
        await self._confirm_ends()
        now = time.monotonic()
        if self.claims and now - self.last_renew > self.runner.queue_settings.lease_s / 4:
            self.last_renew = now
            for job_id, claim in list(self.claims.items()):
                renewed = await asyncio.to_thread(self.runner.store.renew, self.consumer, claim.entry_id)
                if not renewed and job_id in self.claims:  # not one that ended here meanwhile
                    log.warning("HiRes Studio API: job %s was taken over by another worker (this worker's lease "
                                "lapsed); its result here will be dropped", job_id)
        if now - self.last_seen > SEEN_S:
            self.last_seen = now
            await asyncio.to_thread(self.runner.store.seen, self.consumer)
        if now - self.last_pull < PULL_S or self._comfy_busy():
            return
        self.last_pull = now
        claim = await asyncio.to_thread(self.runner.store.claim, self.consumer, CLAIM_BLOCK_MS)
        if claim is None:
            return
        if claim.graph is None:  # its attempts are used up: it has just ended failed
            log.warning("HiRes Studio API: job %s failed after %d attempts", claim.job_id, claim.attempts - 1)
            job = await asyncio.to_thread(self.runner.store.get, claim.job_id)
            if job is not None:
                await send_callback(job, self.runner.families, self.runner.config)
            return
        await self._run_claimed(claim)

    async def _run_claimed(self, claim: Claim) -> None:
        """Write the job's input images into this ComfyUI's input folder and put its graph on the queue."""
        input_dir = Path(folder_paths.get_input_directory()).resolve()
        self.claims[claim.job_id] = claim
        try:
            for name, data in (await asyncio.to_thread(self.runner.store.blobs, claim.job_id, INPUT_BLOB)).items():
                path = (input_dir / name[len(INPUT_BLOB):]).resolve()
                if not path.is_relative_to(input_dir / SUBFOLDER):
                    raise RuntimeError(f"an input image name outside {SUBFOLDER}: {name!r}")
                await asyncio.to_thread(write_atomic, path, data)
            graph = with_save_prefix(claim.graph, save_prefix(claim.job_id, claim.attempts))
            prompt_id = await comfy_queue.submit(self.runner.server, graph, claim.job_id)
        except (comfy_queue.GraphRefused, RuntimeError) as error:
            log.info("HiRes Studio API: job %s cannot run on this worker: %s", claim.job_id, error)
            await self._end_claimed(claim.job_id, status=FAILED, error=str(error))
            return
        except Exception:
            # Not started here (the store dropped out, or worse): the claim is let go, no longer renewed, and the
            # lease hands the job on, up to its attempts.
            del self.claims[claim.job_id]
            delete_local(claim.job_id, self.runner.results)
            raise
        self.runner.watched[claim.job_id] = (prompt_id, graph)
        await asyncio.to_thread(self.runner.store.finish, claim.job_id, claim.token, prompt_id=prompt_id)
        log.info("HiRes Studio API: job %s started here (attempt %d)", claim.job_id, claim.attempts)

    async def _end_claimed(self, job_id: str, **fields: Any) -> bool:
        """End a claimed job (once, fenced by its claim), then acknowledge it and send its callback; drop its local
        files. The record is read before the end, so the callback does not depend on the store afterwards."""
        claim = self.claims.pop(job_id)
        job = await asyncio.to_thread(self.runner.store.get, job_id)
        won = await asyncio.to_thread(self.runner.store.finish, job_id, claim.token, **fields)
        if won:
            await self._after_end(claim, None if job is None else replace(job, **fields))
        delete_local(job_id, self.runner.results)
        return won

    async def _after_end(self, claim: Claim, job: Job | None) -> None:
        """Acknowledge an ended job's queue entry (with the store out of reach, its next claim does) and send its
        callback."""
        try:
            await asyncio.to_thread(self.runner.store.ack, claim.entry_id)
        except StoreUnavailable as error:
            log.warning("HiRes Studio API: job %s ended, but its queue entry stays until its next claim: %s",
                        claim.job_id, error)
        if job is not None:
            await send_callback(job, self.runner.families, self.runner.config)

    async def _confirm_ends(self) -> None:
        """For each job whose last write went unanswered: if that write ended it, finish the end here (the
        callback fires once, from this worker); if not, the lease hands it to a worker again."""
        for job_id, claim in list(self.unconfirmed.items()):
            job = await asyncio.to_thread(self.runner.store.ended_with, job_id, claim.token)
            del self.unconfirmed[job_id]
            if job is not None:
                log.info("HiRes Studio API: job %s had ended here before the job queue dropped out", job_id)
                await self._after_end(claim, job)

    async def _shared_result(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> dict[str, Any]:
        """A shared-queue job's final fields: its result files go into the store (fenced by the claim)."""
        try:
            paths = saved_paths(state, graph)
            job = await asyncio.to_thread(self.runner.store.get, job_id)
            folder = self.runner.results / job_id
            result = await asyncio.to_thread(self.runner.families[job.api].write_result, job, paths, folder)
            files = {RESULT_BLOB + f["name"]: (folder / f["name"]).read_bytes() for f in result["files"]}
            size, cap = sum(len(data) for data in files.values()), self.runner.queue_settings.max_result_bytes
            if size > cap:
                raise RuntimeError(f"The result is {size} bytes, over this server's max_result_bytes ({cap}).")
            await asyncio.to_thread(self.runner.store.put_blobs, job_id, files, self.claims[job_id].token)
            return {"status": COMPLETE, "result": result}
        except StoreUnavailable:
            raise
        except Exception as error:
            log.info("HiRes Studio API: job %s failed: %s", job_id, error)
            return {"status": FAILED, "error": str(error)}

    async def finish(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> None:
        """A claimed job ComfyUI is done with: its result goes into the store and the job ends, unless another
        worker ended it first; with the store out of reach, a worker runs it again after the lease."""
        claim = self.claims[job_id]
        try:
            fields = await self._shared_result(job_id, graph, state)
            if not await self._end_claimed(job_id, **fields):
                log.warning("HiRes Studio API: job %s had been finished by another worker", job_id)
        except StoreUnavailable as error:
            self.claims.pop(job_id, None)
            self.unconfirmed[job_id] = claim
            delete_local(job_id, self.runner.results)
            log.warning("HiRes Studio API: job %s ran here but %s; unless its end was written before that, a worker "
                        "runs it again after the lease", job_id, error)
        except Exception:  # never a claim renewed for a job that is over here: the lease hands it on
            self.claims.pop(job_id, None)
            delete_local(job_id, self.runner.results)
            log.exception("HiRes Studio API: job %s ran here but could not be ended; a worker runs it again after the "
                          "lease", job_id)
