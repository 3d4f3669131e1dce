"""Settings: defaults work, env overrides TOML, a bad value names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamd.config import ConfigError, load_settings


def test_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"STREAMD_DATA_DIR": str(tmp_path)})
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/streamd.db"
    assert settings.port == 8080
    assert settings.timezone == "Asia/Shanghai"


def test_env_overrides_toml(tmp_path: Path) -> None:
    toml = tmp_path / "streamd.toml"
    toml.write_text('[streamd]\nport = 9000\nhost = "0.0.0.0"\n', encoding="utf-8")
    settings = load_settings(environ={"STREAMD_CONFIG": str(toml), "STREAMD_PORT": "9100"})
    assert (settings.host, settings.port) == ("0.0.0.0", 9100)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"STREAMD_PORT": "eighty"}, "STREAMD_PORT: Input should be a valid integer"),
        ({"STREAMD_PORT": "70000"}, "STREAMD_PORT: Input should be less than or equal to 65535"),
        ({"STREAMD_TIMEZONE": "Mars/Olympus"}, "STREAMD_TIMEZONE: Value error, unknown time zone"),
        ({"STREAMD_DATABASE_URL": "mysql://x"}, "STREAMD_DATABASE_URL:"),
        ({"STREAMD_LOG_LEVEL": "LOUD"}, "STREAMD_LOG_LEVEL:"),
    ],
)
def test_bad_setting_is_named(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert fragment in str(info.value)


def test_unknown_toml_key_and_missing_file(tmp_path: Path) -> None:
    toml = tmp_path / "streamd.toml"
    toml.write_text("[streamd]\nprot = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="STREAMD_PROT: unknown setting"):
        load_settings(environ={"STREAMD_CONFIG": str(toml)})
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(environ={"STREAMD_CONFIG": str(tmp_path / "missing.toml")})


def test_other_streamd_variables_are_left_alone() -> None:
    settings = load_settings(environ={"STREAMD_PASSWORD": "x", "STREAMD_TEST_POSTGRES_URL": "y"})
    assert settings.port == 8080
