# HiRes Studio: the two commands of the README, plus `serve` for the graph editor.
#   make demo   set up everything, then upscale a real photo through a real ComfyUI with real weights
#   make test   set up everything, then run the whole test suite
#   make demo-api  set up everything, then answer one seed curl (Stability esrgan upscale) from a local ComfyUI
#   make serve  set up everything, then start ComfyUI with the pack on http://127.0.0.1:8188
PY := .hires/venv/bin/python
# Passive OpenMP waits: on a busy 2-core machine spinning torch threads make CPU runs several times slower.
export OMP_WAIT_POLICY ?= PASSIVE
PYTEST_ARGS ?=

.PHONY: setup demo demo-api test serve bench lint

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts $(PY) scripts/demo.py

demo-api: setup
	@PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts $(PY) scripts/demo_api.py

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

serve: setup
	@cd .hires/ComfyUI && ../venv/bin/python main.py --cpu --listen 127.0.0.1 --port 8188 \
		--base-directory ../base --database-url sqlite:///:memory: --disable-api-nodes

bench: setup
	@PYTHONPATH=.hires/base/custom_nodes $(PY) bench/cleanup_quality.py
	@PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts $(PY) bench/tiled_diffusion.py
	@PYTHONPATH=.hires/ComfyUI:.hires/base/custom_nodes:scripts $(PY) bench/rest_overhead.py

lint:
	@$(PY) -m ruff check .
