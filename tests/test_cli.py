"""The command line: ask (the evaluation tools' stable contract), db upgrade, chat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from bot.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "content"
ENV = {"CCHC_CONTENT_PATH": str(FIXTURE), "CCHC_PSEUDONYM_SALT": "cli-test"}


def test_ask_json_contract() -> None:
    result = CliRunner().invoke(main, ["ask", "--json", "thủ tục kết hôn"], env=ENV)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert set(answer) == {"outcome", "id", "score", "candidates", "text"}
    assert answer["outcome"] == "answer" and answer["id"] == "ket-hon"
    assert 0 < answer["score"] <= 1
    assert answer["candidates"][0] == {"id": "ket-hon", "title": "Đăng ký kết hôn cần những gì?",
                                       "score": answer["score"]}
    assert "mang giấy tờ tùy thân" in answer["text"]


def test_ask_reads_one_question_per_line_from_stdin(tmp_path: Path) -> None:
    questions = "đăng ký\nxin chào\nqwerty asdf\n000.00.20.H56-230515-0012\n"  # đăng ký: which one?
    result = CliRunner().invoke(main, ["ask", "--json", "-"], input=questions, env=ENV)
    assert result.exit_code == 0, result.output
    outcomes = [json.loads(line)["outcome"] for line in result.output.splitlines()]
    assert outcomes == ["clarify", "greeting", "not_sure", "dossier_code"]


def test_ask_touches_no_database(tmp_path: Path) -> None:
    db = tmp_path / "ask.db"
    env = {**ENV, "CCHC_DATABASE_URL": f"sqlite:///{db}"}
    assert CliRunner().invoke(main, ["ask", "khai sinh"], env=env).exit_code == 0
    assert not db.exists()


def test_bad_config_stops_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[office]\nhotlin = "1"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "ask", "x"], env=ENV)
    assert result.exit_code != 0
    assert "office.hotlin" in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = CliRunner().invoke(main, ["db", "upgrade"], env={**ENV, "CCHC_DATABASE_URL": f"sqlite:///{db}"})
    assert result.exit_code == 0, result.output
    engine = create_engine(f"sqlite:///{db}")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"question_log", "conversation_state", "answer_vote", "channel_user", "alembic_version"} <= tables


def test_console_chat_shows_buttons_as_numbered_choices(tmp_path: Path) -> None:
    """A real terminal session: start, press button 1, ask a question, quit."""
    env = {**ENV, "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"], input="1\nthủ tục kết hôn\nthoat\n",
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[1] Hộ tịch" in out
    assert "Đăng ký kết hôn cần những gì?" in out  # listed after choosing the category
    assert "mang giấy tờ tùy thân" in out  # the answer to the typed question
