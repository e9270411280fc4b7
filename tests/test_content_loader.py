"""Content pack loading: every problem is reported as ``path:line: message``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import BUNDLED_CONTENT, Office
from bot.content.loader import Problem, load_pack
from bot.content.model import ContentPack
from tests.packs import (
    BAN_TIN,
    CUOC_THI,
    KET_HON,
    KHAI_SINH,
    LEXICON,
    replace_line,
    write_pack,
)

VALUES = Office().template_values()


def load(root: Path, values: dict[str, str] = VALUES) -> tuple[ContentPack | None, list[str]]:
    pack, problems = load_pack(root, values)
    return pack, [str(p) for p in problems]


def errors_of(root: Path, values: dict[str, str] = VALUES) -> list[str]:
    pack, problems = load_pack(root, values)
    assert pack is None, "a pack with errors must not be usable"
    assert any(not p.warning for p in problems)
    return [str(p) for p in problems if not p.warning]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "content"


# --- the bundled content ------------------------------------------------------------------


def test_bundled_content_loads_without_errors() -> None:
    pack, problems = load_pack(BUNDLED_CONTENT, VALUES)
    errors = [str(p) for p in problems if not p.warning]
    assert errors == []
    assert pack is not None
    assert pack.entries and pack.categories and pack.topics
    assert all(e.category in {c.id for c in pack.categories} for e in pack.entries.values())
    assert all(c.topic in {t.id for t in pack.topics} for c in pack.campaigns.values())


# --- a valid pack -------------------------------------------------------------------------


def test_valid_pack_loads(root: Path) -> None:
    write_pack(root, campaigns={"ban-tin": BAN_TIN, "cuoc-thi-2020": CUOC_THI})
    pack, problems = load(root)
    assert problems == []
    assert pack is not None
    assert set(pack.entries) == {"khai-sinh", "ket-hon"}
    entry = pack.entries["khai-sinh"]
    assert entry.title == "Đăng ký khai sinh cần giấy tờ gì?"
    assert len(entry.aliases) == 6
    assert entry.related == ("ket-hon",)
    assert entry.path == "content/faq/khai-sinh.md"
    assert entry.line == 25  # first line of the body
    assert entry.procedure is not None and entry.procedure.fees[0].amount == 0
    assert entry.body.startswith("Dạ, Anh/Chị mang Giấy chứng sinh")
    assert [c.id for c in pack.categories] == ["ho-tich", "lien-he"]
    assert set(pack.campaigns) == {"ban-tin", "cuoc-thi-2020"}
    assert pack.campaigns["ban-tin"].cron == "0 8 1,15 * *"
    assert pack.campaigns["cuoc-thi-2020"].dates[0].isoformat() == "2020-05-10T08:00:00"
    assert pack.lexicon.expand(pack.lexicon.tokenize("so do")) == [
        ("giay", "chung", "nhan", "quyen", "su", "dung", "dat")
    ]


def test_warnings_only_still_give_a_pack(root: Path) -> None:
    five_aliases = KET_HON.replace("  - giấy chứng nhận kết hôn\n", "")
    write_pack(root, faq={"khai-sinh": KHAI_SINH, "ket-hon": five_aliases})
    pack, problems = load_pack(root, VALUES)
    assert pack is not None
    assert [str(p) for p in problems] == [
        (
            "content/faq/ket-hon.md:4: cảnh báo: chỉ có 5 cách hỏi khác (aliases), "
            "nên có ít nhất 6"
        )
    ]
    assert all(p.warning for p in problems)


def test_file_with_byte_order_mark_loads(root: Path) -> None:
    # Windows Notepad saves UTF-8 with a BOM; the file still starts with '---' for the editor
    write_pack(root)
    path = root / "faq" / "khai-sinh.md"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    pack, problems = load(root)
    assert problems == []
    assert pack is not None and "khai-sinh" in pack.entries


# --- FAQ front matter ---------------------------------------------------------------------


def test_missing_required_field_is_named(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": replace_line(KHAI_SINH, 17, "# source removed"),
                          "ket-hon": KET_HON})
    assert errors_of(root) == ["content/faq/khai-sinh.md:2: thiếu trường 'source'"]


def test_unknown_field(root: Path) -> None:
    text = replace_line(KHAI_SINH, 18, "updated: 2026-11-01\nnguon: Luật Hộ tịch")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:19: trường 'nguon' không được hỗ trợ (viết sai tên trường?)"
    ]


def test_misspelt_field_reports_both_the_unknown_and_the_missing_name(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": replace_line(KHAI_SINH, 11, "categroy: ho-tich"),
                          "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:2: thiếu trường 'category'",
        "content/faq/khai-sinh.md:11: trường 'categroy' không được hỗ trợ (viết sai tên trường?)",
    ]


def test_yaml_syntax_error_gives_the_line(root: Path) -> None:
    text = replace_line(KHAI_SINH, 3, "title: Khai sinh: cần giấy tờ gì?")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:3: lỗi cú pháp YAML: mapping values are not allowed here"
    ]


def test_field_written_twice_is_refused(root: Path) -> None:
    # plain YAML would silently keep only the second 'aliases' list
    text = replace_line(KHAI_SINH, 11, "category: ho-tich\naliases: [khai sinh]")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:12: lỗi cú pháp YAML: 'aliases' được viết hai lần"
    ]


def test_missing_front_matter(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": "Dạ, chỉ có câu trả lời.\n", "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:1: thiếu phần đầu '---' ... '---' (front matter YAML)"
    ]


def test_empty_body(root: Path) -> None:
    text = KHAI_SINH.split("---\n")
    write_pack(root, faq={"khai-sinh": "---\n" + text[1] + "---\n\n", "ket-hon": KET_HON})
    assert errors_of(root) == ["content/faq/khai-sinh.md:25: nội dung câu trả lời đang trống"]


def test_id_must_equal_file_name(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": replace_line(KHAI_SINH, 2, "id: dang-ky-khai-sinh"),
                          "ket-hon": KET_HON.replace("[khai-sinh]", "[]")})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:2: id 'dang-ky-khai-sinh' phải trùng tên tệp 'khai-sinh'"
    ]


def test_unknown_category(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": replace_line(KHAI_SINH, 11, "category: ho-tic"),
                          "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:11: danh mục 'ho-tic' không có trong categories.yaml"
    ]


def test_duplicate_alias_across_entries_after_removing_diacritics(root: Path) -> None:
    # ket-hon.md is read first (sorted); khai-sinh.md line 8 repeats its alias on line 8
    text = replace_line(KHAI_SINH, 8, "  - DK KẾT HÔN!")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        (
            "content/faq/khai-sinh.md:8: cách hỏi 'DK KẾT HÔN!' trùng với mục 'ket-hon' "
            "(content/faq/ket-hon.md:8)"
        )
    ]


def test_alias_equal_to_another_entrys_title(root: Path) -> None:
    text = replace_line(KHAI_SINH, 5, "  - dang ky ket hon lam the nao")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        (
            "content/faq/khai-sinh.md:5: cách hỏi 'dang ky ket hon lam the nao' trùng với mục "
            "'ket-hon' (content/faq/ket-hon.md:3)"
        )
    ]


def test_dangling_related_names_the_line_of_the_item(root: Path) -> None:
    text = replace_line(KHAI_SINH, 13, "  - ket-hon\n  - khai-tu")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        "content/faq/khai-sinh.md:14: 'related' trỏ tới mục không tồn tại: 'khai-tu'"
    ]


def test_related_pointing_to_itself(root: Path) -> None:
    write_pack(root, faq={"khai-sinh": KHAI_SINH,
                          "ket-hon": KET_HON.replace("[khai-sinh]", "[khai-sinh, ket-hon]")})
    assert errors_of(root) == ["content/faq/ket-hon.md:12: 'related' trỏ tới chính nó"]


def test_unknown_template_variable(root: Path) -> None:
    text = KHAI_SINH + "Fax: {{ office.fax }}.\n"
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].startswith(
        "content/faq/khai-sinh.md:27: biến '{{ office.fax }}' không tồn tại (có: "
    )
    assert "office.hotline" in errors[0]  # the editor is told which variables exist


def test_answer_longer_than_zalo_limit_after_rendering(root: Path) -> None:
    # the body alone is well under 2,000 characters; the filled-in address pushes it over
    body = "Dạ, " + "Anh/Chị chuẩn bị hồ sơ theo hướng dẫn. " * 36 + "\n"
    text = KET_HON.replace(
        "Dạ, hai bên nam, nữ cùng có mặt tại {{ office.name }}, mang giấy tờ tùy thân.\n",
        body + "Địa chỉ: {{ office.address }}\n",
    )
    assert len(text.split("---\n")[2]) < 1_600
    write_pack(root, faq={"khai-sinh": KHAI_SINH, "ket-hon": text})
    pack, problems = load(root)
    assert problems == []  # fits with the default address
    assert pack is not None

    long_address = dict(VALUES, **{"office.address": "Thôn Đông, " * 60})
    errors = errors_of(root, long_address)
    assert len(errors) == 1
    match = re.fullmatch(
        r"content/faq/ket-hon\.md:16: tin nhắn dài (\d+) ký tự sau khi điền biến, "
        r"vượt giới hạn 2000 của Zalo",
        errors[0],
    )
    assert match, errors[0]
    assert int(match.group(1)) > 2_000


def test_malformed_url_in_links(root: Path) -> None:
    text = replace_line(KHAI_SINH, 16, "    url: dichvucong.gov.vn")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [
        (
            "content/faq/khai-sinh.md:16: trường 'links.0.url': Value error, "
            "không phải địa chỉ http(s) hợp lệ: 'dichvucong.gov.vn'"
        )
    ]


@pytest.mark.parametrize(
    "link",
    [
        "[Cổng Dịch vụ công](dichvucong.gov.vn)",
        "[Cổng Dịch vụ công](htps://dichvucong.gov.vn)",
        "[Cổng Dịch vụ công](https://dichvu cong.gov.vn)",
        "[Cổng Dịch vụ công]()",
        "[gọi ngay](tel:0912 345 678)",
    ],
)
def test_malformed_link_in_body(root: Path, link: str) -> None:
    text = KHAI_SINH + f"Hoặc xem {link}.\n"
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    assert errors_of(root) == [f"content/faq/khai-sinh.md:27: liên kết '{link}' không hợp lệ"]


def test_valid_links_in_body(root: Path) -> None:
    text = KHAI_SINH + (
        "Gọi [18001096](tel:18001096), viết [thư](mailto:hotro@dichvucong.gov.vn), "
        "xem [cổng tỉnh]({{ office.province_portal }}).\n"
    )
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    pack, problems = load(root)
    assert problems == []
    assert pack is not None


@pytest.mark.parametrize("amount", ["50.000", '"50000"', "12.5", "-1"])
def test_fee_amount_must_be_a_whole_number(root: Path, amount: str) -> None:
    # "50.000" is how Vietnamese write fifty thousand; YAML reads it as 50.0
    text = replace_line(KHAI_SINH, 23, f"      amount: {amount}")
    write_pack(root, faq={"khai-sinh": text, "ket-hon": KET_HON})
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].startswith("content/faq/khai-sinh.md:23: trường 'procedure.fees.0.amount': ")


# --- categories, topics ---------------------------------------------------------------------


def test_category_with_unknown_field_names_the_field_line(root: Path) -> None:
    categories = "- id: ho-tich\n  title: Hộ tịch\n- id: lien-he\n  title: Liên hệ\n  oder: 2\n"
    write_pack(root, categories=categories)
    assert errors_of(root) == [
        "content/categories.yaml:5: mục 2: trường 'oder' không được hỗ trợ (viết sai tên trường?)"
    ]


def test_category_missing_title_names_the_item(root: Path) -> None:
    categories = "- id: ho-tich\n  title: Hộ tịch\n- id: lien-he\n"
    write_pack(root, categories=categories)
    assert errors_of(root) == ["content/categories.yaml:3: mục 2: thiếu trường 'title'"]


def test_missing_topics_file(root: Path) -> None:
    write_pack(root, campaigns={})
    (root / "topics.yaml").unlink()
    assert errors_of(root) == ["content/topics.yaml:1: thiếu tệp"]


# --- campaigns ----------------------------------------------------------------------------


@pytest.mark.parametrize("cron", ["0 8 * *", "0 25 * * *", "mỗi sáng thứ hai", "0 8 * * 9"])
def test_campaign_with_bad_cron(root: Path, cron: str) -> None:
    write_pack(root, campaigns={"ban-tin": replace_line(BAN_TIN, 7, f'  cron: "{cron}"')})
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].startswith(f"content/campaigns/ban-tin.md:7: lịch cron '{cron}' sai: ")


def test_campaign_with_impossible_cron(root: Path) -> None:
    write_pack(root, campaigns={"ban-tin": replace_line(BAN_TIN, 7, '  cron: "0 8 31 2 *"')})
    assert errors_of(root) == [
        "content/campaigns/ban-tin.md:7: lịch cron '0 8 31 2 *' không bao giờ xảy ra"
    ]


def test_campaign_with_unknown_topic(root: Path) -> None:
    write_pack(root, campaigns={"ban-tin": replace_line(BAN_TIN, 4, "topic: tin-tuc")})
    assert errors_of(root) == [
        "content/campaigns/ban-tin.md:4: chủ đề 'tin-tuc' không có trong topics.yaml"
    ]


def test_campaign_needs_exactly_one_schedule(root: Path) -> None:
    both = replace_line(BAN_TIN, 7, '  cron: "0 8 1 * *"\n  dates: ["2027-01-01 08:00"]')
    write_pack(root, campaigns={"ban-tin": both})
    assert errors_of(root) == [
        "content/campaigns/ban-tin.md:6: 'schedule' phải có đúng một trong 'cron' hoặc 'dates'"
    ]


def test_campaign_with_unknown_channel(root: Path) -> None:
    write_pack(root, campaigns={"ban-tin": replace_line(BAN_TIN, 5, "channels: [telegram, sms]")})
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].startswith("content/campaigns/ban-tin.md:5: trường 'channels.1': ")


def test_campaign_end_before_start(root: Path) -> None:
    text = replace_line(BAN_TIN, 8, "source: Kế hoạch\nstart: 2027-05-10\nend: 2027-05-01")
    write_pack(root, campaigns={"ban-tin": text})
    assert errors_of(root) == ["content/campaigns/ban-tin.md:10: 'end' đứng trước 'start'"]


def test_campaign_body_is_checked_like_an_answer(root: Path) -> None:
    write_pack(root, campaigns={"ban-tin": BAN_TIN + "Fax {{ office.fax }}\n"})
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].startswith("content/campaigns/ban-tin.md:11: biến '{{ office.fax }}'")


# --- lexicon ------------------------------------------------------------------------------


def test_lexicon_key_duplicated_after_removing_diacritics(root: Path) -> None:
    lexicon = (
        "abbreviations:\n  dk: [đăng ký]\n  đk: [điều kiện]\n"
        "synonyms:\n  sổ đỏ: [a]\n  so do: [b]\n"
    )
    write_pack(root, lexicon=lexicon)
    assert errors_of(root) == [
        "content/lexicon.yaml:3: 'đk' trùng với dòng 2 (không dấu)",
        "content/lexicon.yaml:6: 'so do' trùng với dòng 5 (không dấu)",
    ]


def test_lexicon_key_written_twice(root: Path) -> None:
    # plain YAML would silently drop the first 'dk' and its meaning
    lexicon = "abbreviations:\n  dk: [đăng ký]\n  cccd: [căn cước]\n  dk: [điều kiện]\n"
    write_pack(root, lexicon=lexicon)
    assert errors_of(root) == ["content/lexicon.yaml:4: lỗi cú pháp YAML: 'dk' được viết hai lần"]


def test_lexicon_abbreviation_must_be_one_word(root: Path) -> None:
    write_pack(root, lexicon=LEXICON.replace("  cccd:", "  c c c d:"))
    assert errors_of(root) == ["content/lexicon.yaml:3: 'c c c d': từ viết tắt phải là một từ"]


def test_lexicon_unknown_section(root: Path) -> None:
    write_pack(root, lexicon=LEXICON + "teencode:\n  ko: [không]\n")
    assert errors_of(root) == ["content/lexicon.yaml:6: mục 'teencode' không được hỗ trợ"]


# --- several problems at once -------------------------------------------------------------


def test_broken_entry_is_not_also_reported_as_missing_from_related(root: Path) -> None:
    # ket-hon lists khai-sinh in 'related'; khai-sinh's file is broken, not missing, so the
    # editor is told about khai-sinh.md only, not sent looking for a missing entry
    write_pack(root, faq={"khai-sinh": replace_line(KHAI_SINH, 17, "# no source"),
                          "ket-hon": KET_HON.replace("[khai-sinh]", "[khai-sinh, khai-tu]")})
    assert errors_of(root) == [
        "content/faq/ket-hon.md:12: 'related' trỏ tới mục không tồn tại: 'khai-tu'",
        "content/faq/khai-sinh.md:2: thiếu trường 'source'",
    ]


def test_every_problem_is_reported_sorted(root: Path) -> None:
    write_pack(
        root,
        faq={
            "khai-sinh": replace_line(KHAI_SINH, 17, "# no source"),
            "ket-hon": KET_HON + "{{ office.fax }}\n",
        },
        campaigns={"ban-tin": replace_line(BAN_TIN, 4, "topic: tin-tuc")},
    )
    pack, problems = load_pack(root, VALUES)
    assert pack is None
    assert [(p.path, p.line) for p in problems] == [
        ("content/campaigns/ban-tin.md", 4),  # unknown topic
        ("content/faq/ket-hon.md", 17),  # unknown variable
        ("content/faq/khai-sinh.md", 2),  # missing source
    ]


def test_problem_string_form() -> None:
    assert str(Problem("content/faq/a.md", 3, "lỗi")) == "content/faq/a.md:3: lỗi"
    assert str(Problem("content/faq/a.md", 3, "ít", warning=True)) == (
        "content/faq/a.md:3: cảnh báo: ít"
    )



def test_an_entry_gives_back_what_its_file_says() -> None:
    """Entries keep their cold text compressed: it reads back unchanged."""
    pack, _ = load_pack(BUNDLED_CONTENT, Office().template_values())
    assert pack is not None
    for entry in pack.entries.values():
        text = (BUNDLED_CONTENT / "faq" / f"{entry.id}.md").read_text(encoding="utf-8-sig")
        head, body = text.removeprefix("---\n").split("\n---\n", 1)
        front = yaml.safe_load(head)
        assert entry.body == body.strip()
        assert entry.questions == (front["title"], *front["aliases"])
        assert entry.tags == tuple(front.get("tags", ()))
        assert entry.source == front["source"]
        assert [(link.label, link.url) for link in entry.links] == [
            (link["label"], link["url"]) for link in front.get("links", ())]
        procedure = front.get("procedure")
        if procedure is None:
            assert entry.procedure is None
            continue
        assert entry.procedure is not None
        assert (entry.procedure.code, entry.procedure.where, entry.procedure.processing_time) == (
            procedure.get("code"), procedure.get("where"), procedure.get("processing_time"))
        assert entry.procedure.online == procedure.get("online")
        assert [(f.case, f.amount, f.note) for f in entry.procedure.fees] == [
            (f["case"], f["amount"], f.get("note", "")) for f in procedure.get("fees", ())]
