"""Small content packs written into tmp_path, for the loader, store, campaign and CLI tests.

Files are written verbatim so the tests can name exact lines. The line numbers of the
standard files are listed next to them; tests that need a broken file usually replace one
line of a standard file.
"""

from __future__ import annotations

from pathlib import Path

CATEGORIES = """\
- id: ho-tich
  title: Hộ tịch
- id: lien-he
  title: Liên hệ
"""

TOPICS = """\
- id: thong-bao-chung
  title: Thông báo chung
  default: true
- id: cuoc-thi
  title: Cuộc thi
"""

LEXICON = """\
abbreviations:
  dk: [đăng ký, điều kiện]
  cccd: [căn cước công dân]
synonyms:
  sổ đỏ: [giấy chứng nhận quyền sử dụng đất]
"""

# Line numbers:   1 ---, 2 id, 3 title, 4 aliases:, 5-10 aliases, 11 category, 12 related:,
# 13 related item, 14 links:, 15 label, 16 url, 17 source, 18 updated, 19 procedure:,
# 20 online, 21 fees:, 22 case, 23 amount, 24 ---, 25 body.
KHAI_SINH = """\
---
id: khai-sinh
title: Đăng ký khai sinh cần giấy tờ gì?
aliases:
  - làm giấy khai sinh cho con
  - thủ tục đăng ký khai sinh
  - con mới sinh làm giấy tờ gì
  - khai sinh cho bé cần mang gì
  - hồ sơ khai sinh gồm những gì
  - dk khai sinh o dau
category: ho-tich
related:
  - ket-hon
links:
  - label: Cổng Dịch vụ công quốc gia
    url: https://dichvucong.gov.vn
source: Luật Hộ tịch 2014
updated: 2026-11-01
procedure:
  online: full
  fees:
    - case: Đăng ký khai sinh đúng hạn
      amount: 0
---
Dạ, Anh/Chị mang Giấy chứng sinh và giấy tờ tùy thân tới {{ office.name }}.
Xem thêm [Cổng Dịch vụ công](https://dichvucong.gov.vn).
"""

# Line numbers: 1 ---, 2 id, 3 title, 4 aliases:, 5-10 aliases, 11 category, 12 related,
# 13 source, 14 updated, 15 ---, 16 body.
KET_HON = """\
---
id: ket-hon
title: Đăng ký kết hôn làm thế nào?
aliases:
  - thủ tục đăng ký kết hôn
  - đăng ký kết hôn cần giấy tờ gì
  - làm giấy đăng ký kết hôn ở đâu
  - dk ket hon
  - cưới xong làm giấy tờ gì
  - giấy chứng nhận kết hôn
category: ho-tich
related: [khai-sinh]
source: Luật Hộ tịch 2014
updated: 2026-11-01
---
Dạ, hai bên nam, nữ cùng có mặt tại {{ office.name }}, mang giấy tờ tùy thân.
"""

# Line numbers: 1 ---, 2 id, 3 title, 4 topic, 5 channels, 6 schedule:, 7 cron, 8 source,
# 9 ---, 10 body.
BAN_TIN = """\
---
id: ban-tin
title: Bản tin cải cách hành chính
topic: thong-bao-chung
channels: [telegram, zalo, web]
schedule:
  cron: "0 8 1,15 * *"
source: Kế hoạch tuyên truyền CCHC
---
📢 Bản tin cải cách hành chính của {{ office.name }}.
"""

# A dates-list campaign whose dates are long past.
CUOC_THI = """\
---
id: cuoc-thi-2020
title: Cuộc thi tìm hiểu CCHC 2020
topic: cuoc-thi
channels: [telegram]
schedule:
  dates: ["2020-05-10 08:00"]
source: Kế hoạch cuộc thi
---
Dạ, cuộc thi đã kết thúc.
"""


def write_pack(
    root: Path,
    faq: dict[str, str] | None = None,
    campaigns: dict[str, str] | None = None,
    *,
    categories: str = CATEGORIES,
    topics: str = TOPICS,
    lexicon: str | None = LEXICON,
) -> Path:
    """Write a content pack under ``root`` (created) and return ``root``.

    ``faq`` and ``campaigns`` map file names without ``.md`` to file text; by default the
    pack holds the two FAQ entries and the one cron campaign above, and is valid.
    """
    faq = {"khai-sinh": KHAI_SINH, "ket-hon": KET_HON} if faq is None else faq
    campaigns = {"ban-tin": BAN_TIN} if campaigns is None else campaigns
    (root / "faq").mkdir(parents=True, exist_ok=True)
    (root / "campaigns").mkdir(parents=True, exist_ok=True)
    (root / "categories.yaml").write_text(categories, encoding="utf-8")
    (root / "topics.yaml").write_text(topics, encoding="utf-8")
    if lexicon is not None:
        (root / "lexicon.yaml").write_text(lexicon, encoding="utf-8")
    for name, text in faq.items():
        (root / "faq" / f"{name}.md").write_text(text, encoding="utf-8")
    for name, text in campaigns.items():
        (root / "campaigns" / f"{name}.md").write_text(text, encoding="utf-8")
    return root


def replace_line(text: str, line: int, new: str) -> str:
    """``text`` with its 1-based ``line`` replaced by ``new`` (which may hold several lines)."""
    lines = text.splitlines()
    assert 1 <= line <= len(lines), line
    lines[line - 1] = new
    return "\n".join(lines) + "\n"
