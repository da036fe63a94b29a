"""Every benchmark `make bench` runs starts and prints its table at its smallest size.

The benchmarks stay out of the suite as measurements (their figures are in bench/README.md); this only shows
that each one still runs against the pack as it is now, since nothing else would notice when one breaks.
Loopback only: the REST and cluster benchmarks start their own servers on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hires_studio.devtools.comfy_host import ROOT

pytestmark = pytest.mark.e2e

SMALLEST = {
    "cleanup_quality": ((), "| **average** |"),
    "tiled_diffusion": (("--model", "tiny", "--sides", "256", "--repeats", "1", "--steps", "1", "--tile", "128"),
                        "| separate | 256x256"),
    "unet_tile_cost": (("--model", "tiny", "--sides", "64", "--repeats", "1"), "| 64 | 4096 |"),
    "live_preview": (("--side", "256", "--tile", "128", "--steps", "1", "--repeats", "1"),
                     "wall time previews on / off"),
    "controlnet_tiles": (("--sides", "32", "--tiles", "1", "--repeats", "1"), "| 32 | 1 |"),
    "rest_overhead": (("--jobs", "2"), "| overhead |"),
    "cluster_throughput": (("--jobs", "3", "--latency-jobs", "1", "--store-ops", "10"), "3 worker(s):"),
}
"""Each benchmark's smallest run, and a line of its table that this run must print."""


def make_bench_scripts() -> list[str]:
    recipe = (ROOT / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"bench/(\w+)\.py", recipe)


def test_every_benchmark_of_make_bench_is_run_here() -> None:
    assert make_bench_scripts() and sorted(make_bench_scripts()) == sorted(SMALLEST)


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_the_benchmark_runs_at_its_smallest_size(name: str) -> None:
    args, expected = SMALLEST[name]
    run = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert expected in run.stdout, run.stdout[-2000:]
