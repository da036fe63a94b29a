"""The bootstrap's decisions (scripts/bootstrap_lib.sh), each run in bash under `set -euo pipefail` with fake
apt-cache / apt-get / sudo / id / chromium executables on a PATH that holds nothing else, so no real package
manager or browser is ever touched and the machine's own Chromium cannot leak into a decision."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap_lib.sh"
BASH = shutil.which("bash") or "/bin/bash"

# `apt-cache policy chromium` as Debian 12 prints it, then a version table long enough (tens of KB) that a reader
# which stops at the Candidate line kills the writer with SIGPIPE.
DEBIAN_POLICY = """chromium:
  Installed: (none)
  Candidate: 130.0.6723.116-1~deb12u1
  Version table:
"""
UBUNTU_SNAP_POLICY = """chromium:
  Installed: (none)
  Candidate: 2:1snap1-0ubuntu2
  Version table:
"""
NO_CANDIDATE_POLICY = """chromium:
  Installed: (none)
  Candidate: (none)
  Version table:
"""
TABLE_LINE = "     130.0.6723.116-1~deb12u1 500        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n"
TABLE_REPEATS = 2000  # about 200 KB after the Candidate line


def fake(bin_dir: Path, name: str, body: str) -> Path:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)
    return path


def apt_cache_printing(bin_dir: Path, policy: str) -> None:
    """A fake apt-cache whose `policy` prints POLICY, then the long version table, line by line."""
    (bin_dir / "policy.txt").write_text(policy)
    fake(
        bin_dir,
        "apt-cache",
        f'[ "$1" = policy ] || exit 100\n'
        f'while IFS= read -r l; do printf "%s\\n" "$l"; done < "{bin_dir}/policy.txt"\n'
        f'for ((i = 0; i < {TABLE_REPEATS}; i++)); do printf "%s" "{TABLE_LINE.rstrip()}\n"; done',
    )


@pytest.fixture
def bins(tmp_path: Path) -> Path:
    """A PATH with only `find` (playwright_chromium_in uses it) and `chmod` (the fake apt-get uses it) from the real
    system, and the fakes a test adds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("find", "chmod"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    return bin_dir


def run(bin_dir: Path, script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": str(bin_dir), "HOME": str(bin_dir.parent), **(env or {})}
    return subprocess.run(
        [BASH, "-c", f'set -euo pipefail; source "{LIB}"; {script}'],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def uid(bin_dir: Path, value: int) -> None:
    fake(bin_dir, "id", f'[ "$1" = -u ] && echo {value}')


def apt_get_installing_chromium(bin_dir: Path) -> Path:
    """A fake apt-get that logs its arguments and, on `install chromium`, puts a fake chromium on PATH."""
    log = bin_dir.parent / "apt-get.log"
    fake(
        bin_dir,
        "apt-get",
        f'echo "$*" >> "{log}"\n'
        f'if [ "$1" = install ]; then printf "#!{BASH}\\necho Chromium 130\\n" > "{bin_dir}/chromium"; '
        f'chmod +x "{bin_dir}/chromium"; fi',
    )
    return log


def test_the_fake_apt_cache_is_long_enough_to_break_grep_q_under_pipefail(bins: Path) -> None:
    """The bug this library exists for: `apt-cache policy | grep -q` reads as failed although it matched."""
    apt_cache_printing(bins, DEBIAN_POLICY)
    fake(bins, "grep", f'exec {shutil.which("grep")} "$@"')
    result = run(bins, "apt-cache policy chromium | grep -q 'Candidate: [0-9]' && echo yes || echo \"no $?\"")
    assert result.stdout.strip() == "no 141"


@pytest.mark.parametrize(
    ("policy", "offered"),
    [(DEBIAN_POLICY, True), (UBUNTU_SNAP_POLICY, False), (NO_CANDIDATE_POLICY, False), ("", False)],
    ids=["debian", "ubuntu-snap-stub", "no-candidate", "no-package"],
)
def test_apt_offers_chromium_reads_the_whole_long_policy(bins: Path, policy: str, offered: bool) -> None:
    apt_cache_printing(bins, policy)
    result = run(bins, "apt_offers_chromium && echo offered || echo not")
    assert result.stdout.strip() == ("offered" if offered else "not")


def test_apt_offers_chromium_is_false_when_apt_cache_fails(bins: Path) -> None:
    fake(bins, "apt-cache", "echo '  Candidate: 130.0' ; exit 1")
    assert run(bins, "apt_offers_chromium && echo offered || echo not").stdout.strip() == "not"


def test_sudo_prefix_as_root_is_empty(bins: Path) -> None:
    uid(bins, 0)
    fake(bins, "sudo", 'exec "$@"')
    result = run(bins, 'p=$(sudo_prefix); echo "[$p]"')
    assert result.stdout.strip() == "[]"


def test_sudo_prefix_as_a_user_with_sudo(bins: Path) -> None:
    uid(bins, 1000)
    fake(bins, "sudo", 'exec "$@"')
    assert run(bins, 'p=$(sudo_prefix); echo "[$p]"').stdout.strip() == "[sudo]"


def test_sudo_prefix_as_a_user_without_sudo_fails(bins: Path) -> None:
    uid(bins, 1000)
    assert run(bins, "sudo_prefix && echo ok || echo \"no $?\"").stdout.strip() == "no 1"


def test_hires_chromium_wins_over_everything(bins: Path, tmp_path: Path) -> None:
    mine = fake(tmp_path, "my-chrome", "echo mine")
    fake(bins, "chromium", "echo system")
    apt_cache_printing(bins, DEBIAN_POLICY)
    log = apt_get_installing_chromium(bins)
    result = run(bins, "choose_chromium", {"HIRES_CHROMIUM": str(mine)})
    assert result.stdout.strip() == str(mine)
    assert not log.exists()


def test_hires_chromium_that_is_not_executable_is_an_error_naming_it(bins: Path, tmp_path: Path) -> None:
    result = run(bins, 'choose_chromium || echo "status $?"', {"HIRES_CHROMIUM": str(tmp_path / "nope")})
    assert result.stdout.strip() == "status 2"
    assert f"HIRES_CHROMIUM={tmp_path / 'nope'} is not an executable file" in result.stderr


def test_system_chromium_is_used_without_apt(bins: Path) -> None:
    system = fake(bins, "chromium", "echo system")
    log = apt_get_installing_chromium(bins)
    assert run(bins, "choose_chromium").stdout.strip() == str(system)
    assert not log.exists()


def test_fresh_debian_as_root_installs_debians_chromium(bins: Path) -> None:
    """The fresh Debian 12 case: no chromium, root, apt offers the package behind a long version table."""
    uid(bins, 0)
    apt_cache_printing(bins, DEBIAN_POLICY)
    log = apt_get_installing_chromium(bins)
    result = run(bins, "choose_chromium")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bins / "chromium")
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


def test_fresh_debian_as_a_user_installs_through_sudo(bins: Path) -> None:
    uid(bins, 1000)
    sudo_log = bins.parent / "sudo.log"
    fake(bins, "sudo", f'echo "$*" >> "{sudo_log}"; exec "$@"')
    apt_cache_printing(bins, DEBIAN_POLICY)
    log = apt_get_installing_chromium(bins)
    result = run(bins, "choose_chromium")
    assert result.stdout.strip() == str(bins / "chromium")
    assert sudo_log.read_text().splitlines() == ["apt-get update -qq", "apt-get install -y -qq chromium"]
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


def test_without_root_or_sudo_apt_is_not_tried_and_the_fix_is_named(bins: Path) -> None:
    uid(bins, 1000)
    apt_cache_printing(bins, DEBIAN_POLICY)
    log = apt_get_installing_chromium(bins)
    result = run(bins, 'choose_chromium || echo "status $?"')
    assert result.stdout.strip() == "status 1"
    assert "apt needs root or sudo: run as root, install sudo, or set HIRES_CHROMIUM" in result.stderr
    assert not log.exists()


def test_ubuntu_snap_stub_is_not_installed(bins: Path) -> None:
    uid(bins, 0)
    apt_cache_printing(bins, UBUNTU_SNAP_POLICY)
    log = apt_get_installing_chromium(bins)
    result = run(bins, 'choose_chromium || echo "status $?"')
    assert result.stdout.strip() == "status 1"
    assert log.read_text().splitlines() == ["update -qq"]


def test_no_apt_at_all_falls_through(bins: Path) -> None:
    uid(bins, 0)
    assert run(bins, 'choose_chromium || echo "status $?"').stdout.strip() == "status 1"


def test_a_failed_apt_install_falls_through(bins: Path) -> None:
    uid(bins, 0)
    apt_cache_printing(bins, DEBIAN_POLICY)
    fake(bins, "apt-get", '[ "$1" = install ] && exit 100; exit 0')
    assert run(bins, 'choose_chromium || echo "status $?"').stdout.strip() == "status 1"


def test_playwright_chromium_in_finds_the_executable_among_many(bins: Path, tmp_path: Path) -> None:
    root = tmp_path / "playwright"
    for i in range(300):  # enough entries that a `find | head -n 1` would SIGPIPE find
        (root / f"other-{i}").mkdir(parents=True)
        (root / f"other-{i}" / "chrome").write_text("not executable")
    exe = root / "chromium-1200" / "chrome-linux" / "chrome"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert run(bins, f'playwright_chromium_in "{root}"').stdout.strip() == str(exe)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(bins, f'playwright_chromium_in "{empty}" || echo "status $?"').stdout.strip() == "status 1"


def test_step_done_compares_the_stamps_hash(bins: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    script = (
        f'S="{stamps}"; step_done "$S" weights abc && echo before; mark_done "$S" weights abc; '
        'step_done "$S" weights abc && echo same; step_done "$S" weights def || echo changed; '
        'mark_done "$S" venv; step_done "$S" venv && echo plain'
    )
    assert run(bins, script).stdout.split() == ["same", "changed", "plain"]


def test_recorded_chromium_runs_only_while_the_file_is_executable(bins: Path, tmp_path: Path) -> None:
    record = tmp_path / "chromium-path"
    exe = fake(tmp_path, "chrome", "")
    record.write_text(f"{exe}\n")
    assert run(bins, f'recorded_chromium_runs "{record}" && echo yes').stdout.strip() == "yes"
    exe.unlink()
    assert run(bins, f'recorded_chromium_runs "{record}" || echo no').stdout.strip() == "no"
    assert run(bins, f'recorded_chromium_runs "{tmp_path / "missing"}" || echo no').stdout.strip() == "no"


def apt_get_installing_redis(bin_dir: Path) -> Path:
    """A fake apt-get that logs its arguments and, on `install … redis-server`, puts a fake redis-server on PATH."""
    log = bin_dir.parent / "apt-get.log"
    fake(
        bin_dir,
        "apt-get",
        f'echo "$*" >> "{log}"\n'
        f'if [ "$1" = install ]; then printf "#!{BASH}\\necho Redis 7\\n" > "{bin_dir}/redis-server"; '
        f'chmod +x "{bin_dir}/redis-server"; fi',
    )
    return log


def test_redis_server_on_path_is_used_without_apt(bins: Path) -> None:
    system = fake(bins, "redis-server", "echo 7.0")
    log = apt_get_installing_redis(bins)
    assert run(bins, "choose_redis_server").stdout.strip() == str(system)
    assert not log.exists()


def test_fresh_debian_as_root_installs_debians_redis_server(bins: Path) -> None:
    uid(bins, 0)
    log = apt_get_installing_redis(bins)
    result = run(bins, "choose_redis_server")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bins / "redis-server")
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq --no-install-recommends redis-server"]


def test_redis_without_root_or_sudo_names_the_fix_and_skips_apt(bins: Path) -> None:
    uid(bins, 1000)
    log = apt_get_installing_redis(bins)
    result = run(bins, 'choose_redis_server || echo "status $?"')
    assert result.stdout.strip() == "status 3"
    assert "apt needs root or sudo: run as root, install sudo, or install redis-server" in result.stderr
    assert not log.exists()


def test_redis_when_apt_cannot_install_is_status_1(bins: Path) -> None:
    uid(bins, 0)
    fake(bins, "apt-get", '[ "$1" = install ] && exit 100; exit 0')
    assert run(bins, 'choose_redis_server || echo "status $?"').stdout.strip() == "status 1"
