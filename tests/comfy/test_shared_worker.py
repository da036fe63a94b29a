"""How a shared-queue worker ends a claimed job when the store drops out around the end: a job that has ended
still gets its callback, once; one whose end went unanswered is asked about when the store is back (its end may
have been written); one that has not ended keeps nothing here and is left to the lease.
The worker (rest/shared_worker.py) runs against a stand-in store whose answers the test sets; the cluster test
(tests/e2e/test_redis_cluster.py) runs the same code on a real Redis."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from hires_studio.devtools.comfy_host import pack_module

pytestmark = pytest.mark.comfy
JOB_ID = "job-under-test"


class _Store:
    """The store calls the worker makes around a job's start and end; `down` names the ones that find the store
    out of reach."""

    shared = True

    def __init__(self, jobs: Any, store: Any, down: set[str], wins: bool = True) -> None:
        self.down, self.wins, self.unavailable, self.ended = down, wins, store.StoreUnavailable, None
        self.job = jobs.Job(JOB_ID, "token", "alice", "deepmode", jobs.IN_PROGRESS, "prompt", {"callback": "x"},
                            None, None, [], 0.0, 0.0)
        self.calls: list[str] = []
        self.broken = False
        """The calls in `down` fail with an unexpected error instead of an outage."""

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.down and self.broken:
            raise ValueError("an answer the store should never give")
        if name in self.down:
            raise self.unavailable("The job queue at redis://127.0.0.1:1 cannot be reached (ConnectionError).")

    def get(self, job_id: str) -> Any:
        self._call("get")
        return self.job

    def finish(self, job_id: str, claim: str, **fields: Any) -> bool:
        self._call("finish")
        return self.wins

    def ack(self, entry_id: str) -> None:
        self._call("ack")

    def blobs(self, job_id: str, prefix: str) -> dict[str, bytes]:
        self._call("blobs")
        return {}

    def ended_with(self, job_id: str, claim: str) -> Any:
        self._call("ended_with")
        return self.ended


class _Runner:
    def __init__(self, store: _Store, results: Path) -> None:
        self.store, self.results, self.families, self.config = store, results, {}, None


def _worker(comfy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down: set[str],
            wins: bool = True) -> tuple[Any, _Store, list[Any]]:
    """A worker holding the claim of JOB_ID, its stand-in store, and the callbacks it sends."""
    worker_module = pack_module(comfy, "rest.shared_worker")
    store_module = pack_module(comfy, "rest.store")
    store = _Store(pack_module(comfy, "rest.jobs"), store_module, down, wins)
    sent: list[Any] = []

    async def record(job: Any, families: Any, config: Any) -> None:
        sent.append(job)

    monkeypatch.setattr(worker_module, "send_callback", record)
    worker = worker_module.SharedWorker(_Runner(store, tmp_path))
    worker.claims[JOB_ID] = store_module.Claim(JOB_ID, "1-0", "claim-token", 1, {})
    return worker, store, sent


async def _complete(job_id: str, graph: Any, state: Any) -> dict[str, Any]:
    """In place of the worker's result step: the job's run succeeded."""
    return {"status": "complete", "result": {"images": ["a"]}}


def _end(worker: Any) -> bool:
    return asyncio.run(worker._end_claimed(JOB_ID, status="complete", result={"images": ["a"]}))


def test_the_store_gone_after_the_end_still_sends_the_callback(comfy, tmp_path, monkeypatch, caplog) -> None:
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down={"ack"})
    with caplog.at_level(logging.WARNING):
        assert _end(worker) is True
    assert store.calls == ["get", "finish", "ack"] and worker.claims == {}
    assert [(job.id, job.status, job.result) for job in sent] == [(JOB_ID, "complete", {"images": ["a"]})]
    assert sent[0].meta == {"callback": "x"}, "the callback goes from the record read before the end"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"job {JOB_ID} ended, but its queue entry stays until its next claim" in warnings[0]


def test_a_job_another_worker_ended_sends_nothing(comfy, tmp_path, monkeypatch) -> None:
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down=set(), wins=False)
    assert _end(worker) is False
    assert store.calls == ["get", "finish"] and sent == [] and worker.claims == {}


def test_the_store_gone_before_the_end_is_left_to_the_lease(comfy, tmp_path, monkeypatch) -> None:
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down={"finish"})
    with pytest.raises(pack_module(comfy, "rest.store").StoreUnavailable):
        _end(worker)
    assert store.calls == ["get", "finish"] and sent == [] and worker.claims == {}


@pytest.mark.parametrize("ended", [True, False])
def test_an_unanswered_end_is_confirmed_when_the_store_is_back(comfy, tmp_path, monkeypatch, ended: bool) -> None:
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down={"finish"})
    monkeypatch.setattr(worker, "_shared_result", _complete)
    asyncio.run(worker.finish(JOB_ID, {}, None))
    assert worker.claims == {} and list(worker.unconfirmed) == [JOB_ID] and sent == []
    store.down, store.calls = set(), []
    store.ended = store.job if ended else None  # whether the unanswered write had ended the job
    asyncio.run(worker._confirm_ends())
    assert worker.unconfirmed == {}, "asked once"
    assert store.calls == (["ended_with", "ack"] if ended else ["ended_with"])
    assert [job.id for job in sent] == ([JOB_ID] if ended else [])


def test_a_claim_whose_inputs_cannot_be_read_is_let_go(comfy, tmp_path, monkeypatch) -> None:
    """The store drops out between the claim and the job's start: the worker holds no claim it would renew for a
    job it never started (the lease hands the job to a worker again)."""
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down={"blobs"})
    claim = worker.claims.pop(JOB_ID)
    with pytest.raises(pack_module(comfy, "rest.store").StoreUnavailable):
        asyncio.run(worker._run_claimed(claim))
    assert store.calls == ["blobs"] and worker.claims == {} and sent == []


def test_an_end_that_fails_unexpectedly_lets_the_claim_go(comfy, tmp_path, monkeypatch, caplog) -> None:
    worker, store, sent = _worker(comfy, tmp_path, monkeypatch, down={"finish"})
    store.broken = True
    monkeypatch.setattr(worker, "_shared_result", _complete)
    with caplog.at_level(logging.ERROR):
        asyncio.run(worker.finish(JOB_ID, {}, None))
    assert worker.claims == {} and worker.unconfirmed == {} and sent == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"HiRes Studio API: job {JOB_ID} ran here but could not be ended; a worker runs it again after the lease"]
