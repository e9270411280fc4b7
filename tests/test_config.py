"""Typed configuration: defaults, config.toml, CCHC_* environment, secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    BUNDLED_CONTENT,
    ConfigError,
    Secrets,
    Settings,
    load_settings,
    pseudonym_salt,
)


def write_toml(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(None, environ={})
    assert settings == Settings()
    assert settings.server.port == 8080
    assert settings.server.host == "127.0.0.1"
    assert settings.content.path == BUNDLED_CONTENT
    assert settings.privacy.question_retention_days == 365
    assert settings.logging.level == "INFO"
    assert settings.secrets.pseudonym_salt is None


def test_values_from_toml_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
[office]
name = "UBND xã Ngọc Liên"
hotline = "0237 3 123 456"

[server]
port = 9000

[content]
path = "/srv/content"
reload = false
""",
    )
    settings = load_settings(path, environ={})
    assert settings.office.name == "UBND xã Ngọc Liên"
    assert settings.office.hotline == "0237 3 123 456"
    assert settings.server.port == 9000
    assert settings.content.path == Path("/srv/content")
    assert settings.content.reload is False
    # untouched keys keep their defaults
    assert settings.server.host == "127.0.0.1"
    assert settings.office.template_values()["office.name"] == "UBND xã Ngọc Liên"


