#!/usr/bin/env python3
"""Set-up runner: `python3 dev.py run` starts the bot, `python3 dev.py test` runs the tests.

Both create `.venv` on first use and reinstall only when pyproject.toml or
requirements.lock changes, so the same two commands work on a fresh machine with
nothing but Python 3.11+ and pip. Every package, transitive ones and the build
backend included, is installed from requirements.lock with its hashes checked;
`python3 dev.py lock` refreshes that file after a change to pyproject.toml.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-hash"
LOCK = ROOT / "requirements.lock"
# Only the lock refresher itself is installed without a hash: it never runs in the bot.
PIP_TOOLS = "pip-tools==7.6.2"


def _venv_python() -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / ("python.exe" if os.name == "nt" else "python")


def _ensure_env() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on the system python
        sys.exit("unionbot needs Python 3.11 or newer")
    py = _venv_python()
    if not py.exists():
        print("Creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != want:
        print("Installing unionbot and its locked dependencies ...", file=sys.stderr)
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        # --require-hashes also refuses any dependency the lock does not list.
        subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
        # The build backend came from the lock too, so no unchecked download here.
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
        STAMP.write_text(want)
    return py


def _lock() -> int:
    """Re-resolve every pin (direct, transitive, build backend) with hashes into requirements.lock."""
    py = _venv_python()
    if not py.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, PIP_TOOLS], check=True)
    return subprocess.call(
        [
            str(py),
            "-m",
            "piptools",
            "compile",
            "-q",
            "--generate-hashes",
            "--allow-unsafe",
            "--all-build-deps",
            "--extra",
            "test",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--output-file",
            LOCK.name,
            "pyproject.toml",
        ],
        cwd=ROOT,
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "chat", "bench", "unionbot", "lock"}:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[0] == "lock":
        return _lock()
    py = str(_ensure_env())
    cmd, rest = argv[0], argv[1:]
    if cmd == "test":
        # Half the suite's time is spent waiting on bot processes, fake servers and the
        # database, so three workers on two cores finish in under half the time. A file's
        # tests stay on one worker (its module fixtures are built once). `-n 0` runs serially.
        workers = [] if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in rest) else ["-n", "3"]
        args = [py, "-m", "pytest", "-q", *workers, "--dist", "loadfile", *rest]
    elif cmd == "bench":
        args = [py, *rest]
    elif cmd == "unionbot":
        args = [py, "-m", "bot", *rest]
    else:
        args = [py, "-m", "bot", cmd, *rest]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
