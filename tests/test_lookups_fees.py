"""Fee questions: detection, the procedure, the answer built from the entries' structured fees."""

from __future__ import annotations

import gc
import json
import weakref

import pytest
from click.testing import CliRunner

from bot import intents
from bot.app import BotApp
from bot.cli import main
from bot.config import BUNDLED_CONTENT, Office
from bot.content.store import ContentStore
from bot.evaluation import load_eval_set, score
from handlers.lookups import fees
from bot.matching import MatchParams
from bot.storage.models import QuestionLog
from tests.lookups_support import payloads, rows, say, text_of
from tests.test_eval import FLOOR


@pytest.fixture(scope="module")
def snapshot():
    store = ContentStore(BUNDLED_CONTENT, Office().template_values(), MatchParams())
    store.load()
    return store.current


@pytest.mark.parametrize(("amount", "text"), [
    (0, "Miễn phí"), (1000, "1.000 đồng"), (2000, "2.000 đồng"), (200000, "200.000 đồng"),
    (1234567, "1.234.567 đồng"), (500, "500 đồng"),
])
def test_amounts_are_written_the_vietnamese_way(amount: int, text: str) -> None:
    assert fees.format_amount(amount) == text


@pytest.mark.parametrize("question", [
    "phí khai sinh", "phi khai sinh", "lệ phí chứng thực bao nhiêu", "le phi chung thuc bao nhieu",
    "làm giấy khai sinh hết bao nhiêu tiền", "lam giay khai sinh mat bao nhieu tien",
    "đăng ký tạm trú có tốn tiền không", "thường trú tốn bao nhiêu", "chứng thực chữ ký giá bao nhiêu",
    "khai sinh có mất tiền không", "dang ky ket hon co mien phi khong", "ks bn tiền v ạ",
    "chi phí tách hộ", "tach ho nop bao nhieu",
])
def test_fee_questions_are_recognised(question: str) -> None:
    assert fees.is_fee_question(question)


@pytest.mark.parametrize("question", [
    "làm giấy khai sinh cần gì", "gia han tam tru", "gia hạn tạm trú hết hạn",  # gia = "gia hạn"
    "khai tử mất bao lâu", "mat bao nhieu ngay thi co ket qua",  # time, not money
    "trợ cấp xã hội hằng tháng bao nhiêu tiền", "hỗ trợ mai táng phí", "xin mai tang phi",
    "biên lai điện tử có giá trị như biên lai giấy không",  # "giá trị" is not a price
    "thanh toán lệ phí bằng momo được không", "tra phi ho so bang vnpay duoc khong",  # paying
    "số điện thoại ủy ban là bao nhiêu", "diện tích tối thiểu tách thửa là bao nhiêu",
    "lam can cuoc o dau",
])
def test_other_questions_are_not_fee_questions(question: str) -> None:
    assert not fees.is_fee_question(question)


@pytest.mark.parametrize(("question", "entry_id"), [
    ("phí khai sinh", "khai-sinh-le-phi"),
    ("lệ phí khai sinh", "khai-sinh-le-phi"),
    ("phi ket hon", "ket-hon"),
    ("tạm trú hết bao nhiêu tiền", "tam-tru"),  # the general matcher alone says khai-sinh-le-phi
    ("chứng thực chữ ký giá bao nhiêu", "chung-thuc-chu-ky"),
    ("tach ho co mat phi khong", "tach-ho"),
    ("xin giấy xác nhận cư trú có mất tiền không", "xac-nhan-cu-tru"),
    ("cấp bản sao giấy khai sinh bao nhiêu tiền", "trich-luc-ho-tich"),
])
def test_the_procedure_is_found(snapshot, question: str, entry_id: str) -> None:
    decision = fees.decide(snapshot, question)
    assert decision is not None and decision.outcome == "fee", decision
    assert decision.entry_id == entry_id


def test_unsure_offers_choices_among_procedures_with_fees(snapshot) -> None:
    decision = fees.decide(snapshot, "lệ phí chứng thực bao nhiêu")
    assert decision is not None and decision.outcome == "fee_clarify"
    ids = [c.id for c in decision.candidates]
    assert "chung-thuc-ban-sao" in ids and "chung-thuc-chu-ky" in ids
    assert all(fees.has_fees(snapshot.pack.entries[i]) for i in ids)


@pytest.mark.parametrize("question", [
    "đổi bằng lái xe hết bao nhiêu tiền",  # no fee data about it: the general FAQ decides
    "thanh toán lệ phí online bằng thẻ ATM",  # how to pay: the payment entries answer
    "chuyen tien le phi roi ma khong cap nhat",
    "bán cho tôi một chiếc xe máy cũ giá rẻ",
])
def test_fee_words_alone_do_not_force_a_fee_answer(snapshot, question: str) -> None:
    assert fees.decide(snapshot, question) is None


def test_the_fee_matcher_is_built_once_per_snapshot(snapshot) -> None:
    assert fees.fee_matcher(snapshot) is fees.fee_matcher(snapshot)
    store = ContentStore(BUNDLED_CONTENT, Office().template_values(), MatchParams())
    store.load()
    assert fees.fee_matcher(store.current) is not fees.fee_matcher(snapshot)
    assert {e.id for e in fees.fee_matcher(snapshot).entries} == {
        e.id for e in snapshot.pack.entries.values() if e.procedure and e.procedure.fees}


def test_a_replaced_snapshot_is_not_kept_alive_by_the_fee_matcher_cache() -> None:
    """After a reload the old snapshot (the whole pack and its index) must be freed."""
    store = ContentStore(BUNDLED_CONTENT, Office().template_values(), MatchParams())
    store.load()
    fees.fee_matcher(store.current)
    gone = weakref.ref(store.current)
    store.reload(force=True)  # a new snapshot replaces the one the fee matcher was built for
    gc.collect()
    assert gone() is None


