"""[join] configuration reaches the handlers; a wrong province id stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_settings
from bot.config import ConfigError, load_config


def load(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    return load_config(path, env={})


def test_alert_chats_and_retention_reach_the_settings(tmp_path: Path) -> None:
    cfg = load(
        tmp_path, "[join]\nretention_months = 12\n[join.alert_chats]\nho_chi_minh = [-100, -200]\nha_noi = [5]\n"
    )
    settings = build_settings(cfg)
    assert settings.join_retention_months == 12
    assert dict(settings.join_alert_chats) == {"ha_noi": (5,), "ho_chi_minh": (-100, -200)}


def test_unknown_province_in_alert_chats_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"join\.alert_chats\.binh_duong: unknown province id"):
        load(tmp_path, "[join.alert_chats]\nbinh_duong = [-100]\n")
