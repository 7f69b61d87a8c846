from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_config_is_valid_and_matches_defaults() -> None:
    cfg = load_config(ROOT / "config.toml", env={})
    assert cfg.bot.timezone == "Asia/Ho_Chi_Minh"
    assert cfg.server.port == 8080 and cfg.server.host == "127.0.0.1"
    assert not cfg.telegram.enabled
    assert cfg.telegram.api_base_url == "https://api.telegram.org/bot"


def test_every_shipped_key_is_commented() -> None:
    """Each key, or each run of closely related keys, has a comment right above it."""
    lines = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()

    def is_key(line: str) -> bool:
        return "=" in line and not line.lstrip().startswith("#")

    for i, line in enumerate(lines):
        if is_key(line):
            j = i - 1
            while j >= 0 and is_key(lines[j]):
                j -= 1
            assert lines[j].lstrip().startswith("#"), f"config.toml line {i + 1} has no comment: {line}"


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
        "UNIONBOT_DB": str(tmp_path / "x.db"),
        "UNIONBOT_HTTP_HOST": "0.0.0.0",
        "UNIONBOT_HTTP_PORT": "9000",
    }
    cfg = load_config(write(tmp_path, ""), env=env)
    assert cfg.telegram.enabled and cfg.telegram.token == "123:abc"
    assert cfg.telegram.file_base_url == "http://127.0.0.1:9/file/bot"
    assert cfg.storage.path == str(tmp_path / "x.db")
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 9000)


def test_repr_never_shows_telegram_secrets(tmp_path: Path) -> None:
    """A config logged whole (repr) must not leak the bot token or the webhook secret."""
    env = {
        "TELEGRAM_BOT_TOKEN": "123456:token-that-must-not-leak",
        "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-that-must-not-leak",
        "UNIONBOT_REPORT_SALT": "salt-that-must-not-leak",
    }
    cfg = load_config(write(tmp_path, ""), env=env)
    assert cfg.telegram.token == env["TELEGRAM_BOT_TOKEN"]
    shown = repr(cfg) + repr(cfg.telegram)
    for secret in env.values():
        assert secret not in shown


def test_file_cannot_set_environment_only_keys(tmp_path: Path) -> None:
    """Secrets and hosts come from the environment only; in the file they are typos."""
    with pytest.raises(ConfigError, match=r"^telegram\.token: unknown key$"):
        load_config(write(tmp_path, "[telegram]\ntoken = 'x'\n"), env={})


def test_unionbot_config_env_points_to_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[union]\nhotline = "1900 1234"\n')
    assert load_config(env={"UNIONBOT_CONFIG": str(p)}).union.hotline == "1900 1234"
    with pytest.raises(ConfigError, match="not found"):
        load_config(env={"UNIONBOT_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("text", "env", "names"),
    [
        ("[server]\nport = 'x'\n", {}, "server.port"),
        ("[server]\nport = 70000\n", {}, "server.port"),
        ("[server]\nport = true\n", {}, "server.port"),
        ("[server]\nmax_body_kib = 8\n", {}, "server.max_body_kib"),
        ("[server]\nmax_body_kib = 100000\n", {}, "server.max_body_kib"),
        ("[bot]\ntimezone = 'Mars/Base'\n", {}, "bot.timezone"),
        ("[bot]\ndefault_language = 'fr'\n", {}, "bot.default_language"),
        ("[bot]\ncolour = 'red'\n", {}, "bot.colour"),
        ("[nonsense]\n", {}, "nonsense"),
        ("[telegram]\nmode = 'carrier-pigeon'\n", {}, "telegram.mode"),
        ("[telegram]\nadmins = ['bob']\n", {}, "telegram.admins"),
        ("[telegram]\nmode = 'webhook'\n", {"TELEGRAM_BOT_TOKEN": "1:a"}, "telegram.webhook_url"),
        (
            "[telegram]\nmode = 'webhook'\nwebhook_url = 'https://x.org/h'\n",
            {"TELEGRAM_BOT_TOKEN": "1:a"},
            "telegram.webhook_secret",
        ),
        ("[limits]\nflood_messages = 0\n", {}, "limits.flood_messages"),
        ("", {"UNIONBOT_HTTP_PORT": "eighty"}, "server.port"),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_invalid_values_name_section_and_key(tmp_path: Path, text: str, env: dict, names: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env=env)
    assert names in str(err.value)


def test_topics_and_broadcast_settings(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "config.toml", env={})
    ids = [t.id for t in cfg.broadcast.topics]
    for needed in ("workers_month", "osh_month", "tet_sum_vay", "member_drive", "legal_updates", "union_news"):
        assert needed in ids
    assert (cfg.broadcast.quiet_start, cfg.broadcast.quiet_end) == ("21:00", "07:00")
    with pytest.raises(ConfigError, match="broadcast.topics"):
        load_config(write(tmp_path, "[[broadcast.topics]]\nid = 'Bad Id'\nname_vi='a'\nname_en='b'\n"), env={})
    with pytest.raises(ConfigError, match="broadcast.quiet_start"):
        load_config(write(tmp_path, "[broadcast]\nquiet_start = '25:00'\n"), env={})
    with pytest.raises(ConfigError, match="broadcast.telegram_rate"):
        load_config(write(tmp_path, "[broadcast]\ntelegram_rate = 500\n"), env={})
    ok = load_config(write(tmp_path, "[broadcast]\ntelegram_rate = 500\npaid_broadcast = true\n"), env={})
    assert ok.broadcast.paid_broadcast and ok.broadcast.telegram_rate == 500
    with pytest.raises(ConfigError, match="join.alert_chats.hn"):
        load_config(write(tmp_path, "[join.alert_chats]\nhn = ['x']\n"), env={})


def test_storage_url_and_pool_size(tmp_path: Path) -> None:
    from storage import open_store
    from storage.postgres import PostgresStore

    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\nurl = "postgresql://bot@db:5432/ub"\npool_size = 25\n', encoding="utf-8")
    loaded = load_config(cfg, env={})
    assert loaded.storage.path == "postgresql://bot@db:5432/ub"
    store = open_store(loaded.storage.path, pool_size=loaded.storage.pool_size)
    assert isinstance(store, PostgresStore) and store.max_size == 25
    # UNIONBOT_DB still wins over the file.
    assert load_config(cfg, env={"UNIONBOT_DB": "x.sqlite3"}).storage.path == "x.sqlite3"
    cfg.write_text("[storage]\npool_size = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="storage.pool_size"):
        load_config(cfg, env={})


def test_report_hash_days_reach_the_report_options_and_the_purge(tmp_path: Path) -> None:
    """How long a reporter's hash is kept is a setting (issue 11): the options the report
    form reads and the daily purge both take it; less than a day is refused by name."""
    from bot.listening import listening_options

    cfg = load_config(write(tmp_path, "[listening]\nreport_hash_days = 2\nreports_per_day = 5\n"), env={})
    options = listening_options(cfg)
    assert options.limit_days == 2 and options.reports_per_day == 5
    assert listening_options(load_config(ROOT / "config.toml", env={})).limit_days == 7
    with pytest.raises(ConfigError, match=r"^listening\.report_hash_days: must be at least 1"):
        load_config(write(tmp_path, "[listening]\nreport_hash_days = 0\n"), env={})