def test_the_general_faq_keeps_its_quality_floor_with_fee_routing(snapshot) -> None:
    """The eval set through the same decision the text handler makes (fees first, then FAQ)."""

    def with_fees(query: str) -> tuple[str, list[str]]:
        if intents.detect(query) is not None:
            return "intent", []
        decision = fees.decide(snapshot, query)
        if decision is not None:
            if decision.outcome == "fee":
                return "answer", [decision.entry_id]
            return "clarify", [c.id for c in decision.candidates]
        match = snapshot.matcher.match(query)
        return match.outcome, [c.id for c in match.candidates]

    def matcher_only(query: str) -> tuple[str, list[str]]:
        if intents.detect(query) is not None:
            return "intent", []
        match = snapshot.matcher.match(query)
        return match.outcome, [c.id for c in match.candidates]

    evalset = load_eval_set()
    routed, plain = score(with_fees, evalset), score(matcher_only, evalset)
    summary = routed.summary()
    assert summary["correct_among_answered"] >= FLOOR["correct_among_answered"], routed.wrong
    assert summary["wrong_share_of_in_scope"] <= FLOOR["wrong_share_of_in_scope"], routed.wrong
    assert summary["answered_rate"] >= FLOOR["answered_rate"], summary
    assert summary["out_of_scope_answered"] <= FLOOR["out_of_scope_answered"]
    assert len(routed.wrong) <= len(plain.wrong), set(routed.wrong) - set(plain.wrong)
    assert routed.answered >= plain.answered


@pytest.mark.parametrize("channel", ["telegram", "zalo", "web"])
@pytest.mark.parametrize("question", ["phí khai sinh", "phi khai sinh", "Lệ phí khai sinh là bao nhiêu tiền?",
                                      "le phi khai sinh bao nhieu tien"])
async def test_a_fee_question_on_every_channel(bot: BotApp, database_url: str, channel: str,
                                               question: str) -> None:
    entry = bot.content.current.pack.entries["khai-sinh-le-phi"]
    response = await say(bot, question, channel=channel, user=f"{channel}-1")
    assert response.outcome == "fee", text_of(response)
    assert response.faq_id == "khai-sinh-le-phi"
    assert response.candidates and response.candidates[0]["id"] == "khai-sinh-le-phi"
    text = text_of(response)
    assert text.startswith("Dạ,")
    assert "Đăng ký khai sinh đúng hạn: **Miễn phí**" in text
    assert "Cấp bản sao Giấy khai sinh: **8.000 đồng**/bản" in text
    assert f"kiểm tra ngày {entry.updated:%d/%m/%Y}" in text  # when the data was last checked
    assert bot.settings.office.hotline in text and bot.settings.office.province_portal in text
    assert "**Cách nộp tiền:**" in text and "bưu điện" in text and "Thanh toán" in text
    assert "faq:thanh-toan-truc-tuyen" in payloads(response)
    assert "faq:khai-sinh-le-phi" in payloads(response)
    assert len(text) < 1200  # short enough for a phone screen
    [logged] = [r for r in rows(database_url, QuestionLog) if r["channel"] == channel]
    assert logged["outcome"] == "fee" and logged["faq_id"] == "khai-sinh-le-phi"


async def test_free_procedure_has_no_payment_section(bot: BotApp) -> None:
    response = await say(bot, "/phi ket hon")
    assert response.outcome == "fee" and response.faq_id == "ket-hon"
    text = text_of(response)
    assert "**Miễn phí**" in text
    assert "Cách nộp tiền" not in text
    assert "faq:thanh-toan-truc-tuyen" not in payloads(response)


async def test_fee_command_choices_and_buttons(bot: BotApp) -> None:
    assert (await say(bot, "/phi")).outcome == "fee_help"
    assert (await say(bot, "/phi xyzabc qwerty")).outcome == "fee_help"
    choices = await say(bot, "/phi chung thuc")
    assert choices.outcome == "fee_clarify"
    assert "fee:chung-thuc-ban-sao" in payloads(choices)
    chosen = await say(bot, payload="fee:chung-thuc-ban-sao")
    assert chosen.outcome == "fee" and chosen.faq_id == "chung-thuc-ban-sao"
    text = text_of(chosen)
    assert "Trang thứ nhất và trang thứ hai: **2.000 đồng**/trang" in text
    assert "**200.000 đồng**" in text
    assert "(mã 2.000815)" in text  # where to confirm: the procedure's page
    assert (await say(bot, payload="fee:khong-co")).outcome == "stale"


async def test_payment_and_benefit_questions_still_reach_the_faq(bot: BotApp) -> None:
    paying = await say(bot, "thanh toán lệ phí trực tuyến bằng ví điện tử được không")
    assert paying.outcome != "fee"
    benefit = await say(bot, "trợ cấp xã hội hằng tháng được bao nhiêu tiền")
    assert benefit.outcome != "fee"


def test_ask_json_answers_a_fee_question() -> None:
    env = {"CCHC_PSEUDONYM_SALT": "cli-test", "CCHC_CONTENT_PATH": str(BUNDLED_CONTENT)}
    result = CliRunner().invoke(main, ["ask", "--json", "phi khai sinh"], env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["outcome"] == "fee" and answer["id"] == "khai-sinh-le-phi"
    assert answer["candidates"][0]["id"] == "khai-sinh-le-phi"
    assert "8.000 đồng" in answer["text"] and "**" not in answer["text"]
