"""The REST layer's overhead against POST /prompt (prints figures; not a test).

usage: .hires/venv/bin/python bench/rest_overhead.py [--jobs 50]

A real ComfyUI server on loopback with the tiny models. The same small job (a 64 x 48 photo to 128 px wide,
upscale_strength 8: bicubic, no model) is run `--jobs` times each way, alternating:
  /prompt   the request's graph, completed, posted to /prompt; done when /history has it (polled every 10 ms);
  REST      POST /rest_api/process_result with the image as base64: key check, decode, save, graph, validation,
            queue, watcher, PNG encode, job store; done when the response arrives.
Per way: p50 and p95 of the wall time from request to result; the overhead is REST minus /prompt per pair.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from hires_studio.api_prompt import complete_prompt
from hires_studio.devtools.comfy_host import HIRES, ComfyServer, ensure_tiny_models, make_comfy_base
from hires_studio.devtools.loopback_site import loopback_session
from hires_studio.devtools.request_images import base64_url, png_bytes
from hires_studio.devtools.staging import stage_base, tiny_stand_ins
from hires_studio.rest import deepimage, deepimage_graph
from hires_studio.rest.config import write_key_config
from hires_studio.rest.keys import new_key


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    tiny = ensure_tiny_models()
    with tempfile.TemporaryDirectory() as tmp:
        base = make_comfy_base(Path(tmp) / "base", [tiny, HIRES / "base" / "models"])
        stage_base(base, tiny_stand_ins(tiny))
        key = new_key()
        write_key_config(base / "user", "bench", key, rate_limit=10)
        photo = png_bytes(64, 48, (120, 60, 30))
        (base / "input" / "bench.png").write_bytes(photo)
        request = {"url": base64_url(photo), "width": 128, "upscale_strength": 8}
        http = loopback_session()
        server = ComfyServer(base)
        try:
            graph = complete_prompt(deepimage_graph.build_graph(deepimage.parse_request(request), image="bench.png",
                                                          source=(64, 48), prefix="bench/prompt"),
                                    server.object_info)

            def via_prompt() -> float:
                started = time.perf_counter()
                response = http.post(server.url + "/prompt", json={"prompt": graph, "client_id": str(uuid.uuid4())},
                                     timeout=60)
                prompt_id = response.json()["prompt_id"]
                while True:
                    entry = http.get(f"{server.url}/history/{prompt_id}", timeout=60).json().get(prompt_id)
                    if entry and entry["status"]["completed"]:
                        return time.perf_counter() - started
                    time.sleep(0.01)

            def via_rest() -> float:
                started = time.perf_counter()
                body = http.post(server.url + "/rest_api/process_result", json=request, headers={"x-api-key": key},
                                 timeout=60).json()
                assert body["status"] == "complete", body
                return time.perf_counter() - started

            for _ in range(3):  # warm-up: first loads, caches
                via_prompt()
                via_rest()
            prompt_times, rest_times = [], []
            for _ in range(args.jobs):
                prompt_times.append(via_prompt())
                rest_times.append(via_rest())
        finally:
            server.stop()
    overhead = [r - p for r, p in zip(rest_times, prompt_times, strict=True)]
    print(f"{args.jobs} jobs each way (64x48 -> 128 px, strength 8), times in ms")
    print("| way | p50 | p95 | mean |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in (("/prompt", prompt_times), ("REST process_result", rest_times), ("overhead", overhead)):
        print(f"| {name} | {percentile(values, 0.5) * 1000:.0f} | {percentile(values, 0.95) * 1000:.0f} | "
              f"{statistics.mean(values) * 1000:.0f} |")


if __name__ == "__main__":
    main()
