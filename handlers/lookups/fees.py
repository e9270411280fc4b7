"""Fee questions: which procedure, what it costs (from the entries' structured ``fees``), how to pay.

A question is a fee question when it asks what something costs ("phí khai sinh", "chứng thực
hết bao nhiêu tiền", "có tốn tiền không"), with or without diacritics, and not when it is about
paying ("thanh toán bằng momo") or about money the citizen receives ("trợ cấp bao nhiêu tiền").

The procedure is found by the general matcher when it is sure (so the general FAQ keeps its
quality); otherwise by a second Matcher over only the entries that carry fees, built once per
content snapshot.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from bot import text as vtext
from bot.content import template
from bot.content.model import FaqEntry, Fee, OnlineLevel
from bot.content.store import Snapshot
from bot.matching import Candidate, Matcher

PAYMENT_ENTRY = "thanh-toan-truc-tuyen"

# On the diacritic-free key (bot.text.strip_key): "phí", "lệ phí", "miễn phí", "chi phí"...
_FEE_WORD = re.compile(r"\b(?:le phi|phi|fee|fees|price|cost|free)\b")
# ...but not when "phí" is part of a name: "mai táng phí" is a benefit, "học phí" another domain.
_FEE_NAME = re.compile(r"\b(?:mai tang phi|hoc phi|vien phi|phi cong|phi loi nhuan)\b")
_HOW_MUCH = r"(?:bao nhieu|bn|bnhieu|bao nhiu|may)"
_AMOUNT = re.compile(
    rf"\b(?:{_HOW_MUCH} (?:tien|dong|k|nghin|ngan|xu)|(?:mat|het|ton|tra|dong|nop|thu|tinh) tien"
    r"|(?:mat|het|ton|nop|dong|thu|tinh) (?:bao nhieu|bn|bnhieu|bao nhiu)"
    r"(?! (?:ngay|lau|thoi gian|tieng|gio|tuan|thang|nam|buoi|phut|lan|ban|trang|giay|nguoi|to|m2|met))"
    r"|gia (?:bao nhieu|bn|tien|ca)|bang gia|ton kem|co ton|ton phi)\b"
)
# Money the citizen receives, refunds, interest: not a fee question.
_RECEIVING = re.compile(
    r"\b(?:tro cap|ho tro|huong|mai tang|nhan duoc|duoc nhan|duoc bao nhieu|luong|hoan tien|hoan lai"
    r"|lai suat|tien thuong|boi thuong|den bu)\b"
)
# How to pay, payment errors, receipts: the payment entries answer these.
_PAYING = re.compile(
    r"\b(?:thanh toan|chuyen khoan|ck|momo|vnpay|zalopay|vi dien tu|ngan hang|atm|the atm"
    r"|quet the|chuyen tien|bien lai|chung tu|hoa don|payment|pay|tru tien|bi tru|bi loi|bao loi"
    r"|loi giao dich)\b"
)
_ASKS_AMOUNT = re.compile(r"\b(?:bao nhieu|bn|bnhieu|bao nhiu|mien phi|mat tien|het tien|co mat|free)\b")
# Words that say "how much" rather than "what": dropped before the fee-only matcher retries.
_FEE_FILLER = {
    "le", "phi", "chi", "bao", "nhieu", "nhiu", "bn", "bnhieu", "tien", "mat", "het", "ton", "gia",
    "nop", "dong", "co", "khong", "ko", "k", "mien", "may", "cuoc", "thu", "tinh", "la", "vay", "a",
    "ah", "nhe", "the", "nao", "hoi", "cho", "em", "minh", "toi", "anh", "oi",
}


def is_fee_question(text: str) -> bool:
    """Does the message ask what something costs?"""
    key = vtext.strip_key(text)
    if not key:
        return False
    words = set(vtext.normalize(text).split())
    asks = bool(_FEE_WORD.search(key) and not _FEE_NAME.search(key)) or bool(_AMOUNT.search(key))
    # With diacritics, "tốn" and "giá" are unambiguous ("giá trị" is not a price).
    asks = asks or "tốn" in words or ("giá" in words and "giá trị" not in vtext.normalize(text))
    if not asks or _RECEIVING.search(key):
        return False
    return not (_PAYING.search(key) and not _ASKS_AMOUNT.search(key))


def format_amount(amount: int) -> str:
    """Vietnamese style: 2.000 đồng; 0 is "Miễn phí"."""
    if amount == 0:
        return "Miễn phí"
    return f"{amount:,}".replace(",", ".") + " đồng"


def has_fees(entry: FaqEntry) -> bool:
    return entry.procedure is not None and bool(entry.procedure.fees)


# --- the fee-only matcher, one per content snapshot -------------------------------------------

# Weak references: a snapshot replaced by a reload is freed once no message is still using it,
# instead of staying alive here (tens of MB with a large content pack).
_cache: list[tuple[weakref.ref[Snapshot], Matcher]] = []
_cache_lock = threading.Lock()
_CACHE_SIZE = 4  # a reload makes a new snapshot; the old one may still be answering a message


def fee_matcher(snapshot: Snapshot) -> Matcher:
    """A Matcher over the snapshot's entries that have fees, built once per snapshot."""
    with _cache_lock:
        for cached, matcher in _cache:
            if cached() is snapshot:
                return matcher
    entries = [e for e in snapshot.pack.entries.values() if has_fees(e)]
    matcher = Matcher(entries, snapshot.pack.lexicon, snapshot.matcher.params)
    with _cache_lock:
        _cache[:] = [item for item in _cache if item[0]() is not None]
        _cache.insert(0, (weakref.ref(snapshot), matcher))
        del _cache[_CACHE_SIZE:]
    return matcher


