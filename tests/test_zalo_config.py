"""The [zalo] section and the ZALO_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
OA = {"ZALO_OA_APP_ID": "123", "ZALO_OA_APP_SECRET": "app-secret", "ZALO_OA_SECRET_KEY": "oa-key"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_defaults_and_real_hosts() -> None:
    zalo = load_config(ROOT / "config.toml", env={}).zalo
    assert (zalo.bot_mode, zalo.oa_window_days, zalo.night_start, zalo.night_end) == ("polling", 7, "22:00", "06:00")
    assert not zalo.bot_enabled and not zalo.oa_enabled
    assert zalo.bot_api_base_url == "https://bot-api.zaloplatforms.com"
    assert zalo.openapi_base_url == "https://openapi.zalo.me"
    assert zalo.oauth_base_url == "https://oauth.zaloapp.com"


def test_environment_enables_the_channels(tmp_path: Path) -> None:
    env = OA | {
        "ZALO_BOT_TOKEN": "1:abc",
        "ZALO_BOT_API_BASE_URL": "http://127.0.0.1:9",
        "ZALO_OA_ACCESS_TOKEN": "AT",
        "ZALO_OA_REFRESH_TOKEN": "RT",
        "ZALO_OPENAPI_BASE_URL": "http://127.0.0.1:8",
        "ZALO_OAUTH_BASE_URL": "http://127.0.0.1:7",
    }
    cfg = load_config(write(tmp_path, ""), env=env)
    assert cfg.zalo.bot_enabled and cfg.zalo.oa_enabled and cfg.needs_web_server
    assert cfg.zalo.oauth_base_url == "http://127.0.0.1:7"
    # Secrets stay out of repr, so a logged config leaks none.
    shown = repr(cfg)
    assert all(secret not in shown for secret in ("1:abc", "app-secret", "oa-key", "'AT'", "'RT'"))


def test_bot_polling_alone_needs_no_web_server(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""), env={"ZALO_BOT_TOKEN": "1:abc"})
    assert cfg.zalo.bot_enabled and not cfg.needs_web_server


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ('[zalo]\nbot_mode = "push"\n', {}, "zalo.bot_mode"),
        ("[zalo]\noa_window_days = 8\n", {}, "zalo.oa_window_days"),
        ("[zalo]\noa_window_days = 0\n", {}, "zalo.oa_window_days"),
        ('[zalo]\nnight_start = "10pm"\n', {}, "zalo.night_start"),
        ('[zalo]\nnight_end = "24:00"\n', {}, "zalo.night_end"),
        ("[zalo]\nbot_poll_timeout = 0\n", {}, "zalo.bot_poll_timeout"),
        ("[zalo]\noa_window = 7\n", {}, "zalo.oa_window"),
        ('[zalo]\nbot_mode = "webhook"\n', {"ZALO_BOT_TOKEN": "1:a"}, "zalo.bot_webhook_url"),
        (
            '[zalo]\nbot_mode = "webhook"\nbot_webhook_url = "https://x.org/zalo/bot/webhook"\n',
            {"ZALO_BOT_TOKEN": "1:a", "ZALO_BOT_WEBHOOK_SECRET": "short"},
            "zalo.bot_webhook_secret",
        ),
        ("", {"ZALO_OA_APP_ID": "1"}, "zalo.oa_app_secret"),
        ("", OA | {"ZALO_OA_ACCESS_TOKEN": "AT"}, "zalo.oa_refresh_token"),
        ("", {"ZALO_BOT_API_BASE_URL": "ftp://x"}, "zalo.bot_api_base_url"),
        ('[zalo]\noa_signature = "hmac"\n', {}, "zalo.oa_signature"),
        ("[zalo]\noa_event_window_minutes = 0\n", {}, "zalo.oa_event_window_minutes"),
        ("[zalo]\noa_event_window_minutes = 2000\n", {}, "zalo.oa_event_window_minutes"),
        ("", {"ZALO_OA_SECRET_KEY": "k"}, "zalo.oa_app_id"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, toml: str, env: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, toml), env=env)
