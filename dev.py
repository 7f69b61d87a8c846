#!/usr/bin/env python3
"""Set-up runner: `python3 dev.py run` starts the bot, `python3 dev.py test` runs the tests.

Both create `.venv` on first use and reinstall only when pyproject.toml changes, so the
same two commands work on a fresh machine with nothing but Python 3.11+ and pip.
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
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != want:
        print("Installing unionbot and its pinned dependencies ...", file=sys.stderr)
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
        STAMP.write_text(want)
    return py


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "chat", "bench", "unionbot"}:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    py = str(_ensure_env())
    cmd, rest = argv[0], argv[1:]
    if cmd == "test":
        args = [py, "-m", "pytest", "-q", *rest]
    elif cmd == "bench":
        args = [py, *rest]
    elif cmd == "unionbot":
        args = [py, "-m", "bot", *rest]
    else:
        args = [py, "-m", "bot", cmd, *rest]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
