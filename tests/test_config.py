"""Settings: names, defaults, parsing, placeholder refusal and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, SettingsError, load_settings

ALL_NAMES = (
    "DISCORD_TOKEN",
    "APIFRAME_API_KEY",
    "APIFRAME_BASE_URL",
    "APIFRAME_TIMEOUT",
    "APIFRAME_MAX_DOWNLOAD_MB",
    "DATABASE_URL",
    "DISCORD_API_BASE_URL",
    "DISCORD_GATEWAY_URL",
    "DISCORD_GUILD_IDS",
    "WEBHOOK_PUBLIC_URL",
    "WEB_HOST",
    "WEB_PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "SHARD_COUNT",
    "SHARD_ID",
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty directory with none of the bot's variables set."""
    monkeypatch.chdir(tmp_path)
    for name in ALL_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_any_environment() -> None:
    """With nothing set the documented defaults apply and secrets are unset."""
    settings = load_settings()
    assert settings.apiframe_base_url == "https://api.apiframe.ai"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.discord_token is None
    assert settings.discord_guild_ids == []
    assert settings.web_port == 8080
    assert settings.sqlite_path == Path("./data/flux-bot.db")


def test_reads_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting is read from its upper-case environment variable."""
    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.abc.def")
    monkeypatch.setenv("APIFRAME_API_KEY", "afk_live_123456")
    monkeypatch.setenv("APIFRAME_BASE_URL", "http://127.0.0.1:8787/")
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://127.0.0.1:9000/api/v10")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9000/gateway")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "123, 456")
    monkeypatch.setenv("WEBHOOK_PUBLIC_URL", "https://bot.example.org")
    monkeypatch.setenv("WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("WEB_PORT", "9999")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "MTIz.abc.def"
    assert settings.apiframe_base_url == "http://127.0.0.1:8787"
    assert settings.discord_guild_ids == [123, 456]
    assert settings.discord_gateway_url == "ws://127.0.0.1:9000/gateway"
    assert settings.web_port == 9999
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert load_settings().log_format == "json"


def test_reads_dotenv_file(tmp_path: Path) -> None:
    """A `.env` file in the working directory is read; empty values mean the default."""
    (tmp_path / ".env").write_text("APIFRAME_API_KEY=afk_from_file_1\nDISCORD_API_BASE_URL=\n")
    settings = load_settings()
    assert settings.apiframe_api_key is not None
    assert settings.apiframe_api_key.get_secret_value() == "afk_from_file_1"
    assert settings.discord_api_base_url is None


def test_example_placeholders_are_refused() -> None:
    """The values shipped in .env.example are refused with a line naming the setting."""
    example = Path(__file__).parent.parent / ".env.example"
    values = dict(
        line.split("=", 1)
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    )
    settings = load_settings(
        discord_token=values["DISCORD_TOKEN"], apiframe_api_key=values["APIFRAME_API_KEY"]
    )
    with pytest.raises(SettingsError) as caught:
        settings.require("discord_token", "apiframe_api_key")
    with pytest.raises(SettingsError):
        settings.secret("discord_token")  # never handed out to be used
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("DISCORD_TOKEN: ")
    assert problems[1].startswith("APIFRAME_API_KEY: ")
    assert all("placeholder" in p for p in problems)


def test_every_setting_is_in_env_example() -> None:
    """`.env.example` documents every setting the class knows, each with a comment."""
    from bot.config import Settings

    example = (Path(__file__).parent.parent / ".env.example").read_text()
    from bot.config import RENAMED

    for name in Settings.model_fields.keys() - RENAMED.keys():
        assert f"\n{name.upper()}=" in example, name


def test_one_readable_line_per_problem() -> None:
    """Several invalid values give one `NAME: reason` line each and no traceback text."""
    with pytest.raises(SettingsError) as caught:
        load_settings(
            apiframe_base_url="ftp://x",
            discord_gateway_url="http://not-ws",
            web_port=70000,
            log_level="LOUD",
            discord_guild_ids="12,abc",
        )
    problems = caught.value.problems
    names = sorted(p.split(":")[0] for p in problems)
    assert names == [
        "APIFRAME_BASE_URL",
        "DISCORD_GATEWAY_URL",
        "DISCORD_GUILD_IDS.1",
        "LOG_LEVEL",
        "WEB_PORT",
    ]
    assert all("Traceback" not in p and "\n" not in p for p in problems)


def test_shards_come_in_pairs_and_count_from_zero() -> None:
    """SHARD_ID and SHARD_COUNT are set together, the id below the count; only shard 0 (or a
    single process) registers the commands."""
    assert load_settings().syncs_commands
    assert load_settings(shard_id="", shard_count="").shard_count is None
    assert load_settings(shard_id="0", shard_count="2").syncs_commands
    assert not load_settings(shard_id="1", shard_count="2").syncs_commands
    for values, start in (
        ({"shard_id": "1"}, "SHARD_ID and SHARD_COUNT"),
        ({"shard_count": "2"}, "SHARD_ID and SHARD_COUNT"),
        ({"shard_id": "2", "shard_count": "2"}, "SHARD_ID: must be below SHARD_COUNT (2)"),
        ({"shard_id": "-1", "shard_count": "2"}, "SHARD_ID:"),
    ):
        with pytest.raises(SettingsError) as caught:
            load_settings(**values)
        assert caught.value.problems[0].startswith(start), caught.value.problems


def test_require_names_missing_secrets() -> None:
    """`require` says which secrets are missing and where to get them."""
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.require("discord_token", "apiframe_api_key")
    assert [p.split(":")[0] for p in caught.value.problems] == ["DISCORD_TOKEN", "APIFRAME_API_KEY"]


def test_secrets_hidden_in_repr() -> None:
    """Neither repr nor str of the settings shows a secret."""
    settings = load_settings(discord_token="tok.secret.value", apiframe_api_key="afk_secret_9")
    text = repr(settings) + str(settings) + str(settings.model_dump())
    assert "tok.secret.value" not in text
    assert "afk_secret_9" not in text


def test_database_url_is_sqlite_or_postgresql() -> None:
    """DATABASE_URL takes what bot.storage.db can open (plain URLs get the async driver);
    anything else is one `DATABASE_URL:` line that never repeats the URL's password."""
    for good in (
        "sqlite:///./data/bot.db",
        "sqlite+aiosqlite:////var/lib/bot.db",
        "sqlite://",
        "postgres://bot:pw@db/bot",
        "postgresql://bot@db:5432/bot",
        "postgresql+asyncpg://bot@db/bot",
    ):
        assert load_settings(database_url=good).database_url == good
    for bad in (
        "nonsense",
        "",
        "postgresql://bot:pw@db:port/bot",
        "mysql://bot:pw@db/bot",
        "postgresql+psycopg2://bot:pw@db/bot",
        "sqlite+pysqlite:///bot.db",
    ):
        with pytest.raises(SettingsError) as caught:
            load_settings(database_url=bad)
        [problem] = caught.value.problems
        assert problem.startswith("DATABASE_URL: "), problem
        assert ":pw@" not in problem


