"""requirements.lock must pin, with hashes, every package pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) as written in requirements.lock."""
    found: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            current = _canonical(m.group(1))
            found[current] = (m.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
    return found


def test_every_direct_pin_is_locked_at_the_same_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    locked = _locked()
    stale = []
    for spec in wanted:
        m = _PIN.match(spec)
        assert m, f"{spec!r} is not pinned exactly in pyproject.toml"
        name, version = _canonical(m.group(1)), m.group(2)
        if locked.get(name, ("", 0))[0] != version:
            stale.append(f"{name}=={version} (lock: {locked.get(name, ('missing', 0))[0]})")
    assert not stale, "requirements.lock is out of date, run `python3 dev.py lock`: " + ", ".join(stale)


def test_every_locked_package_has_a_hash_and_the_build_backend_is_locked() -> None:
    locked = _locked()
    assert {"setuptools", "wheel"} <= locked.keys()
    assert len(locked) > 30  # transitive packages are locked too, not only direct ones
    assert [name for name, (_, hashes) in locked.items() if hashes == 0] == []
