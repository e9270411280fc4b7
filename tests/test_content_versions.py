"""Content that knows when the law changes: versions, temporary fees, the procedure block,
review dates; the running store switches at midnight (Vietnam's time) with no reload."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Office
from bot.content.loader import TIMEZONE, load_pack
from bot.content.model import a_year_after
from bot.content.store import ContentStore
from handlers.lookups import fees
from bot.matching import MatchParams
from tests.packs import KET_HON, write_pack

VALUES = Office().template_values()


def entry(*, updated: str = "2026-11-01", validity: str = "", procedure: str = "", extra_alias: str = "",
          body: str = "Dạ, Anh/Chị mang Giấy chứng sinh tới {{ office.name }}.") -> str:
    """A khai-sinh file; ``validity`` lines go right after ``id`` (line 3 on)."""
    return (
        "---\n"
        "id: khai-sinh\n"
        f"{validity}"
        "title: Đăng ký khai sinh cần giấy tờ gì?\n"
        "aliases:\n"
        "  - làm giấy khai sinh cho con\n"
        "  - thủ tục đăng ký khai sinh\n"
        "  - con mới sinh làm giấy tờ gì\n"
        "  - khai sinh cho bé cần mang gì\n"
        "  - hồ sơ khai sinh gồm những gì\n"
        "  - dk khai sinh o dau\n"
        f"{extra_alias}"
        "category: ho-tich\n"
        "source: Luật Hộ tịch 2014\n"
        f"updated: {updated}\n"
        f"{procedure}"
        "---\n"
        f"{body}\n"
    )


OLD = entry(validity="valid_until: 2027-02-28\n", body="Dạ, theo Luật Hộ tịch 2014, Anh/Chị nộp tại xã.")
NEW = entry(validity="valid_from: 2027-03-01\n", updated="2026-12-01",
            extra_alias="  - khai sinh theo luật hộ tịch mới\n",
            body="Dạ, từ 01/3/2027 theo Luật Hộ tịch mới, Anh/Chị nộp tại xã.")

TEMPORARY_FEES = """\
procedure:
  online: full
  fees:
    - case: Nộp trực tuyến (giảm 50%)
      amount: 15000
      valid_until: 2026-12-31
    - case: Nộp trực tuyến
      amount: 30000
      valid_from: 2027-01-01
    - case: Nộp trực tiếp
      amount: 30000