@dataclass(frozen=True)
class FeeDecision:
    outcome: str  # "fee" (one entry) | "fee_clarify" (choices)
    entry_id: str | None
    candidates: tuple[Candidate, ...]


def _subject(text: str) -> str:
    """The question without its "how much" words: "le phi ket hon bao nhieu" -> "ket hon"."""
    return " ".join(t for t in vtext.tokens(text) if t not in _FEE_FILLER)


def _about_something_with_fees(matcher: Matcher, subject: str) -> bool:
    """Does the question's subject (without its "how much" words) match any entry with fees?"""
    return not subject or matcher.match(subject).outcome != "not_sure"


def find_procedure(snapshot: Snapshot, text: str) -> FeeDecision | None:
    """The entry whose fees answer ``text`` (any text: a /phi argument), choices, or None."""
    matcher = fee_matcher(snapshot)
    subject = _subject(text)
    if not _about_something_with_fees(matcher, subject):
        return None  # "đổi bằng lái xe hết bao nhiêu": no fee data is about that
    attempts = [matcher.match(text)]
    if subject and subject != vtext.strip_key(text):
        attempts.append(matcher.match(subject))
    for match in attempts:
        if match.outcome == "answer" and match.best is not None:
            # The subject alone ("khai sinh") names a family; the whole question's first choice
            # in it (its fee entry, khai-sinh-le-phi) answers.
            first = attempts[0].best
            if first is not None and any(c.id == first.id for c in match.related):
                return FeeDecision("fee", first.id, match.candidates)
            return FeeDecision("fee", match.best.id, match.candidates)
    for match in reversed(attempts):  # choices: what the question is about first
        if match.outcome == "clarify":
            return FeeDecision("fee_clarify", None, match.candidates)
    return None


def decide(snapshot: Snapshot, text: str) -> FeeDecision | None:
    """How a free-text message is answered as a fee question, or None when it is not one.

    When the general matcher is sure, its entry decides: with fees, the fee answer from it;
    without (how to pay online, postal service fees...), the general answer (None here).
    """
    if not is_fee_question(text):
        return None
    general = snapshot.matcher.match(text)
    if general.outcome == "answer" and general.best is not None:
        entry = snapshot.pack.entries.get(general.best.id)
        if entry is None or not has_fees(entry):
            return None
        subject = _subject(text)
        if not subject:
            return FeeDecision("fee", entry.id, general.candidates)
        by_subject = fee_matcher(snapshot).match(subject)
        if by_subject.outcome == "not_sure":
            return None
        if (by_subject.outcome == "answer" and by_subject.best is not None
                and entry.id not in {c.id for c in (*by_subject.candidates, *by_subject.related)}):
            # "tạm trú hết bao nhiêu tiền": the "how much" words drew the general matcher to
            # another procedure's fee entry (not a sibling's); what the question is about decides.
            return FeeDecision("fee", by_subject.best.id, by_subject.candidates)
        return FeeDecision("fee", entry.id, general.candidates)
    if general.outcome == "clarify" and general.best is not None:
        entry = snapshot.pack.entries.get(general.best.id)
        if entry is not None and not has_fees(entry):
            return None  # "làm căn cước bao nhiêu tiền": the general choices fit better
    if _PAYING.search(vtext.strip_key(text)):
        return None  # "chuyển tiền lệ phí rồi mà chưa cập nhật": a payment question
    return find_procedure(snapshot, text)


# --- the answer ------------------------------------------------------------------------------


def _fee_line(fee: Fee, values: Mapping[str, str]) -> str:
    note = template.render(fee.note, values).strip()
    amount = format_amount(fee.amount)
    if fee.amount == 0:
        if not note or re.match(r"(?i)^(miễn|không thu)", note):
            rest = note[note.find("("):] if "(" in note else ""
            return f"- {fee.case}: **{amount}** {rest}".rstrip()
        return f"- {fee.case}: **{amount}** ({note})"
    if note.startswith(amount):
        return f"- {fee.case}: **{amount}**{note[len(amount):]}"
    return f"- {fee.case}: **{amount}**" + (f" ({note})" if note else "")


def fee_text(entry: FaqEntry, values: Mapping[str, str], hotline: str, portal: str) -> str:
    """The fee answer: cases and amounts, how to pay, when checked, where to confirm."""
    procedure = entry.procedure
    assert procedure is not None
    lines = ["Dạ, mức phí, lệ phí theo mục:", f"**{entry.title}**", ""]
    lines += [_fee_line(fee, values) for fee in procedure.fees]
    if procedure.online is OnlineLevel.FULL:
        lines.append("- Thủ tục này nộp trực tuyến toàn trình được trên Cổng Dịch vụ công.")
    elif procedure.online is OnlineLevel.PARTIAL:
        lines.append("- Một phần thủ tục làm trực tuyến được trên Cổng Dịch vụ công.")
    if any(fee.amount > 0 for fee in procedure.fees):
        lines += [
            "",
            "**Cách nộp tiền:**",
            "- Trực tuyến: bấm **Thanh toán** trong hồ sơ trên Cổng Dịch vụ công;",
            "- Tại Bộ phận Một cửa khi nộp hồ sơ hoặc nhận kết quả;",
            "- Qua bưu điện (dịch vụ bưu chính công ích) nếu gửi hồ sơ qua bưu điện.",
            "Mọi khoản thu đều có biên lai; không chuyển tiền vào tài khoản cá nhân.",
        ]
    code = f" (mã {procedure.code})" if procedure.code else ""
    lines += [
        "",
        (f"_Mức thu kiểm tra ngày {entry.updated:%d/%m/%Y}. Trước khi nộp, Anh/Chị xem lại trang "
         f"thủ tục{code} trên {portal} hoặc gọi {hotline}._"),
    ]
    return "\n".join(lines)
