"""A loopback HTTP server standing in for the hosts the REST API talks to: it serves images (and a redirect to
a private address) and receives callbacks. Test support for the REST tests; it listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


def loopback_session() -> requests.Session:
    """The HTTP client of the tests and benchmarks: it ignores proxy settings, so a request meant for 127.0.0.1
    never leaves the machine through a proxy."""
    http = requests.Session()
    http.trust_env = False
    return http


class LoopbackSite:
    """A loopback HTTP server standing in for the seeds' hosts: it serves the example images, redirects to a
    private address, and receives callbacks."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.callbacks: queue.Queue = queue.Queue()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/redirect-private":
                    self.send_response(302)
                    self.send_header("Location", "http://10.1.2.3/api-example.png")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = site.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                site.callbacks.put((self.path, self.headers.get("Content-Type"), json.loads(data)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
