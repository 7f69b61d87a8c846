"""Message catalogs: every user-facing string, Vietnamese first, English second.

Catalog files live in `handlers/catalog/*.toml`, one per feature. A message is a table
whose keys are language codes:

    [start.welcome]
    vi = "Xin chào!"
    en = "Hello!"

so a translator sees both languages side by side and a test can check that every key
exists in every language.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

# Every language the bot speaks, Vietnamese first: it is the fallback language.
LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class CatalogError(Exception):
    pass


class Catalog:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages  # key -> {lang: text}

    def t(self, lang: str, key: str, /, **kwargs: Any) -> str:
        try:
            forms = self.messages[key]
        except KeyError:
            raise CatalogError(f"no message {key!r} in the catalog") from None
        text = forms.get(lang) or forms[DEFAULT_LANGUAGE]
        return text.format(**kwargs) if kwargs else text

    def has(self, key: str) -> bool:
        return key in self.messages

    def keys(self) -> list[str]:
        return sorted(self.messages)


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, dict[str, str]], source: str) -> None:
    if table and set(table) <= set(LANGUAGES) and all(isinstance(v, str) for v in table.values()):
        if prefix in out:
            raise CatalogError(f"{source}: message {prefix!r} is defined twice")
        out[prefix] = dict(table)
        return
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if not isinstance(value, dict):
            raise CatalogError(f"{source}: {name} must be a table of languages ({', '.join(LANGUAGES)})")
        _flatten(name, value, out, source)


def load_catalog() -> Catalog:
    """Load and merge every packaged catalog file."""
    messages: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files("handlers.catalog").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten("", tomllib.loads(entry.read_text(encoding="utf-8")), messages, entry.name)
    return Catalog(messages)


def normalize_language(code: str | None) -> str | None:
    """Map a platform language hint ('vi', 'en-US') to a supported language."""
    if not code:
        return None
    base = code.split("-", 1)[0].lower()
    return base if base in LANGUAGES else None
