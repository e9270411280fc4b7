"""Dossier status: codes typed however, masking, the last-4-digits step, the rate limit, and the
status-change message sent exactly once per change."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, update

from bot.app import BotApp
from bot.root import build_app
from bot.cli import main
from bot.config import Lookup
from handlers.lookups import dossiers
from bot.outbox.sender import Sender
from handlers.lookups.notices import NoticeStats, purge_attempts, send_status_notices
from bot.storage.db import sync_url
from bot.storage.models import (
    ChannelUser,
    ConversationState,
    DossierNotice,
    DossierWatch,
    LookupAttempt,
    OutboxMessage,
)
from tests.conftest import make_settings
from tests.lookups_support import (
    CODE,
    KEY,
    PHONE,
    RecordingChannel,
    dossier_line,
    export,
    import_text,
    payloads,
    rows,
    say,
    text_of,
)

# --- pure functions --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "H56.22-230515-0001", "h56.22-230515-0001", "H56 22 230515 0001", "h5622-230515-0001",
    "H56222305150001", "mã hồ sơ: H56.22.230515.0001", "ma hs h56.22 - 230515 - 0001 a",
    "Mã HS: h56.22_230515_0001 ạ", "Ｈ56.22-２３０５１５-0001",  # full-width letters and digits
    "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?maHoSo=H56.22-230515-0001",
    "https://motcua.example.gov.vn/#/tra-cuu?mahoso=h56.22-230515-0001&lang=vi",
    "https://motcua.example.gov.vn/tra-cuu/H56.22-230515-0001",
])
def test_codes_typed_however_come_to_one_key(typed: str) -> None:
    guesses = dossiers.code_message(typed)
    assert guesses, typed
    assert guesses[0].key == KEY


@pytest.mark.parametrize("text", [
    "làm giấy khai sinh cần gì", "ngày 15/05/2023 tôi nộp hồ sơ khai sinh mà chưa thấy gì",
    "20.000.000 đồng", "tôi nộp hồ sơ từ tuần trước mà chưa có kết quả, làm sao tra cứu ạ",
    "https://dichvucong.gov.vn/p/home/dvc-gioi-thieu.html",
])
def test_ordinary_messages_are_not_codes(text: str) -> None:
    assert dossiers.code_message(text) == []


def test_code_with_last_four_digits_in_one_message() -> None:
    [first, *_] = dossiers.find_codes(f"{CODE} 5678")
    assert (first.key, first.last4) == (KEY, "5678")


@pytest.mark.parametrize(("name", "masked"), [
    ("Nguyễn Văn An", "Nguyễn V** A**"),
    ("Lê thị ánh tuyết", "Lê T** Á** T**"),
    ("  Trần   Bình ", "Trần B**"),
    ("Ưng", "Ư**"),
    ("Nguye\u0302\u0303n Đức", "Nguyễn Đ**"),  # decomposed input
    ("", ""),
])
def test_applicant_names_are_masked(name: str, masked: str) -> None:
    assert dossiers.mask_name(name) == masked


@pytest.mark.parametrize(("status", "kind"), [
    ("Đã tiếp nhận", "received"), ("Mới tiếp nhận", "received"), ("Đang xử lý", "processing"),
    ("DANG_XU_LY", "processing"), ("Đang giải quyết", "processing"), ("Chờ bổ sung hồ sơ", "supplement"),
    ("Chờ thanh toán", "payment"), ("Đã có kết quả", "ready"), ("Chờ trả kết quả", "ready"),
    ("Đã trả kết quả", "returned"), ("Từ chối giải quyết", "rejected"), ("Tạm dừng xử lý", "paused"),
    ("Công dân rút hồ sơ", "withdrawn"), ("Trạng thái lạ XYZ", None),
])
def test_status_in_plain_words(status: str, kind: str | None) -> None:
    assert dossiers.status_kind(status) == kind
    expected = dossiers.PLAIN[kind] if kind else status
    assert dossiers.plain_status(status) == expected


def test_configured_status_aliases_win() -> None:
    assert dossiers.status_kind("Hoàn tất bước 3", {"hoan tat buoc 3": "processing"}) == "processing"


@pytest.mark.parametrize(("raw", "phone"), [
    ("0912345678", "0912345678"), ("0912.345.678", "0912345678"), ("+84 912 345 678", "0912345678"),
    ("912345678", "0912345678"), ("02373 123 456", "02373123456"), ("12345", None), ("abc", None),
])
def test_phone_numbers_are_normalized(raw: str, phone: str | None) -> None:
    assert dossiers.normalize_phone(raw) == phone


# --- in conversation -------------------------------------------------------------------------


@pytest.fixture
async def make_bot(database_url: str):
    """Bots on the test database with their own [lookup] settings (several = several workers)."""
    apps: list[BotApp] = []

    def make(**lookup: object) -> BotApp:
        app = build_app(make_settings(database_url, lookup=Lookup(**lookup)))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.close()


@pytest.fixture
def lookup_bot(make_bot) -> BotApp:
    return make_bot()


@pytest.mark.parametrize("typed", [
    CODE, "h56 22 230515 0001", "mã hồ sơ H56.22.230515.0001 ạ", "h5622230515 0001",
    "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?maHoSo=H56.22-230515-0001",
])
async def test_status_by_code_typed_however(lookup_bot: BotApp, tmp_path: Path, typed: str) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    response = await say(lookup_bot, typed)
    assert response.outcome == "dossier", text_of(response)
    assert response.faq_id == KEY
    text = text_of(response)
    assert f"**{CODE}**" in text
    assert "Đăng ký khai sinh" in text
    assert "Nguyễn V*\u200b* A*\u200b*" in text  # masked, and not read as Markdown bold
    assert "Nguyễn Văn An" not in text and "Văn" not in text
    assert PHONE not in text and PHONE[-4:] not in text
    assert f"Ngày tiếp nhận: {dossiers.today_vn() - dt.timedelta(days=3):%d/%m/%Y}" in text
    assert f"Ngày hẹn trả: {dossiers.today_vn() + dt.timedelta(days=2):%d/%m/%Y}\n" in text
    assert "Tình trạng: **Đang giải quyết**" in text
    assert "Quầy số 2, Bộ phận Một cửa UBND xã" in text
    assert "quá hẹn" not in text
    assert f"dw:{KEY}" in payloads(response)



async def notify(bot: BotApp, channels: dict) -> NoticeStats:
    """The notice job's pass, then the outbox's sender delivering what it queued."""
    stats = await send_status_notices(bot.database, channels, bot.settings)
    sender = Sender(bot.database, bot.settings, channels.values(), after_sent=bot.outbox_effects)
    await sender.run_until_idle()
    await sender.lease.release()
    return stats


async def test_overdue_and_done(lookup_bot: BotApp, tmp_path: Path) -> None:
    late = "H56.22-230515-0002"
    done = "H56.22-230515-0003"
    await import_text(lookup_bot, tmp_path, export(
        dossier_line(late, "Đang xử lý", received=-10, due=-4),
        dossier_line(done, "Đã trả kết quả", received=-10, due=-4, place=""),
    ))
    overdue = text_of(response := await say(lookup_bot, late))
    assert "(**đã quá hẹn 4 ngày**)" in overdue
    assert "văn bản xin lỗi" in overdue
    assert "faq:tra-cuu-ho-so-qua-han" in payloads(response)
    returned = await say(lookup_bot, done)
    text = text_of(returned)
    assert "quá hẹn" not in text and "Tình trạng: **Đã trả kết quả**" in text
    assert lookup_bot.settings.office.address in text  # no place in the export: the office's
    assert not any(p.startswith("dw:") for p in payloads(returned))  # nothing left to wait for


async def test_unknown_code_gets_guidance_and_the_portal(lookup_bot: BotApp, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    response = await say(lookup_bot, "H56.22-230515-9999")
    assert response.outcome == "dossier_code"
    text = text_of(response)
    assert "chưa tìm thấy hồ sơ mã **H56.22-230515-9999**" in text
    assert lookup_bot.settings.lookup.portal_lookup_url in text
    urls = [b.url for r in response.replies for row in r.buttons for b in row if b.url]
    assert lookup_bot.settings.lookup.portal_lookup_url in urls


async def test_no_watch_button_where_the_bot_cannot_write_first(lookup_bot: BotApp, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    response = await say(lookup_bot, CODE, channel="web")
    assert response.outcome == "dossier"
    assert not any(p.startswith("dw:") for p in payloads(response))
    assert (await say(lookup_bot, payload=f"dw:{KEY}", channel="web")).faq_id is None


async def test_lookups_are_rate_limited_per_user_across_workers(
    make_bot, database_url: str, tmp_path: Path
) -> None:
    lookup_bot = make_bot(rate_limit_attempts=3, rate_limit_window_minutes=60)
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    for n in range(3):
        assert (await say(lookup_bot, f"H56.22-230515-{n + 5000}")).outcome == "dossier_code"
    limited = await say(lookup_bot, CODE)  # even a real code: no one can go on trying
    assert limited.outcome == "rate_limited"
    assert "thử lại sau khoảng" in text_of(limited) and "phút" in text_of(limited)
    assert "Đăng ký khai sinh" not in text_of(limited)
    assert (await say(lookup_bot, CODE, user="someone-else")).outcome == "dossier"
    other_worker = make_bot(rate_limit_attempts=3)  # a second process on the same database
    assert (await say(other_worker, CODE)).outcome == "rate_limited"
    assert len(rows(database_url, LookupAttempt)) == 4  # the refused lookups are not counted
    assert all(r["user_key"] != "u1" for r in rows(database_url, LookupAttempt))  # pseudonyms only
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:  # an hour later
        conn.execute(update(LookupAttempt).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)))
    engine.dispose()
    assert (await say(lookup_bot, CODE)).outcome == "dossier"
    await purge_attempts(lookup_bot.database, lookup_bot.settings,
                         now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    assert rows(database_url, LookupAttempt) == []


async def test_last_four_digits_are_asked_first(
    make_bot, database_url: str, tmp_path: Path) -> None:
    lookup_bot = make_bot(require_phone_last4=True)
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    asked = await say(lookup_bot, CODE)
    assert asked.outcome == "dossier_verify"
    assert "4 số cuối" in text_of(asked)
    assert "Đăng ký khai sinh" not in text_of(asked) and "Nguyễn" not in text_of(asked)
    wrong = await say(lookup_bot, "1111")
    assert wrong.outcome == "dossier_verify" and "còn 2 lần" in text_of(wrong)
    right = await say(lookup_bot, PHONE[-4:])
    assert right.outcome == "dossier"
    assert "Nguyễn V*\u200b* A*\u200b*" in text_of(right) and PHONE[-4:] not in text_of(right)
    [state] = rows(database_url, ConversationState)
    assert "flow" not in state["state"] and KEY in state["state"]["verified"]
    assert PHONE not in json.dumps(state["state"]) and PHONE[-4:] not in json.dumps(state["state"])
    again = await say(lookup_bot, "h56 22 230515 0001")  # confirmed once in this conversation
    assert again.outcome == "dossier"
    together = await say(lookup_bot, f"{CODE} {PHONE[-4:]}", user="u2")  # code and digits at once
    assert together.outcome == "dossier"
    full_phone = await say(lookup_bot, CODE, user="u3")
    assert full_phone.outcome == "dossier_verify"
    assert (await say(lookup_bot, "0912 345 678", user="u3")).outcome == "dossier"


async def test_wrong_digits_end_the_step(
    make_bot, tmp_path: Path) -> None:
    lookup_bot = make_bot(require_phone_last4=True, phone_attempts=3)
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    await say(lookup_bot, CODE)
    assert (await say(lookup_bot, "1111")).outcome == "dossier_verify"
    assert (await say(lookup_bot, "2222")).outcome == "dossier_verify"
    denied = await say(lookup_bot, "3333")
    assert denied.outcome == "dossier_denied"
    assert "Đăng ký khai sinh" not in text_of(denied)
    assert (await say(lookup_bot, PHONE[-4:])).outcome != "dossier"  # the step is over


async def test_a_question_leaves_the_digits_step(
    make_bot, database_url: str, tmp_path: Path) -> None:
    lookup_bot = make_bot(require_phone_last4=True)
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    assert (await say(lookup_bot, CODE)).outcome == "dossier_verify"
    answer = await say(lookup_bot, "phí khai sinh")
    assert answer.outcome == "fee"
    [state] = rows(database_url, ConversationState)
    assert "flow" not in state["state"]
    assert (await say(lookup_bot, "xin chào")).outcome == "greeting"


async def test_ask_without_recording_needs_the_digits_in_the_message(
    make_bot, tmp_path: Path
) -> None:
    lookup_bot = make_bot(require_phone_last4=True)
    from bot.messages import Incoming

    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    asked = await lookup_bot.handle(Incoming("cli", "cli", text=CODE), record=False)
    assert asked.outcome == "dossier_verify"
    shown = await lookup_bot.handle(Incoming("cli", "cli", text=f"{CODE} {PHONE[-4:]}"), record=False)
    assert shown.outcome == "dossier" and shown.faq_id == KEY


def test_ask_json_looks_a_dossier_up(database_url: str, tmp_path: Path) -> None:
    env = {"CCHC_DATABASE_URL": database_url, "CCHC_PSEUDONYM_SALT": "cli-test"}
    path = tmp_path / "ds.csv"
    path.write_text(export(dossier_line()), encoding="utf-8")
    imported = CliRunner().invoke(main, ["dossiers", "import", str(path)], env=env)
    assert imported.exit_code == 0, imported.output
    result = CliRunner().invoke(main, ["ask", "--json", "h56 22 230515 0001"], env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert answer["outcome"] == "dossier" and answer["id"] == KEY
    assert "Nguyễn V" in answer["text"] and PHONE not in answer["text"]


# --- "Báo cho tôi khi có kết quả" ------------------------------------------------------------


async def _watch(bot: BotApp, user: str = "u1") -> None:
    shown = await say(bot, CODE, user=user)
    assert f"dw:{KEY}" in payloads(shown)
    watching = await say(bot, payload=f"dw:{KEY}", user=user)
    assert watching.outcome == "dossier_watch" and watching.faq_id == KEY
    assert "Telegram" in text_of(watching) and f"du:{KEY}" in payloads(watching)


async def test_status_change_is_sent_exactly_once(lookup_bot: BotApp, database_url: str, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đang xử lý")))
    await _watch(lookup_bot)
    await say(lookup_bot, payload=f"dw:{KEY}")  # pressed twice: still one watch
    assert len(rows(database_url, DossierWatch)) == 1
    telegram = RecordingChannel("telegram")
    channels = {"telegram": telegram}
    stats = await notify(lookup_bot, channels)
    assert telegram.sent == [] and stats.queued == 0  # nothing changed yet

    result = await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã có kết quả")))
    assert (result.changed, result.status_changed, result.watchers) == (1, 1, 1)
    stats = await notify(lookup_bot, channels)
    assert stats.queued == 1
    [(platform_id, [reply])] = telegram.sent
    assert platform_id == "u1"
    assert CODE in reply.text and "Đã có kết quả" in reply.text
    assert "Quầy số 2" in reply.text  # where to collect it
    assert "Nguyễn" not in reply.text and PHONE not in reply.text
    assert [b.payload for row in reply.buttons for b in row] == [f"ds:{KEY}"]

    await notify(lookup_bot, channels)
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã có kết quả")))  # the same file again
    await notify(lookup_bot, channels)
    assert len(telegram.sent) == 1
    [notice] = rows(database_url, DossierNotice)
    assert (notice["status"], notice["delivery"], notice["message_id"]) == ("Đã có kết quả", "sent", "1")
    [watch] = rows(database_url, DossierWatch)
    assert watch["last_notified_status"] == "Đã có kết quả" and watch["closed_at"] is not None

    details = await say(lookup_bot, payload=f"ds:{KEY}")  # the button under the message
    assert details.outcome == "dossier"


async def test_one_message_per_change_until_the_result(lookup_bot: BotApp, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã tiếp nhận")))
    await _watch(lookup_bot)
    telegram = RecordingChannel("telegram")
    statuses = ["Chờ bổ sung hồ sơ", "Đang xử lý", "Đã có kết quả", "Đã trả kết quả"]
    for status in statuses:
        await import_text(lookup_bot, tmp_path, export(dossier_line(status=status)))
        for _ in range(2):
            await notify(lookup_bot, {"telegram": telegram})
    sent = [replies[0].text for _, replies in telegram.sent]
    assert len(sent) == 3  # the watch ends with the result: no message for "returned"
    assert "Cần bổ sung giấy tờ" in sent[0] and "liên hệ Bộ phận Một cửa" in sent[0]
    assert "Đang giải quyết" in sent[1] and "Đã có kết quả" in sent[2]


async def test_a_retry_is_sent_on_a_later_pass_once(lookup_bot: BotApp, database_url: str, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    await _watch(lookup_bot)
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Chờ thanh toán")))
    assert await notify(lookup_bot, {}) == type(await notify(lookup_bot, {}))(skipped=1)
    busy = RecordingChannel("telegram", status="retry")
    stats = await notify(lookup_bot, {"telegram": busy})
    assert stats.queued == 1 and len(busy.sent) == 1
    assert [n["delivery"] for n in rows(database_url, DossierNotice)] == ["queued"]
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:  # the back-off has passed
        conn.execute(update(OutboxMessage).values(not_before=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    engine.dispose()
    ok = RecordingChannel("telegram")
    for _ in range(2):
        await notify(lookup_bot, {"telegram": ok})
    assert len(ok.sent) == 1 and "Chờ nộp phí, lệ phí" in ok.sent[0][1][0].text
    assert [n["delivery"] for n in rows(database_url, DossierNotice)] == ["sent"]


async def test_unreachable_users_are_recorded_not_sent(lookup_bot: BotApp, database_url: str, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    await _watch(lookup_bot)
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(update(ChannelUser).values(reachable=False, unreachable_reason="blocked"))
    engine.dispose()
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã có kết quả")))
    telegram = RecordingChannel("telegram")
    stats = await notify(lookup_bot, {"telegram": telegram})
    assert telegram.sent == [] and stats.undelivered == 1
    [notice] = rows(database_url, DossierNotice)
    assert notice["delivery"] == "blocked"


async def test_unwatch(lookup_bot: BotApp, database_url: str, tmp_path: Path) -> None:
    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    await _watch(lookup_bot)
    assert (await say(lookup_bot, payload=f"du:{KEY}")).outcome == "dossier_unwatch"
    assert rows(database_url, DossierWatch) == []
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã có kết quả")))
    telegram = RecordingChannel("telegram")
    await notify(lookup_bot, {"telegram": telegram})
    assert telegram.sent == []


@pytest.mark.postgresql_only  # row locks (FOR UPDATE SKIP LOCKED); SQLite runs one worker
async def test_two_workers_never_send_the_same_change_twice(
    lookup_bot: BotApp, database_url: str, tmp_path: Path
) -> None:
    class SlowChannel(RecordingChannel):
        async def send(self, platform_id, replies, kind="broadcast"):
            await asyncio.sleep(0.2)  # the other worker runs meanwhile
            return await super().send(platform_id, replies, kind)

    await import_text(lookup_bot, tmp_path, export(dossier_line()))
    await _watch(lookup_bot)
    await import_text(lookup_bot, tmp_path, export(dossier_line(status="Đã có kết quả")))
    other = build_app(lookup_bot.settings)
    channel = SlowChannel("telegram")
    try:
        await asyncio.gather(
            notify(lookup_bot, {"telegram": channel}),
            send_status_notices(other.database, {"telegram": channel}, other.settings),
        )
    finally:
        await other.close()
    assert len(channel.sent) == 1
    assert len(rows(database_url, DossierNotice)) == 1
