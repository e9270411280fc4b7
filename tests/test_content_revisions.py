"""Content revisions in a real database: the seed, publishing, conflicts, restoring, files
edited on disk taken in (the later change wins, the other kept), and a process following the
newest revision."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.content import revisions
from tests.web_support import FIXTURE
from tests.conftest import make_settings
from bot.root import build_app

KET_HON = "faq/ket-hon.md"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "deploy" / "content"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
async def bot(database_url: str, content: Path):  # noqa: ANN201
    app = build_app(make_settings(database_url, content=content))
    yield app
    await app.close()


def follower_of(bot: BotApp, tmp_path: Path, name: str = "w1") -> revisions.Follower:
    settings = bot.settings
    return revisions.Follower(bot.content, bot.database, tmp_path / "revs" / name, Path(settings.content.path))


def edited(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


async def test_seed_publish_conflict_and_restore(bot: BotApp, content: Path, tmp_path: Path) -> None:
    follower = follower_of(bot, tmp_path)
    await follower.sync()
    assert follower.loaded == 1
    files = await revisions.current(bot.database)
    assert set(files) == set(revisions.read_folder(content)) and KET_HON in files
    original = files[KET_HON].text

    new_text = edited(original, "mang giấy tờ tùy thân", "mang căn cước")
    row = await revisions.publish(bot.database, {KET_HON: new_text}, author="lan", kind="publish",
                                  reason="căn cước", expected={KET_HON: 1})
    assert row is not None and row.changes == {KET_HON: [original, new_text]}
    # A second editor who opened the file at revision 1 is refused, with both texts to compare.
    with pytest.raises(revisions.Conflict) as refused:
        await revisions.publish(bot.database, {KET_HON: original + "\nthêm"}, author="minh", kind="publish",
                                reason="", expected={KET_HON: 1})
    assert refused.value.revision.author == "lan"
    assert refused.value.base_text == original and refused.value.their_text == new_text
    # Publishing the same text again records nothing.
    assert await revisions.publish(bot.database, {KET_HON: new_text}, author="lan", kind="publish", reason="",
                                   expected={KET_HON: row.id}) is None

    assert await follower.sync()
    assert "mang căn cước" in bot.content.current.pack.entries["ket-hon"].body

    assert (await revisions.state_at(bot.database, 1))[KET_HON] == original
    back = await revisions.restore(bot.database, 1, author="lan", reason="", values=bot.content.values,
                                   params=bot.content.params)
    assert back is not None and back.kind == "restore" and back.changes[KET_HON] == [new_text, original]
    await follower.sync()
    assert "mang giấy tờ tùy thân" in bot.content.current.pack.entries["ket-hon"].body
    assert [r.id for r in await revisions.history(bot.database, path=KET_HON)] == [back.id, row.id, 1]


async def test_a_file_edited_on_disk_wins_and_the_dashboards_text_stays_in_history(
        bot: BotApp, content: Path, tmp_path: Path) -> None:
    follower = follower_of(bot, tmp_path)
    await follower.sync()
    original = (content / KET_HON).read_text(encoding="utf-8")
    dashboard = edited(original, "mang giấy tờ tùy thân", "mang căn cước (bảng điều khiển)")
    mine = await revisions.publish(bot.database, {KET_HON: dashboard}, author="lan", kind="publish", reason="",
                                   expected={KET_HON: 1})
    assert mine is not None
    on_disk = edited(original, "mang giấy tờ tùy thân", "mang căn cước (tệp)")
    (content / KET_HON).write_text(on_disk, encoding="utf-8")
    await follower.sync()
    rows = await revisions.history(bot.database, limit=1)
    taken = await revisions.revision(bot.database, rows[0].id)
    assert taken is not None and taken.kind == "files" and taken.changes[KET_HON] == [dashboard, on_disk]
    assert f"bản #{mine.id}" in rows[0].reason
    assert "(tệp)" in bot.content.current.pack.entries["ket-hon"].body
    # A broken edit on disk is not taken in: the last good revision keeps serving, the error is shown.
    (content / KET_HON).write_text(on_disk.replace("category: ho-tich", "category: [sai"), encoding="utf-8")
    await follower.sync()
    assert (await revisions.history(bot.database, limit=1))[0].id == rows[0].id
    assert any(p.path.endswith(KET_HON) and not p.warning for p in bot.content.last_problems)
    assert "(tệp)" in bot.content.current.pack.entries["ket-hon"].body


async def test_two_processes_follow_the_same_revision(bot: BotApp, database_url: str, content: Path,
                                                      tmp_path: Path) -> None:
    other = build_app(make_settings(database_url, content=content))
    try:
        first, second = follower_of(bot, tmp_path, "a"), follower_of(other, tmp_path, "b")
        await first.sync()
        await second.sync()
        text = (await revisions.current(bot.database))[KET_HON].text
        await revisions.publish(bot.database, {KET_HON: edited(text, "tùy thân", "tùy thân bản mới")},
                                author="lan", kind="publish", reason="", expected={KET_HON: 1})
        assert await second.sync()
        assert "bản mới" in other.content.current.pack.entries["ket-hon"].body
        assert first.loaded == 1 and second.loaded == 2
    finally:
        await other.close()


async def test_import_refuses_files_with_errors(bot: BotApp, tmp_path: Path) -> None:
    await follower_of(bot, tmp_path).sync()
    with pytest.raises(revisions.Refused) as refused:
        await revisions.import_files(bot.database, {"faq/moi.md": "---\nid: moi\n---\nx"}, author="cli",
                                     kind="import", reason="", values=bot.content.values, params=bot.content.params)
    assert any("content/faq/moi.md" in str(p) for p in refused.value.problems)
    assert await revisions.head(bot.database) == 1
    # A big pack is checked in a child process, with the same findings.
    files = await revisions.current_texts(bot.database) | {"faq/moi.md": "---\nid: moi\n---\nx"}
    here = revisions.check(files, bot.content.values, bot.content.params)
    apart = revisions.check(files, bot.content.values, bot.content.params, apart_from=1)
    assert here[1] == apart[1] and here[0] is None and apart[0] is None
    good = revisions.check(await revisions.current_texts(bot.database), bot.content.values, bot.content.params, 1)
    assert good[0] is not None and set(good[0].pack.entries) == set(bot.content.current.pack.entries)


def test_export_and_import_on_the_command_line(tmp_path: Path, content: Path, monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from bot.cli import main

    env = {"CCHC_CONFIG": None, "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/db/cchc.db",
           "CCHC_CONTENT_PATH": str(content)}
    monkeypatch.chdir(tmp_path)  # the pseudonym salt file goes to ./data
    out = tmp_path / "export" / "content"
    exported = CliRunner().invoke(main, ["content", "export", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert "bản #1" in exported.output
    assert revisions.read_folder(out) == revisions.read_folder(content)
    # An editor changes a file in the export (e.g. in git) and imports it.
    text = (out / KET_HON).read_text(encoding="utf-8")
    (out / KET_HON).write_text(edited(text, "tùy thân", "tùy thân (git)"), encoding="utf-8")
    taken = CliRunner().invoke(main, ["content", "import", str(out), "--reason", "từ git"], env=env)
    assert taken.exit_code == 0, taken.output
    assert "bản #2" in taken.output and KET_HON in taken.output
    again = CliRunner().invoke(main, ["content", "import", str(out)], env=env)
    assert again.exit_code == 0 and "không tạo bản mới" in again.output
    (out / KET_HON).write_text(text.replace("category: ho-tich", "category: khong-co"), encoding="utf-8")
    refused = CliRunner().invoke(main, ["content", "import", str(out)], env=env)
    assert refused.exit_code != 0 and "khong-co" in refused.output and "content/faq/ket-hon.md" in refused.output
