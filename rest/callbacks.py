"""The POST that tells an async job's caller the job has ended (deepmode's callback URL): sent once, through the
same safe fetch as the images (no private address unless allowlisted, no redirect), and never raising: a caller
that cannot be reached is logged, the job stays as it ended."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

from .config import ConfigCache, ConfigError
from .family import ApiFamily
from .jobs import Job
from .safe_fetch import FetchRefused, fetch

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1024 * 1024
"""The most of the callback's answer read (only its status is logged)."""


async def send_callback(job: Job, families: Mapping[str, ApiFamily], config: ConfigCache) -> None:
    """POST the job's end to its callback, for an API with callbacks (once; failures are logged)."""
    family = families.get(job.api)
    callback = family.callback(job) if family else None
    if callback is None:
        return
    url, payload = callback
    try:
        settings = config.get()
        response = await asyncio.to_thread(
            fetch, url, method="POST", body=json.dumps(payload).encode(),
            content_type="application/json", allowlist=settings.allowlist, max_bytes=MAX_ANSWER_BYTES,
            connect_timeout=settings.connect_timeout_s, read_timeout=settings.read_timeout_s, max_redirects=0)
        log.info("HiRes Studio API: callback for job %s answered %d", job.id, response.status)
    except (FetchRefused, ConfigError) as error:
        log.warning("HiRes Studio API: callback for job %s not delivered: %s", job.id, error)
    except Exception:
        log.exception("HiRes Studio API: callback for job %s not delivered", job.id)
