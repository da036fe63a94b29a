# HiRes Studio: the two commands of the README, plus `serve` for the graph editor.
#   make demo      set up everything the demo needs, then the product tour through a real ComfyUI with real weights
#   make test      set up everything (the browser test's Chromium too), then run the whole test suite
#   make demo-api  set up, then answer one seed curl (Stability esrgan upscale) from a local ComfyUI
#   make serve     set up, then start ComfyUI with the pack on http://127.0.0.1:8188 (`make serve PORT=8190`)
#   make docs      write docs/workflows.md from the workflow definitions
#   make cluster   set up, then a local Redis and 3 ComfyUI workers behind one API on loopback (docs/cluster.md)
PY := .hires/venv/bin/python
# Passive OpenMP waits: on a busy 2-core machine spinning torch threads make CPU runs several times slower.
export OMP_WAIT_POLICY ?= PASSIVE
PYTEST_ARGS ?=
PORT = 8188
# ComfyUI's API nodes load too (the hosted workflows need them, and an account to run); they start cleanly
# offline. `make serve SERVE_ARGS=--disable-api-nodes` leaves them out.
SERVE_ARGS ?=

.PHONY: setup setup-browser demo demo-api test serve cluster bench lint thumbnails docs

setup:
	@bash scripts/bootstrap.sh

setup-browser:
	@bash scripts/bootstrap.sh --browser

demo: setup
	@$(PY) scripts/demo.py

demo-api: setup
	@$(PY) scripts/demo_api.py

test: setup-browser
	@$(PY) -m pytest $(PYTEST_ARGS)

serve: setup
	@cd .hires/ComfyUI && ../venv/bin/python main.py --cpu --listen 127.0.0.1 --port $(PORT) \
		--base-directory ../base --database-url sqlite:///:memory: $(SERVE_ARGS)

cluster: setup
	@$(PY) scripts/cluster.py

bench: setup
	@$(PY) bench/cleanup_quality.py
	@$(PY) bench/tiled_diffusion.py
	@$(PY) bench/unet_tile_cost.py
	@$(PY) bench/live_preview.py
	@$(PY) bench/controlnet_tiles.py
	@$(PY) bench/rest_overhead.py
	@$(PY) bench/cluster_throughput.py

thumbnails: setup
	@$(PY) scripts/thumbnails.py

docs: setup
	@$(PY) scripts/workflow_docs.py

lint:
	@$(PY) -m ruff check .
