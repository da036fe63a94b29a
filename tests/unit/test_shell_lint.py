"""No `grep -q` or `head` after a pipe in any of the project's shell scripts, Makefiles or CI files.

Under `set -o pipefail` such a reader exits at its first match or line, the command writing into the pipe dies of
SIGPIPE (status 141), and the whole pipeline reads as failed although it matched: the bootstrap once skipped
Debian's chromium that way. Capture the output in a variable and match it in bash instead
(scripts/bootstrap_lib.sh shows how)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".hires", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}

# A single `|` or `|&` (not `||`), then `grep` with a -q / --quiet / -s...q... option, or `head`.
EARLY_EXIT_READER = re.compile(r"(?<!\|)\|(?!\|)&?\s*(?:grep\b[^|;&\n]*?\s(?:-[A-Za-z]*q[A-Za-z]*|--quiet)\b|head\b)")


def shell_files() -> list[Path]:
    """Every shell script (by extension or shebang), Makefile and file under .ci/ in the project."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        found.extend(p for name in files if is_shell_file(p := Path(folder, name)))
    return sorted(found)


def is_shell_file(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    if path.suffix in {".sh", ".bash", ".mk"} or path.name == "Makefile" or rel.parts[0] == ".ci":
        return True
    try:
        with path.open("rb") as f:
            first = f.readline(80)
    except OSError:
        return False
    return first.startswith(b"#!") and re.search(rb"\b(ba|da|z)?sh\b", first) is not None


def offending_lines(text: str) -> list[str]:
    """Lines (continuations joined) with an early-exit reader after a pipe; comment lines are skipped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if not line.lstrip().startswith("#") and EARLY_EXIT_READER.search(line)
    ]


def test_the_rule_catches_the_patterns_it_is_for() -> None:
    bad = [
        "if apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then",
        "x=$(find . -name chrome | head -n 1)",
        "apt-cache policy chromium |grep -qE 'x'",
        "cmd | grep --quiet foo",
        "cmd | \\\n    head -1",
        "cmd | grep -sq foo",
        "cmd |& grep -q foo",
        "cmd | grep -E -q 'a|b'",
    ]
    for line in bad:
        assert offending_lines(line), line
    good = [
        "a || grep -q foo file",
        "grep -q foo file",
        "cat a | sha256sum | cut -c1-16",
        "cmd | grep foo",
        "# a comment quoting apt-cache policy | grep -q",
        "x=$(cmd) && [[ $x == *Candidate* ]]",
    ]
    for line in good:
        assert not offending_lines(line), line


def test_the_scan_covers_the_bootstrap_makefile_and_ci() -> None:
    names = {str(p.relative_to(ROOT)) for p in shell_files()}
    assert {"scripts/bootstrap.sh", "scripts/bootstrap_lib.sh", "Makefile", ".ci/run"} <= names


def test_no_project_shell_file_ends_a_pipeline_in_grep_q_or_head() -> None:
    offences = {
        str(path.relative_to(ROOT)): lines
        for path in shell_files()
        if (lines := offending_lines(path.read_text(errors="replace")))
    }
    assert offences == {}, (
        "`grep -q` / `head` after a pipe SIGPIPEs the writer under pipefail; capture the output and match it in "
        f"bash instead: {offences}"
    )
