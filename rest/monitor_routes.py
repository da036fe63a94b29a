"""The job runner's two monitoring routes: whether the API can serve (no key needed, so it says nothing a caller
could use) and the queue's depth, the workers seen and jobs per state (any configured key, no job ids). Apart
from the API routes, which each family brings, since they answer in the pack's own bodies, not an API's.
ComfyUI-bound through the runner.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from .jobs import IN_PROGRESS, NOT_STARTED
from .keys import bearer_token, identify
from .store import StoreUnavailable

if TYPE_CHECKING:
    from .routes import RestApi

STATUS_ROUTE = "/hires_studio_api/status"
QUEUE_ROUTE = "/hires_studio_api/queue"
"""Queue depth, workers seen and jobs per state (any configured key)."""


class MonitorRoutes:
    """GET STATUS_ROUTE and QUEUE_ROUTE of one runner."""

    def __init__(self, runner: RestApi) -> None:
        self.runner = runner

    def install(self, routes: web.RouteTableDef) -> None:
        routes.get(STATUS_ROUTE)(self.status)
        routes.get(QUEUE_ROUTE)(self.queue_status)

    async def status(self, request: web.Request) -> web.Response:
        """Whether the API can serve: the configuration's state ("ok", "last_good" while a changed file cannot
        be used, "broken" when none has loaded) and the job watcher's health. No key needed, so it says nothing
        a caller could use: the problem itself is in the server's log."""
        watcher = self.runner.watcher
        return web.json_response({
            "config": self.runner.config.state.state,
            "watcher": {"running": watcher is not None and not watcher.done(),
                        "failed_ticks_in_a_row": self.runner.health.failed_in_a_row}})

    async def queue_status(self, request: web.Request) -> web.Response:
        """Queue depth, the workers seen and jobs per state, for any configured key (x-api-key or Bearer); no
        job ids, so no key learns of another's jobs."""
        runner = self.runner
        config = runner.config_or_defaults()
        presented = request.headers.get("x-api-key") or bearer_token(request.headers.get("Authorization"))
        if not config.keys or identify(presented, config.keys) is None:
            return web.json_response({"message": "a configured API key is required (x-api-key or Bearer)"},
                                     status=401)
        try:
            counts = await asyncio.to_thread(runner.store.counts)
            queue = await asyncio.to_thread(runner.store.queue_state) if runner.store.shared else {
                "waiting": counts.get(NOT_STARTED, 0), "claimed": counts.get(IN_PROGRESS, 0),
                "workers_seen_s_ago": {runner.worker.consumer: 0.0}}
        except StoreUnavailable as error:
            return web.json_response({"message": str(error)}, status=503)
        return web.json_response({"store": runner.store.name, "worker": runner.worker.consumer, "queue": queue,
                                  "jobs": counts})