def test_config_file_named_by_cchc_config(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9001\n")
    assert load_settings(None, environ={"CCHC_CONFIG": str(path)}).server.port == 9001


def test_environment_beats_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[office]\nhotline = "111"\n[server]\nport = 9000\n')
    settings = load_settings(
        path, environ={"CCHC_OFFICE_HOTLINE": "0912 345 678", "CCHC_SERVER_PORT": "9090"}
    )
    assert settings.office.hotline == "0912 345 678"
    assert settings.server.port == 9090
    # keys with an underscore in their name are reachable too
    settings = load_settings(None, environ={"CCHC_OFFICE_PROVINCE_HOTLINE": "1022"})
    assert settings.office.province_hotline == "1022"


def test_test_and_bench_variables_are_not_config_keys() -> None:
    settings = load_settings(
        None, environ={"CCHC_TEST_DATABASE_URL": "postgresql://x", "CCHC_BENCH_N": "3"}
    )
    assert settings == Settings()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="không tìm thấy"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings(path, environ={})


def test_unknown_section(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[telegrm]\nfoo = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "[telegrm]" in str(exc.value)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nprot = 8081\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "'server.prot'" in str(exc.value)


@pytest.mark.parametrize("value", ['"abc"', "70000", "0"])
def test_bad_value_is_named(tmp_path: Path, value: str) -> None:
    path = write_toml(tmp_path, f"[server]\nport = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "'server.port'" in str(exc.value)


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CCHC_SERVER_PORT": "abc"})
    assert "'server.port'" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CCHC_MATCHING_ANSWER_MARGIN": "1.5"})
    assert "'matching.answer_margin'" in str(exc.value)


def test_unknown_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CCHC_SERVER_PROT": "8081"})
    assert "CCHC_SERVER_PROT" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CCHC_TELEGRAM_TOKN": "x"})
    assert "CCHC_TELEGRAM_TOKN" in str(exc.value)


def test_every_bad_key_is_reported_at_once(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[server]\nport = "abc"\nprot = 1\n[foo]\nx = 1\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={"CCHC_NOPE": "1"})
    message = str(exc.value)
    for name in ("'server.port'", "'server.prot'", "[foo]", "CCHC_NOPE"):
        assert name in message


@pytest.mark.parametrize(
    "text",
    [
        '[secrets]\npseudonym_salt = "s3cr3t-in-the-repo"\n',
        '[server]\npseudonym_salt = "s3cr3t-in-the-repo"\n',
        '[office]\ntoken = "s3cr3t-in-the-repo"\n',
    ],
)
def test_secret_in_config_file_is_refused(tmp_path: Path, text: str) -> None:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "bí mật" in str(exc.value)
    assert "s3cr3t-in-the-repo" not in str(exc.value)


def test_secret_from_environment() -> None:
    settings = load_settings(None, environ={"CCHC_PSEUDONYM_SALT": "from-env"})
    salt = settings.secrets.pseudonym_salt
    assert isinstance(salt, SecretStr)
    assert salt.get_secret_value() == "from-env"


def test_secret_from_file_named_in_environment(tmp_path: Path) -> None:
    secret = tmp_path / "salt.txt"
    secret.write_text("from-file\n", encoding="utf-8")
    settings = load_settings(None, environ={"CCHC_PSEUDONYM_SALT_FILE": str(secret)})
    assert settings.secrets.pseudonym_salt is not None
    assert settings.secrets.pseudonym_salt.get_secret_value() == "from-file"


def test_unreadable_secret_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CCHC_PSEUDONYM_SALT_FILE"):
        load_settings(None, environ={"CCHC_PSEUDONYM_SALT_FILE": str(tmp_path / "missing")})


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    # an empty salt would silently make pseudonyms an unsalted hash of the user id
    secret = tmp_path / "salt.txt"
    secret.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="CCHC_PSEUDONYM_SALT_FILE"):
        load_settings(None, environ={"CCHC_PSEUDONYM_SALT_FILE": str(secret)})
    secrets_file = write_toml(tmp_path, 'pseudonym_salt = ""\n', name="secrets.toml")
    with pytest.raises(ConfigError, match="pseudonym_salt"):
        load_settings(None, environ={"CCHC_SECRETS_FILE": str(secrets_file)})


def test_secret_from_secrets_file(tmp_path: Path) -> None:
    secrets_file = write_toml(tmp_path, 'pseudonym_salt = "from-secrets-file"\n', "secrets.toml")
    settings = load_settings(None, environ={"CCHC_SECRETS_FILE": str(secrets_file)})
    assert settings.secrets.pseudonym_salt is not None
    assert settings.secrets.pseudonym_salt.get_secret_value() == "from-secrets-file"


def test_environment_secret_beats_secrets_file(tmp_path: Path) -> None:
    secrets_file = write_toml(tmp_path, 'pseudonym_salt = "from-secrets-file"\n', "secrets.toml")
    settings = load_settings(
        None,
        environ={"CCHC_SECRETS_FILE": str(secrets_file), "CCHC_PSEUDONYM_SALT": "from-env"},
    )
    assert settings.secrets.pseudonym_salt is not None
    assert settings.secrets.pseudonym_salt.get_secret_value() == "from-env"


def test_unknown_secret_in_secrets_file_is_named(tmp_path: Path) -> None:
    secrets_file = write_toml(tmp_path, 'pseudonym_sault = "x"\n', "secrets.toml")
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CCHC_SECRETS_FILE": str(secrets_file)})
    assert "'pseudonym_sault'" in str(exc.value)


def test_secret_is_not_shown_when_settings_are_printed() -> None:
    settings = load_settings(None, environ={"CCHC_PSEUDONYM_SALT": "do-not-print-me"})
    assert "do-not-print-me" not in str(settings)
    assert "do-not-print-me" not in repr(settings)
    assert "do-not-print-me" not in settings.model_dump_json()


def test_pseudonym_salt_is_created_once_private(tmp_path: Path) -> None:
    settings = load_settings(None, environ={})
    data_dir = tmp_path / "data"
    first = pseudonym_salt(settings, data_dir)
    salt_file = data_dir / "pseudonym_salt"
    assert salt_file.exists()
    assert stat.S_IMODE(os.stat(salt_file).st_mode) == 0o600
    assert len(first) >= 32
    assert pseudonym_salt(settings, data_dir) == first
    # a second data directory gets its own random salt
    assert pseudonym_salt(settings, tmp_path / "other") != first


def test_configured_pseudonym_salt_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(secrets=Secrets(pseudonym_salt=SecretStr("configured")))
    assert pseudonym_salt(settings, tmp_path / "data") == b"configured"
    assert not (tmp_path / "data").exists()
