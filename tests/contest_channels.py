"""The contest the channels' end-to-end tests take: details collected with consent (name,
village, phone), a prediction, and a question with six choices, one more than Zalo's buttons
(its right answer is the sixth: typed as a number on Zalo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_conversation import FIXTURE

CONTEST_ID = "kenh"
CONTEST = """\
id: kenh
title: Cuộc thi tìm hiểu CCHC qua các kênh
organiser: UBND xã Thử Nghiệm
starts: 2026-12-10 07:00:00
ends: 2026-12-20 17:00:00
rules: |
  Mỗi người dự thi một lần, trên bất kỳ kênh nào.
time_limit_minutes: 30
collect: [full_name, village, phone]
predict_question: Theo Anh/Chị, bao nhiêu người sẽ trả lời đúng cả 3 câu?
questions:
  - text: Khai sinh cho con trong bao lâu kể từ ngày sinh?
    choices: [15 ngày, 60 ngày]
    answer: 2
    explanation: Cha mẹ đăng ký khai sinh trong 60 ngày kể từ ngày sinh.
    source: Luật Hộ tịch 2014
  - text: Dịch vụ công trực tuyến toàn trình nộp ở đâu?
    choices: [Bưu điện, Nhà văn hóa thôn, Trụ sở công an, Ngân hàng, Chợ xã, Cổng Dịch vụ công quốc gia]
    answer: 6
    explanation: Hồ sơ toàn trình nộp và nhận kết quả trên Cổng Dịch vụ công quốc gia.
  - text: Khai tử trong bao lâu kể từ ngày mất?
    choices: [15 ngày, 60 ngày, 90 ngày]
    answer: 1
    explanation: Người thân đăng ký khai tử trong 15 ngày kể từ ngày mất.
"""
# What only the result may show: the explanations, and the words that mark a right answer.
SECRETS = ("Cha mẹ đăng ký khai sinh", "Hồ sơ toàn trình nộp", "Người thân đăng ký khai tử",
           "Đáp án đúng", "Luật Hộ tịch 2014")


def contest_content(tmp_path: Path) -> Path:
    """The test content with the contest file in it."""
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    (root / "contests").mkdir()
    (root / "contests" / f"{CONTEST_ID}.yaml").write_text(CONTEST, encoding="utf-8")
    return root


def leaks(received: object) -> list[str]:
    """The secrets found anywhere in what a client received (any JSON-able value)."""
    raw = json.dumps(received, ensure_ascii=False, default=str)
    return [secret for secret in SECRETS if secret in raw]
