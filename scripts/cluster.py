"""`make cluster`: a Redis and N ComfyUI workers with the pack on loopback, serving one API through the shared
job queue, for a person to try (docs/cluster.md shows the same on N machines).

usage: .hires/venv/bin/python scripts/cluster.py
       [--workers 3] [--port 8191] [--redis-port 6390]

Redis (Debian's redis-server, append-only, a fresh password) listens on 127.0.0.1:REDIS_PORT; worker i on
127.0.0.1:PORT+i, each with its own base directory under .hires/cluster/ (no shared disk) linking the host's
models, and the same config.json: one new API key, printed once, and the queue_url. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from hires_studio.devtools.comfy_host import COMFY, HIRES, ComfyServer, make_comfy_base
from hires_studio.devtools.redis_server import RedisServer
from hires_studio.rest.config import config_path, key_entry, write_config_atomic
from hires_studio.rest.keys import new_key

log = logging.getLogger("cluster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8191, help="the first worker's port")
    parser.add_argument("--redis-port", type=int, default=6390)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = HIRES / "cluster"
    redis = RedisServer(root / "redis", port=args.redis_port, password=secrets.token_urlsafe(24))
    key = new_key()
    bases = []
    for index in range(args.workers):
        base = make_comfy_base(root / f"worker{index}", [HIRES / "base" / "models"])
        write_config_atomic(config_path(base / "user"), {
            "keys": [key_entry("you", key, 16)], "queue_url": redis.url})
        bases.append(base)
    log.info("Redis on 127.0.0.1:%d; starting %d ComfyUI workers ...", args.redis_port, args.workers)
    try:
        with ThreadPoolExecutor(args.workers) as pool:
            workers = list(pool.map(lambda i: ComfyServer(bases[i], log_name="worker.log", port=args.port + i),
                                    range(args.workers)))
    except BaseException:
        redis.stop()
        raise
    log.info("workers: %s", "  ".join(worker.url for worker in workers))
    log.info("API key (shown once): %s", key)
    log.info("try:  curl -s -H 'x-api-key: %s' -F image=@%s -F width=512 %s/rest_api/process_result",
             key, COMFY / "input" / "example.png", workers[0].url)
    log.info("queue: curl -s -H 'x-api-key: %s' %s/hires_studio_api/queue", key, workers[-1].url)
    log.info("logs: %s/worker*/worker.log; Ctrl-C stops the cluster", root)
    try:
        while all(worker.proc.poll() is None for worker in workers):
            time.sleep(1)
        log.error("a worker exited; see its worker.log")
    except KeyboardInterrupt:
        pass
    finally:
        for worker in workers:
            worker.stop()
        redis.stop()


if __name__ == "__main__":
    main()
