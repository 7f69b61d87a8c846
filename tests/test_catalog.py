"""Every user-facing key exists in every language, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.i18n import LANGUAGES, Catalog, CatalogError, load_catalog

ROOT = Path(__file__).resolve().parents[1]
KEY_USE = re.compile(r"""\.t\(\s*(?:[a-z_.]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']""")


def test_every_key_in_every_language() -> None:
    catalog = load_catalog()
    missing = [(k, lang) for k, forms in catalog.messages.items() for lang in LANGUAGES if not forms.get(lang)]
    assert missing == []
    assert len(catalog.keys()) > 30


def test_every_key_used_in_code_exists() -> None:
    catalog = load_catalog()
    used = set()
    for layer in ("handlers", "bot"):
        for path in (ROOT / layer).rglob("*.py"):
            used.update(KEY_USE.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no keys: the pattern is broken"
    assert sorted(k for k in used if not catalog.has(k)) == []


def test_placeholders_match_between_languages() -> None:
    catalog = load_catalog()
    field = re.compile(r"{(\w+)}")
    bad = [k for k, f in catalog.messages.items() if set(field.findall(f["vi"])) != set(field.findall(f["en"]))]
    assert bad == []


def test_missing_key_raises_and_language_falls_back_to_vietnamese() -> None:
    c = Catalog({"a.b": {"vi": "xin chào {name}", "en": ""}})
    assert c.t("en", "a.b", name="Lan") == "xin chào Lan"
    with pytest.raises(CatalogError):
        c.t("vi", "nope.nope")
