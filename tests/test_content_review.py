"""Review dates (``content due``, the report's count) and ``content list --json``'s procedure
block and versions."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from bot.config import Office
from bot.content.loader import load_pack, today
from bot.content.model import a_year_after
from bot.content.review import due
from tests.packs import KET_HON, write_pack
from tests.test_cli_content import invoke
from tests.test_content_versions import NEW, OLD, TEMPORARY_FEES, entry

VALUES = Office().template_values()


def with_review(text: str, review_by: dt.date | None = None, updated: dt.date | None = None) -> str:
    if updated is not None:
        text = text.replace("updated: 2026-11-01", f"updated: {updated.isoformat()}")
    if review_by is not None:
        text = text.replace("source: ", f"review_by: {review_by.isoformat()}\nsource: ", 1)
    return text


def test_due_lists_overdue_and_soon_due_versions_most_overdue_first(tmp_path: Path) -> None:
    day = dt.date(2027, 2, 1)
    root = write_pack(tmp_path / "content", {
        "khai-sinh": with_review(OLD, review_by=dt.date(2027, 1, 15)),  # overdue by 17 days
        "khai-sinh.2027-03-01": with_review(NEW, review_by=dt.date(2027, 2, 20)),  # a coming version
        "ket-hon": KET_HON,  # updated 2026-11-01: review by 2027-11-01, not due
    })
    pack, _ = load_pack(root, VALUES, day)
    found = due(pack, 30, day)
    assert [(d.entry.path, d.days_left, d.overdue) for d in found] == [
        ("content/faq/khai-sinh.md", -17, True), ("content/faq/khai-sinh.2027-03-01.md", 19, False)]
    assert due(pack, 0, day)[0].entry.path == "content/faq/khai-sinh.md" and len(due(pack, 0, day)) == 1
    # a version that has ended is no longer reviewed
    later = dt.date(2027, 3, 2)
    assert [d.entry.path for d in due(pack.on(later), 30, later)] == ["content/faq/khai-sinh.2027-03-01.md"]


def test_content_due_prints_what_to_review(tmp_path: Path) -> None:
    now = today()
    root = write_pack(tmp_path / "content", {
        "khai-sinh": with_review(entry(), updated=now - dt.timedelta(days=400)),  # default review passed
        "ket-hon": with_review(KET_HON, review_by=now + dt.timedelta(days=10), updated=now - dt.timedelta(days=5)),
    })
    result = invoke(tmp_path, "content", "due", content=root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    overdue_by = (now - a_year_after(now - dt.timedelta(days=400))).days
    assert f"quá hạn {overdue_by} ngày" in lines[0]
    assert "content/faq/khai-sinh.md" in lines[0]
    assert "còn 10 ngày" in lines[1] and "content/faq/ket-hon.md" in lines[1]
    assert "2 mục cần rà soát trong 30 ngày tới (1 mục quá hạn)." in result.stderr

    fewer = invoke(tmp_path, "content", "due", "--days", "5", content=root)
    assert len(fewer.stdout.splitlines()) == 1


def test_list_json_shows_the_procedure_block_and_the_versions(tmp_path: Path) -> None:
    now = today()
    # khai-sinh: in force until tomorrow, then the next version
    until = now + dt.timedelta(days=1)
    first = entry(validity=f"valid_until: {until.isoformat()}\n", procedure=TEMPORARY_FEES)
    second = entry(validity=f"valid_from: {(until + dt.timedelta(days=1)).isoformat()}\n")
    root = write_pack(tmp_path / "content", {
        "khai-sinh": first, f"khai-sinh.{(until + dt.timedelta(days=1)).isoformat()}": second, "ket-hon": KET_HON})
    result = invoke(tmp_path, "content", "list", "--json", content=root)
    assert result.exit_code == 0, result.output
    items = {item["id"]: item for item in json.loads(result.stdout)}
    khai_sinh = items["khai-sinh"]
    assert khai_sinh["in_force"] is True and khai_sinh["path"] == "content/faq/khai-sinh.md"
    assert [(v["path"], v["valid_from"], v["valid_until"], v["in_force"]) for v in khai_sinh["versions"]] == [
        ("content/faq/khai-sinh.md", None, until.isoformat(), True),
        (f"content/faq/khai-sinh.{(until + dt.timedelta(days=1)).isoformat()}.md",
         (until + dt.timedelta(days=1)).isoformat(), None, False)]
    fees = khai_sinh["procedure"]["fees"]  # as written: every fee with its dates
    assert [(f["amount"], f["valid_from"], f["valid_until"]) for f in fees] == [
        (15000, None, "2026-12-31"), (30000, "2027-01-01", None), (30000, None, None)]
    assert khai_sinh["procedure"]["online"] == "full"
    assert items["ket-hon"]["procedure"] is None and items["ket-hon"]["review_by"] == "2027-11-01"


def test_check_counts_versioned_entries_and_translations(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content", {"khai-sinh": OLD, "khai-sinh.2027-03-01": NEW, "ket-hon": KET_HON})
    translations = Path(__file__).parent / "fixtures" / "translations"
    shutil.copytree(translations, root, dirs_exist_ok=True)
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 0, result.output
    assert "1 câu hỏi có phiên bản theo ngày, 2 bản dịch." in result.stderr