def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """As .env.example says: `WEB_PORT=` is the default port, not an error; for the limits
    the default is what an empty value gives, and 0 is how to say "no limit"."""
    for name in ("WEB_PORT", "LOG_LEVEL", "POLL_RATE", "DEFAULT_DAILY_LIMIT", "DATABASE_URL"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert (settings.web_port, settings.log_level, settings.poll_rate) == (8080, "INFO", 4.0)
    assert settings.default_daily_limit == 20
    assert settings.database_url == DEFAULT_DATABASE_URL
    monkeypatch.setenv("DEFAULT_DAILY_LIMIT", "0")
    assert load_settings().default_daily_limit is None


def test_a_renamed_setting_still_works_and_says_so() -> None:
    """The old name keeps working for one release, with a line for the log."""
    settings = load_settings(max_jobs_per_user="4")
    assert settings.max_jobs_in_flight_per_member == 4
    assert settings.deprecations == [
        "MAX_JOBS_PER_USER is deprecated: call it MAX_JOBS_IN_FLIGHT_PER_MEMBER"
        " (the old name goes in 0.3)"
    ]
    both = load_settings(max_jobs_per_user="4", max_jobs_in_flight_per_member="3")
    assert both.max_jobs_in_flight_per_member == 3
    assert load_settings().deprecations == []


@pytest.mark.parametrize("url", ["postgresq://u@h/db", "ws://host/db", "http://host/db"])
def test_a_database_url_of_an_unknown_scheme_is_one_line(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(database_url=url)
    [problem] = refused.value.problems
    assert problem.startswith("DATABASE_URL: ")
    assert url not in problem  # it may hold a password


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"job_soft_timeout": "700", "job_hard_timeout": "600"}, "JOB_SOFT_TIMEOUT"),
        ({"job_hard_timeout": "inf"}, "JOB_HARD_TIMEOUT"),
        ({"job_soft_timeout": "nan"}, "JOB_SOFT_TIMEOUT"),
        ({"poll_rate": "0.0001"}, "POLL_RATE"),
        ({"apiframe_timeout": "inf"}, "APIFRAME_TIMEOUT"),
    ],
)
def test_settings_that_cannot_work_are_refused(changes: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**changes)
    assert any(name in problem for problem in refused.value.problems), refused.value.problems


def test_a_plain_http_api_beyond_this_machine_is_warned_about() -> None:
    """The API key would travel in the clear; a sandbox on this machine is fine."""
    assert load_settings(apiframe_base_url="http://127.0.0.1:8787").warnings == []
    [warning] = load_settings(apiframe_base_url="http://api.example.com").warnings
    assert warning.startswith("APIFRAME_BASE_URL is plain http:// to api.example.com")
    assert load_settings(apiframe_base_url="https://api.example.com").warnings == []


def test_the_image_constraints_agree_with_the_pins() -> None:
    """The Docker image installs from constraints.txt: each direct dependency's pin in
    pyproject.toml is there at the same version, and nothing there names a download address."""
    import re
    import tomllib

    root = Path(__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    lines = [
        line.split(";")[0].strip()
        for line in (root / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^\s]+", line) for line in lines), lines
    pinned = dict(line.lower().replace("_", "-").split("==") for line in lines)
    for dependency in project["dependencies"]:
        name, version = dependency.split("==")
        name = re.sub(r"\[.*\]", "", name).lower().replace("_", "-").replace(".", "-")
        assert pinned.get(name) == version, dependency
