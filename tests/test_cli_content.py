"""``cchc-bot content check`` and ``content list`` as an editor runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import main
from tests.packs import BAN_TIN, KET_HON, KHAI_SINH, replace_line, write_pack

PROBLEM_LINE = re.compile(r"^content/[\w./-]+:\d+: \S.*$")


def invoke(tmp_path: Path, *args: str, content: Path | None = None) -> Result:
    env = {
        "CCHC_CONFIG": None,
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/db/cchc.db",
        "CCHC_CONTENT_PATH": str(content) if content else None,
    }
    return CliRunner().invoke(main, list(args), env=env)


def broken_pack(root: Path) -> Path:
    return write_pack(
        root,
        faq={
            "khai-sinh": replace_line(KHAI_SINH, 17, "# no source"),
            "ket-hon": KET_HON + "Fax: {{ office.fax }}\n",
        },
        campaigns={"ban-tin": replace_line(BAN_TIN, 7, '  cron: "0 8 31 2 *"')},
    )


def test_check_broken_pack_fails_with_file_line_messages(tmp_path: Path) -> None:
    root = broken_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines, result.output
    assert all(PROBLEM_LINE.match(line) for line in lines), lines
    assert lines[0] == "content/campaigns/ban-tin.md:7: lịch cron '0 8 31 2 *' không bao giờ xảy ra"
    assert "content/faq/khai-sinh.md:2: thiếu trường 'source'" in lines
    fax = "content/faq/ket-hon.md:17: biến '{{ office.fax }}'"
    assert any(line.startswith(fax) for line in lines)
    assert "Có 3 lỗi" in result.stderr


def test_check_valid_pack_succeeds(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Nội dung hợp lệ: 2 câu hỏi, 1 chiến dịch, 0 cuộc thi, 0 cảnh báo." in result.stderr


def test_check_names_a_broken_contest_file_with_its_line(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content")
    (root / "contests").mkdir()
    (root / "contests" / "thi.yaml").write_text(
        "id: thi\ntitle: Thi\norganiser: UBND xã\nstarts: 2027-01-01 07:00\nends: 2027-01-31 17:00\n"
        "rules: Một lượt.\nquestions:\n  - text: Hỏi?\n    choices: [Có, Không]\n    answer: 3\n",
        encoding="utf-8")
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "content/contests/thi.yaml:8: trường 'questions.0': đáp án 3 vượt quá số lựa chọn (2)"]
    assert "lỗi trong tệp cuộc thi" in result.stderr


def test_check_prints_warnings_but_succeeds(tmp_path: Path) -> None:
    five_aliases = KET_HON.replace("  - giấy chứng nhận kết hôn\n", "")
    root = write_pack(tmp_path / "content", faq={"khai-sinh": KHAI_SINH, "ket-hon": five_aliases})
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "content/faq/ket-hon.md:4: cảnh báo: chỉ có 5 cách hỏi khác (aliases), nên có ít nhất 6"
    ]


def test_check_without_path_uses_configured_content(tmp_path: Path) -> None:
    root = broken_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "check", content=root)
    assert result.exit_code == 1
    assert "content/faq/khai-sinh.md:2: thiếu trường 'source'" in result.stdout.splitlines()


def test_check_with_bad_configuration_names_the_key(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content")
    result = CliRunner().invoke(
        main, ["content", "check", str(root)], env={"CCHC_CONFIG": None, "CCHC_SERVER_PORT": "abc"}
    )
    assert result.exit_code != 0
    assert "server.port" in result.output


def test_list_json_prints_the_entries(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "list", "--json", content=root)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert sorted(item["id"] for item in items) == ["ket-hon", "khai-sinh"]
    khai_sinh = next(item for item in items if item["id"] == "khai-sinh")
    assert khai_sinh["title"] == "Đăng ký khai sinh cần giấy tờ gì?"
    assert khai_sinh["category"] == "ho-tich"
    assert khai_sinh["updated"] == "2026-11-01"
    assert khai_sinh["path"] == "content/faq/khai-sinh.md"
    assert len(khai_sinh["aliases"]) == 6


def test_list_groups_entries_by_category(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "list", content=root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Hộ tịch (2)"
    assert {line.split()[0] for line in lines[1:3]} == {"khai-sinh", "ket-hon"}
    assert lines[3] == "Liên hệ (0)"


def test_list_refuses_broken_content(tmp_path: Path) -> None:
    root = broken_pack(tmp_path / "content")
    result = invoke(tmp_path, "content", "list", "--json", content=root)
    assert result.exit_code != 0
    assert "content/faq/khai-sinh.md:2: thiếu trường 'source'" in result.output


INVITE = BAN_TIN.replace("id: ban-tin", "id: moi-du-thi").replace("schedule:", "contest: hoi-thi-xa\nschedule:")


def test_a_campaign_pointing_to_a_missing_contest_is_refused_with_its_line(tmp_path: Path) -> None:
    from tests.contest_support import CONTEST

    root = write_pack(tmp_path / "content", campaigns={"moi-du-thi": INVITE})
    result = invoke(tmp_path, "content", "check", str(root))
    assert result.exit_code == 1
    line = INVITE.splitlines().index("contest: hoi-thi-xa") + 1
    assert result.stdout.splitlines() == [
        f"content/campaigns/moi-du-thi.md:{line}: cuộc thi 'hoi-thi-xa' không có tệp contests/hoi-thi-xa.yaml"]
    (root / "contests").mkdir()
    (root / "contests" / "hoi-thi-xa.yaml").write_text(CONTEST, encoding="utf-8")
    assert invoke(tmp_path, "content", "check", str(root)).exit_code == 0
