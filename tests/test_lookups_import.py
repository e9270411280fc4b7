"""`cchc-bot dossiers import`: CSV and XLSX, all or nothing, every bad row listed, idempotent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import create_engine, inspect

from bot.cli import main
from bot.storage.db import sync_url
from bot.storage.models import Dossier
from tests.lookups_support import KEY, rows


def run(database_url: str, *args: str, config: Path | None = None):
    env = {"CCHC_DATABASE_URL": database_url, "CCHC_PSEUDONYM_SALT": "import-test"}
    prefix = ["--config", str(config)] if config else []
    return CliRunner().invoke(main, [*prefix, "dossiers", "import", *args], env=env)


def dossiers_by_code(database_url: str) -> dict[str, dict]:
    """The imported dossiers ({} before the first import has created the table)."""
    engine = create_engine(sync_url(database_url))
    exists = "dossier" in inspect(engine).get_table_names()
    engine.dispose()
    return {r["code"]: dict(r) for r in rows(database_url, Dossier)} if exists else {}


GOOD_CSV = (
    "\ufeffDANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 5/2023\n"  # a title row above the header, and a BOM
    ";;;;;;;\n"
    "MA HO SO;TEN THU TUC;nguoi nop;So dien thoai;Ngay tiep nhan;NGÀY HẸN TRẢ;trạng thái;Nơi trả kết quả\n"
    "H56.22-230515-0001;Đăng ký khai sinh;Nguyễn Văn An;0912 345 678;15/05/2023 08:30;16/05/2023;Đang xử lý;Quầy 2\n"
    "H56.22-230515-0002;Chứng thực bản sao;Trần Thị Bình;+84987654321;2023-05-15;;Đã có kết quả;\n"
    '"000.00.20.H56-230515-0012";"Đăng ký thường trú; nhập khẩu";Lê Văn C;;15.05.2023;25/05/2023;Chờ bổ sung;"Quầy 3"\n'
)


def test_csv_with_bom_semicolons_and_loose_headers(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    result = run(database_url, str(path))
    assert result.exit_code == 0, result.output
    assert "thêm mới 3, thay đổi 0, không đổi 0" in result.output
    saved = dossiers_by_code(database_url)
    assert set(saved) == {KEY, "H56222305150002", "0000020H562305150012"}
    first = saved[KEY]
    assert first["display_code"] == "H56.22-230515-0001"
    assert (first["applicant_name"], first["phone"], first["status"]) == ("Nguyễn Văn An", "0912345678", "Đang xử lý")
    assert first["received_on"] == dt.date(2023, 5, 15) and first["due_on"] == dt.date(2023, 5, 16)
    second = saved["H56222305150002"]
    assert second["phone"] == "0987654321" and second["due_on"] is None and second["result_place"] is None
    third = saved["0000020H562305150012"]
    assert third["procedure"] == "Đăng ký thường trú; nhập khẩu" and third["phone"] is None
    again = run(database_url, str(path))  # idempotent
    assert again.exit_code == 0 and "thêm mới 0, thay đổi 0, không đổi 3" in again.output
    assert dossiers_by_code(database_url)[KEY]["updated_at"] == first["updated_at"]


def test_reimport_with_changes(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    assert run(database_url, str(path)).exit_code == 0
    changed = GOOD_CSV.replace("16/05/2023;Đang xử lý", "16/05/2023;Đã có kết quả").replace(
        "Trần Thị Bình", "Trần Thị Bình")  # unchanged row stays unchanged
    changed += "H56.22-230516-0004;Đăng ký kết hôn;Phạm D;;16/05/2023;16/05/2023;Đã tiếp nhận;\n"
    path.write_text(changed, encoding="utf-8")
    result = run(database_url, str(path))
    assert result.exit_code == 0, result.output
    assert "thêm mới 1, thay đổi 1, không đổi 2" in result.output
    assert "1 hồ sơ đổi trạng thái; 0 người đang theo dõi" in result.output
    assert dossiers_by_code(database_url)[KEY]["status"] == "Đã có kết quả"


def test_bad_csv_changes_nothing_and_lists_every_bad_row(database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    assert run(database_url, str(good)).exit_code == 0
    before = dossiers_by_code(database_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Mã hồ sơ,Tên thủ tục,Người nộp,Số điện thoại,Ngày tiếp nhận,Ngày hẹn trả,Trạng thái,Nơi trả kết quả\n"
        "H56.22-230515-0001,Đăng ký khai sinh,Nguyễn Văn An,0912345678,15/05/2023,16/05/2023,Đã trả kết quả,\n"  # 2: fine
        ",Chứng thực,Ai đó,,15/05/2023,,Đang xử lý,\n"  # 3: no code
        "H56.22-230515-0005,Khai tử,B,,31/02/2023,,Đang xử lý,\n"  # 4: no such date
        "H56.22-230515-0001,Khai sinh,C,,15/05/2023,,Đang xử lý,\n"  # 5: same code as line 2
        "H56.22-230515-0006,Tạm trú,D,12345,15/05/2023,,Đang xử lý,\n"  # 6: not a phone number
        "H56.22-230515-0007,Tạm trú,E,,20/05/2023,10/05/2023,Đang xử lý,\n"  # 7: due before received
        "ABC-1,Tạm trú,F,,20/05/2023,,,\n"  # 8: bad code and no status
        ",,,,,,,\n"  # 9: empty: skipped
        "H56.22-230515-0008,Tạm trú,G,,20/05/2023,,Đang xử lý,\n",  # 10: fine
        encoding="utf-8",
    )
    result = run(database_url, str(bad))
    assert result.exit_code == 1
    out = result.output
    assert "bad.csv:3: thiếu mã hồ sơ" in out
    assert "bad.csv:4: ngày tiếp nhận '31/02/2023' không phải ngày hợp lệ" in out
    assert "bad.csv:5: mã hồ sơ H56.22-230515-0001 trùng với dòng 2" in out
    assert "bad.csv:6: số điện thoại không hợp lệ" in out
    assert "bad.csv:7: ngày hẹn trả trước ngày tiếp nhận" in out
    assert "bad.csv:8: thiếu trạng thái" in out and "bad.csv:8: mã hồ sơ 'ABC-1' không hợp lệ" in out
    for fine in (":2:", ":9:", ":10:"):
        assert fine not in out
    assert "6 dòng có lỗi; chưa nhập gì" in out
    assert dossiers_by_code(database_url) == before  # the good rows were not imported either


def _xlsx(path: Path, rows_: list[list[object]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Danh sách hồ sơ"])
    for row in rows_:
        sheet.append(row)
    workbook.save(path)


HEADER = ["Mã hồ sơ", "Tên thủ tục", "Người nộp", "Số điện thoại", "Ngày tiếp nhận", "Ngày hẹn trả",
          "Trạng thái", "Nơi trả kết quả"]


def test_xlsx_with_date_cells_and_numeric_phones(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    _xlsx(path, [
        HEADER,
        ["H56.22-230515-0001", "Đăng ký khai sinh", "Nguyễn Văn An", 912345678,
         dt.datetime(2023, 5, 15, 8, 30), dt.date(2023, 5, 16), "Đang xử lý", "Quầy 2"],
        ["H56.22-230515-0002", "Chứng thực", "Trần Thị Bình", "0987654321", "15/05/2023", None,
         "Đã có kết quả", None],
    ])
    result = run(database_url, str(path))
    assert result.exit_code == 0, result.output
    assert "thêm mới 2" in result.output
    first = dossiers_by_code(database_url)[KEY]
    assert first["phone"] == "0912345678"  # the spreadsheet dropped the leading zero
    assert (first["received_on"], first["due_on"]) == (dt.date(2023, 5, 15), dt.date(2023, 5, 16))


def test_bad_xlsx_lists_sheet_rows(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    _xlsx(path, [
        HEADER,
        ["H56.22-230515-0001", "Đăng ký khai sinh", "A", None, "không rõ", None, "Đang xử lý", None],
        ["H56.22-230515-0002", None, "B", None, dt.date(2023, 5, 15), None, "Đang xử lý", None],
        ["H56.22-230515-0003", "Khai tử", "C", None, dt.date(2023, 5, 15), None, "Đang xử lý", None],
    ])
    result = run(database_url, str(path))
    assert result.exit_code == 1
    assert "bad.xlsx:3: ngày tiếp nhận 'không rõ' không phải ngày hợp lệ" in result.output
    assert "bad.xlsx:4: thiếu tên thủ tục" in result.output
    assert "bad.xlsx:5" not in result.output
    assert dossiers_by_code(database_url) == {}


def test_other_exports_are_mapped_in_the_config(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[lookup.columns]\ncode = "Số hồ sơ"\nprocedure = "Thủ tục"\napplicant = "Chủ hồ sơ"\n'
        'received = "Ngày nhận"\ndue = "Hạn xử lý"\nstatus = "Tình trạng"\n', encoding="utf-8")
    path = tmp_path / "other.csv"
    path.write_text("Số hồ sơ,Thủ tục,Chủ hồ sơ,Ngày nhận,Hạn xử lý,Tình trạng\n"
                    "H56.22-230515-0001,Khai sinh,Nguyễn Văn An,15/05/2023,16/05/2023,Đang xử lý\n",
                    encoding="utf-8")
    assert run(database_url, str(path)).exit_code == 1  # the default headers are not there
    result = run(database_url, str(path), config=config)
    assert result.exit_code == 0, result.output
    assert dossiers_by_code(database_url)[KEY]["procedure"] == "Khai sinh"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("noheader.csv", "a,b,c\n1,2,3\n", "không tìm thấy dòng tiêu đề"),
    ("ansi.csv", b"M\xe3 h\xf4 s\xf5,T\xean th\xf1 t\xfac\n", "không phải mã UTF-8"),  # Windows ANSI
    ("export.ods", b"PK", "chỉ nhận tệp .csv hoặc .xlsx"),
    ("broken.xlsx", b"not a zip", "không đọc được tệp Excel"),
])
def test_unreadable_files_are_refused(database_url: str, tmp_path: Path, name: str,
                                      content: str | bytes, message: str) -> None:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    result = run(database_url, str(path))
    assert result.exit_code == 1
    assert message in result.output


def test_dry_run_writes_nothing(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    result = run(database_url, str(path), "--dry-run")
    assert result.exit_code == 0 and "3 hồ sơ" in result.output
    assert dossiers_by_code(database_url) == {}