"""


def at_vietnam(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TIMEZONE)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def problems_of(root: Path, day: dt.date = dt.date(2026, 12, 4)) -> tuple[bool, list[str]]:
    pack, problems = load_pack(root, VALUES, day)
    return pack is not None, [str(p) for p in problems]


def refused(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """The problems of a pack (these files and ket-hon) that must not load."""
    loaded, problems = problems_of(write_pack(tmp_path / "content", {**files, "ket-hon": KET_HON}))
    assert not loaded, problems
    return problems


# --- versions ------------------------------------------------------------------------------


def pack_with(tmp_path: Path, files: dict[str, str]) -> Path:
    return write_pack(tmp_path / "content", {**files, "ket-hon": KET_HON})


def test_the_store_switches_version_at_midnight_without_a_reload(tmp_path: Path) -> None:
    root = pack_with(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-03-01": NEW})
    clock = Clock(at_vietnam(2027, 2, 28, 23, 59))
    store = ContentStore(root, VALUES, MatchParams(), clock=clock)
    assert store.load() == []
    before = store.current
    assert before.pack.entries["khai-sinh"].path.endswith("faq/khai-sinh.md")
    assert "Luật Hộ tịch 2014" in before.pack.entries["khai-sinh"].body
    assert before.matcher.match("khai sinh theo luật hộ tịch mới").outcome != "answer"

    clock.now = at_vietnam(2027, 3, 1, 0, 0)  # 17:00 UTC on 28/02: already 01/3 in Vietnam
    after = store.current
    assert after.pack.day == dt.date(2027, 3, 1)
    assert after.pack.entries["khai-sinh"].path.endswith("faq/khai-sinh.2027-03-01.md")
    assert "Luật Hộ tịch mới" in after.pack.entries["khai-sinh"].body
    match = after.matcher.match("khai sinh theo luật hộ tịch mới")  # the new version's alias
    assert match.outcome == "answer" and match.best is not None and match.best.id == "khai-sinh"
    assert store.reload().changed is False  # no file was read again
    assert store.current is after  # the same day: the same snapshot


def test_the_day_is_vietnams_not_utcs(tmp_path: Path) -> None:
    root = pack_with(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-03-01": NEW})
    clock = Clock(dt.datetime(2027, 2, 28, 16, 59, tzinfo=dt.UTC))  # 23:59 in Vietnam
    store = ContentStore(root, VALUES, MatchParams(), clock=clock)
    store.load()
    assert store.current.pack.entries["khai-sinh"].valid_until == dt.date(2027, 2, 28)
    clock.now = dt.datetime(2027, 2, 28, 17, 0, tzinfo=dt.UTC)
    assert store.current.pack.entries["khai-sinh"].valid_from == dt.date(2027, 3, 1)


def test_an_entry_not_yet_in_force_is_not_served_and_one_that_ended_is_gone(tmp_path: Path) -> None:
    root = pack_with(tmp_path, {"khai-sinh.2027-03-01": entry(validity="valid_from: 2027-03-01\n")})
    assert problems_of(root, dt.date(2027, 2, 28)) == (True, [])
    assert "khai-sinh" not in load_pack(root, VALUES, dt.date(2027, 2, 28))[0].entries
    assert "khai-sinh" in load_pack(root, VALUES, dt.date(2027, 3, 1))[0].entries

    root = write_pack(tmp_path / "other", {"khai-sinh": entry(validity="valid_until: 2026-12-31\n")})
    pack, _ = load_pack(root, VALUES, dt.date(2027, 1, 1))
    assert pack is not None and "khai-sinh" not in pack.entries


def test_overlapping_versions_are_refused_with_file_and_line(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh": OLD,
                                  "khai-sinh.2027-02-15": entry(validity="valid_from: 2027-02-15\n")})
    assert any(p.startswith("content/faq/khai-sinh.2027-02-15.md:3: phiên bản chồng lên content/faq/khai-sinh.md")
               for p in problems), problems


def test_a_version_without_an_end_before_the_next_is_an_overlap(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh.2026-01-01": entry(validity="valid_from: 2026-01-01\n"),
                                  "khai-sinh.2027-03-01": NEW})
    assert any(p.startswith("content/faq/khai-sinh.2027-03-01.md:3: phiên bản chồng lên") for p in problems)


def test_a_gap_between_versions_is_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh": OLD,
                                  "khai-sinh.2027-03-05": entry(validity="valid_from: 2027-03-05\n")})
    assert ("content/faq/khai-sinh.2027-03-05.md:3: khoảng trống: từ 01/03/2027 đến hết 04/03/2027 "
            "không có phiên bản nào (sau content/faq/khai-sinh.md)") in problems


def test_a_last_version_that_ends_is_a_warning(tmp_path: Path) -> None:
    assert problems_of(pack_with(tmp_path, {"khai-sinh": OLD})) == (True, [
        "content/faq/khai-sinh.md:3: cảnh báo: phiên bản cuối hết hiệu lực sau 28/02/2027 mà "
        "không có phiên bản tiếp theo: từ hôm sau bot không còn câu trả lời này"])


def test_consecutive_versions_pass_the_check(tmp_path: Path) -> None:
    assert problems_of(pack_with(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-03-01": NEW})) == (True, [])


def test_a_version_file_is_named_after_its_start(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-3-1": NEW})
    assert ("content/faq/khai-sinh.2027-3-1.md:3: tệp phiên bản phải tên là 'khai-sinh.2027-03-01.md' "
            "(mã + ngày valid_from)") in problems


def test_two_files_with_one_id_need_dates(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-03-01": entry()})
    assert any(p.startswith("content/faq/khai-sinh.2027-03-01.md:") and "tệp phiên bản phải tên là" in p
               for p in problems)
    assert any("id 'khai-sinh' trùng với content/faq/khai-sinh.2027-03-01.md (các phiên bản cùng mã cần "
               "valid_from/valid_until)" in p for p in problems), problems


def test_an_end_before_the_start_names_the_line(tmp_path: Path) -> None:
    backwards = entry(validity="valid_from: 2027-03-01\nvalid_until: 2027-01-01\n")
    problems = refused(tmp_path, {"khai-sinh.2027-03-01": backwards})
    assert any(p.startswith("content/faq/khai-sinh.2027-03-01.md:4: trường 'valid_until'") and
               "đứng trước valid_from" in p for p in problems), problems


# --- temporary fees --------------------------------------------------------------------------


def test_temporary_fees_end_and_start_on_their_dates(tmp_path: Path) -> None:
    root = pack_with(tmp_path, {"khai-sinh": entry(procedure=TEMPORARY_FEES)})
    clock = Clock(at_vietnam(2026, 12, 31, 23, 59))
    store = ContentStore(root, VALUES, MatchParams(), clock=clock)
    assert store.load() == []
    cases = [(f.case, f.amount) for f in store.current.pack.entries["khai-sinh"].procedure.fees]
    assert cases == [("Nộp trực tuyến (giảm 50%)", 15000), ("Nộp trực tiếp", 30000)]
    text = fees.fee_text(store.current.pack.entries["khai-sinh"], VALUES, "0237", "https://dvc")
    assert "15.000 đồng" in text and "Nộp trực tuyến: " not in text

    before = store.current
    clock.now = at_vietnam(2027, 1, 1, 0, 0)
    after = store.current
    cases = [(f.case, f.amount) for f in after.pack.entries["khai-sinh"].procedure.fees]
    assert cases == [("Nộp trực tuyến", 30000), ("Nộp trực tiếp", 30000)]
    text = fees.fee_text(after.pack.entries["khai-sinh"], VALUES, "0237", "https://dvc")
    assert "15.000" not in text and "- Nộp trực tuyến: **30.000 đồng**" in text
    assert after.matcher is before.matcher  # no way of asking changed: the index is kept
    decision = fees.find_procedure(after, "phí khai sinh")  # the fee lookup reads the new day too
    assert decision is not None and decision.entry_id == "khai-sinh"


def test_every_fee_with_its_dates_stays_in_the_versions(tmp_path: Path) -> None:
    pack, _ = load_pack(pack_with(tmp_path, {"khai-sinh": entry(procedure=TEMPORARY_FEES)}), VALUES,
                        dt.date(2026, 12, 4))
    (written,) = [e for e in pack.every_version() if e.id == "khai-sinh"]
    assert [(f.amount, f.valid_from, f.valid_until) for f in written.procedure.fees] == [
        (15000, None, dt.date(2026, 12, 31)), (30000, dt.date(2027, 1, 1), None), (30000, None, None)]


def test_a_fee_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    bad = TEMPORARY_FEES.replace("      valid_until: 2026-12-31\n",
                                 "      valid_from: 2027-01-01\n      valid_until: 2026-12-31\n")
    problems = refused(tmp_path, {"khai-sinh": entry(procedure=bad)})
    # line 20 is the fee's valid_until (id 2, title 3, aliases 4-10, ..., procedure 14)
    assert any(p.startswith("content/faq/khai-sinh.md:20: trường 'procedure.fees.0.valid_until'")
               for p in problems), problems


# --- the procedure block and review dates ---------------------------------------------------

PROCEDURE = """\
review_by: 2027-06-30
procedure:
  code: "1.001193"
  where: UBND cấp xã nơi cư trú của cha hoặc mẹ
  papers:
    - Tờ khai đăng ký khai sinh
    - Giấy chứng sinh
  processing_time: Ngay trong ngày
  online: full
  online_url: https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc.html
  fees:
    - case: Đăng ký đúng hạn
      amount: 0
      note: Miễn lệ phí
  legal_basis:
    - title: Luật Hộ tịch
      number: 60/2014/QH13
      effective: 2016-01-01
