# Every decision scripts/bootstrap.sh makes, as small functions (sourced, never run on its own), so that
# tests/unit/test_bootstrap_lib.py can run each one with fake apt-cache / apt-get / sudo / id / chromium
# executables on PATH.
#
# Rule for this file and every project shell script: no `grep -q` or `head` at the end of a pipeline. Under
# `set -o pipefail` they exit at the first match and the writer before them dies of SIGPIPE (status 141), so
# the pipeline reads as failed although it matched. Capture a command's output in a variable and match it
# with bash's own `[[ ... ]]` instead (tests/unit/test_shell_lint.py enforces the rule).

# A stamp holds a hash of the files its step depends on: change one and the step runs again.
# Usage: step_done STAMPS_DIR NAME [HASH]  -> status 0 when the step's stamp holds HASH.
step_done() {
  local file="$1/$2" want="${3:-}" have
  [ -f "$file" ] || return 1
  have=$(<"$file")
  [ "$have" = "$want" ]
}

# Usage: mark_done STAMPS_DIR NAME [HASH]
mark_done() {
  printf '%s\n' "${3:-}" > "$1/$2"
}

# Whether the Chromium an earlier run recorded (in FILE) is still an executable file: removed since, the step
# runs again.
recorded_chromium_runs() {
  local path
  [ -f "$1" ] || return 1
  path=$(<"$1")
  [ -n "$path" ] && [ -x "$path" ]
}

# The command prefix apt needs here: nothing as root, `sudo` where it exists, else status 1 (the caller says
# what to do). Prints the prefix.
sudo_prefix() {
  local uid
  uid=$(id -u)
  if [ "$uid" = 0 ]; then
    printf '\n'
  elif command -v sudo >/dev/null 2>&1; then
    printf 'sudo\n'
  else
    return 1
  fi
}

# A Chromium the user or the system already has: $HIRES_CHROMIUM if set (it must be executable), else
# `chromium` on PATH. Prints its path; status 1 when there is none.
existing_chromium() {
  if [ -n "${HIRES_CHROMIUM:-}" ]; then
    [ -x "$HIRES_CHROMIUM" ] || { echo "HIRES_CHROMIUM=$HIRES_CHROMIUM is not an executable file" >&2; return 2; }
    printf '%s\n' "$HIRES_CHROMIUM"
    return 0
  fi
  command -v chromium 2>/dev/null
}

# Whether apt offers a real `chromium` package: a numbered candidate that is not a snap stub (Ubuntu's
# `chromium` only installs the snap). `apt-cache policy` prints a long version table after the Candidate
# line, so its whole output is read into a variable first: no pipe, nothing to SIGPIPE.
apt_offers_chromium() {
  local policy
  policy=$(apt-cache policy chromium 2>/dev/null) || return 1
  local line candidate=
  while IFS= read -r line; do
    line="${line#"${line%%[![:space:]]*}"}"
    if [[ $line == Candidate:* ]]; then
      candidate="${line#Candidate:}"
      candidate="${candidate#"${candidate%%[![:space:]]*}"}"
      break
    fi
  done <<< "$policy"
  [[ $candidate == [0-9]* ]] || return 1
  [[ $candidate != *snap* ]]
}

# Installs Debian's chromium with apt when apt offers it. Prints the installed binary's path; status 1 when apt
# is missing or offers no real package, 3 when neither root nor sudo is available.
apt_install_chromium() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo
  sudo=$(sudo_prefix) || { echo "apt needs root or sudo: run as root, install sudo, or set HIRES_CHROMIUM" >&2; return 3; }
  # The package lists first: a fresh machine may have none, and then every package looks unavailable.
  $sudo apt-get update -qq >/dev/null || true
  apt_offers_chromium || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null || return 1
  command -v chromium 2>/dev/null
}

# The first Chromium executable under playwright's download folder. Prints its path; status 1 when none.
playwright_chromium_in() {
  local found
  found=$(find "$1" -type f \( -name chrome -o -name chromium \) -perm -u+x -print -quit 2>/dev/null)
  [ -n "$found" ] || return 1
  printf '%s\n' "$found"
}

# The browser test's Chromium, in order: $HIRES_CHROMIUM, the system's `chromium`, Debian's package through apt.
# Prints the path; status 1 when none of them gives one (the caller falls back to playwright's own build).
choose_chromium() {
  local path rc
  path=$(existing_chromium) && { printf '%s\n' "$path"; return 0; }
  rc=$?
  [ "$rc" = 2 ] && return 2
  path=$(apt_install_chromium) && [ -n "$path" ] && { printf '%s\n' "$path"; return 0; }
  return 1
}

# The Redis-compatible server the shared-queue tests, `make cluster` and the cluster benchmark start on loopback:
# `redis-server` on PATH, else Debian's redis-server package installed with apt (as root or through sudo).
# Prints the binary's path; status 1 when there is none and apt cannot install it, 3 without root or sudo.
choose_redis_server() {
  local path sudo
  if path=$(command -v redis-server 2>/dev/null) && [ -n "$path" ]; then
    printf '%s\n' "$path"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  sudo=$(sudo_prefix) || { echo "apt needs root or sudo: run as root, install sudo, or install redis-server" >&2; return 3; }
  $sudo apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null || return 1
  path=$(command -v redis-server 2>/dev/null) || return 1
  printf '%s\n' "$path"
}
