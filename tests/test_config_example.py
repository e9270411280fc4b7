"""config.example.toml documents every key, and loads as it is."""

from __future__ import annotations

import re

from bot.config import PROJECT_ROOT, Settings, load_settings

EXAMPLE = PROJECT_ROOT / "config.example.toml"


def _documented_keys() -> dict[str, set[str]]:
    """Keys per section, counting optional keys shown commented out ("# key = ...")."""
    keys: dict[str, set[str]] = {}
    section = None
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^\[(\w+)\]", line):
            section = match.group(1)
            keys[section] = set()
        elif section and (match := re.match(r"^#?\s?(\w+) = ", line)):
            keys[section].add(match.group(1))
    return keys


def test_example_documents_every_key() -> None:
    documented = _documented_keys()
    for section, field in Settings.model_fields.items():
        if section == "secrets":
            continue
        assert section in documented, f"[{section}] missing from config.example.toml"
        assert documented[section] == set(field.annotation.model_fields), section


def test_example_mentions_every_secret_variable() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in Settings.model_fields["secrets"].annotation.model_fields:
        assert f"CCHC_{name.upper()}" in text, name


def test_example_loads() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.office.name == "UBND xã Ngọc Liên"