"""


def test_the_procedure_block_is_read_whole(tmp_path: Path) -> None:
    pack, problems = load_pack(pack_with(tmp_path, {"khai-sinh": entry(procedure=PROCEDURE)}), VALUES,
                               dt.date(2026, 12, 4))
    assert pack is not None and problems == []
    got = pack.entries["khai-sinh"]
    procedure = got.procedure
    assert procedure.code == "1.001193" and procedure.where.startswith("UBND cấp xã")
    assert procedure.papers == ("Tờ khai đăng ký khai sinh", "Giấy chứng sinh")
    assert procedure.online_url == "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc.html"
    assert [(b.title, b.number, b.effective) for b in procedure.legal_basis] == [
        ("Luật Hộ tịch", "60/2014/QH13", dt.date(2016, 1, 1))]
    assert got.review_by == dt.date(2027, 6, 30)
    assert pack.entries["ket-hon"].review_by == dt.date(2027, 11, 1)  # default: updated + 1 year


@pytest.mark.parametrize(("bad", "line", "field"), [
    ("  online_url: dichvucong.gov.vn\n", 15, "procedure.online_url"),
    ("  legal_basis:\n    - number: 60/2014/QH13\n", 16, "procedure.legal_basis.0.title"),
    ("  legal_basis:\n    - title: Luật Hộ tịch\n      effective: 1 tháng 1\n", 17,
     "procedure.legal_basis.0.effective"),
    ("  papers: [\"\"]\n", 15, "procedure.papers.0"),
    ("  online: sometimes\n", 15, "procedure.online"),
])
def test_a_broken_procedure_block_names_file_line_and_field(tmp_path: Path, bad: str, line: int,
                                                            field: str) -> None:
    problems = refused(tmp_path, {"khai-sinh": entry(procedure="procedure:\n" + bad)})
    assert any(p.startswith(f"content/faq/khai-sinh.md:{line}: ") and f"'{field}'" in p
               for p in problems), problems


def test_review_by_before_updated_is_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, {"khai-sinh": entry(procedure="review_by: 2026-01-01\n")})
    assert "content/faq/khai-sinh.md:14: 'review_by' đứng trước 'updated'" in problems


def test_a_year_after_a_leap_day_is_the_28th() -> None:
    assert a_year_after(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)
    assert a_year_after(dt.date(2026, 11, 1)) == dt.date(2027, 11, 1)


def test_an_overlapping_version_added_to_a_running_bot_is_refused_and_the_last_good_content_serves(
        tmp_path: Path) -> None:
    root = pack_with(tmp_path, {"khai-sinh": OLD, "khai-sinh.2027-03-01": NEW})
    clock = Clock(at_vietnam(2027, 2, 20))
    store = ContentStore(root, VALUES, MatchParams(), clock=clock)
    store.load()
    (root / "faq" / "khai-sinh.2027-02-15.md").write_text(entry(validity="valid_from: 2027-02-15\n"),
                                                          encoding="utf-8")
    result = store.reload(force=True)
    assert not result.ok and not result.changed
    assert any(str(p).startswith("content/faq/khai-sinh.2027-02-15.md:3: phiên bản chồng lên")
               for p in result.problems)
    clock.now = at_vietnam(2027, 3, 1)  # the last good content still switches at midnight
    assert store.current.pack.entries["khai-sinh"].path.endswith("khai-sinh.2027-03-01.md")
