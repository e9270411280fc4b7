"""The outbox: a message the bot decides to send itself is a row of the deciding transaction,
delivered after the commit. A process killed between the decision and the delivery loses nothing:
the next process holding the sender's lease delivers it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlmodel import Session, create_engine, select

from bot.config import Telegram
from bot.outbox.sender import Sender
from bot.root import build_app
from bot.storage.db import sync_url
from bot.storage.models import OutboxMessage, Ticket
from tests.conftest import make_settings
from tests.test_conversation import FIXTURE
from tests.test_feedback import OFFICIALS_CHAT, RecordingChannel

ROOT = Path(__file__).resolve().parent.parent

# A process that files a ticket, with a Telegram channel that fails the test if anything is sent
# during the turn, then is killed (SIGKILL: no clean-up, no sender) right after the turn.
CITIZEN = textwrap.dedent('''
    import asyncio, os, signal, sys
    from bot.config import Telegram
    from bot.messages import Incoming
    from bot.root import build_app
    from tests.conftest import make_settings
    from tests.test_conversation import FIXTURE

    class NoSendDuringTheTurn:
        name = "telegram"
        async def send(self, platform_id, replies):
            os._exit(3)  # a send inside the turn: the test sees exit code 3

    async def main():
        settings = make_settings(sys.argv[1], content=FIXTURE,
                                 telegram=Telegram(admin_chat_id=int(sys.argv[2])))
        bot = build_app(settings)
        bot.channels = {"telegram": NoSendDuringTheTurn()}
        for text, payload in [("/phananh", None), ("", "fb:s:thu_tuc"),
                              ("Hồ sơ khai sinh nộp 20 ngày vẫn chưa có kết quả", None),
                              ("", "fb:skip"), ("", "fb:nocall"), ("", "fb:send")]:
            response = await bot.handle(Incoming("zalo", "citizen-1", text=text, payload=payload))
        assert response.outcome == "ticket_created", response
        os.kill(os.getpid(), signal.SIGKILL)  # decided and committed; delivered by nobody yet

    asyncio.run(main())
''')


async def test_a_process_killed_after_the_decision_loses_no_message(database_url: str) -> None:
    child = subprocess.run([sys.executable, "-c", CITIZEN, database_url, OFFICIALS_CHAT],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    engine = create_engine(sync_url(database_url))
    with Session(engine) as session:
        [ticket] = session.exec(select(Ticket)).all()
        [queued] = session.exec(select(OutboxMessage)).all()
    assert (queued.kind, queued.status, queued.platform_id) == ("ticket_card", "pending", OFFICIALS_CHAT)
    assert ticket.forwarded_message_id is None

    # Another process starts: its sender takes the lease and delivers what was decided.
    bot = build_app(make_settings(database_url, content=FIXTURE,
                                  telegram=Telegram(admin_chat_id=int(OFFICIALS_CHAT))))
    officials = RecordingChannel("telegram")
    sender = Sender(bot.database, bot.settings, [officials], after_sent=bot.outbox_effects)
    try:
        await sender.run_until_idle()
        await sender.run_until_idle()  # nothing is sent twice
    finally:
        await sender.lease.release()
        await bot.close()
    [(chat, [card])] = officials.sent
    assert chat == OFFICIALS_CHAT and ticket.number in card.text
    assert [b.payload for b in card.buttons[0]] == [f"tk:prog:{ticket.id}", f"tk:close:{ticket.id}"]
    with Session(engine) as session:
        delivered = session.get(OutboxMessage, queued.id)
        forwarded = session.get(Ticket, ticket.id)
    engine.dispose()
    assert delivered is not None and (delivered.status, delivered.attempts) == ("sent", 1)
    assert forwarded is not None and forwarded.forwarded_message_id == "telegram-msg-1"
    assert forwarded.forwarded_chat_id == OFFICIALS_CHAT


async def test_a_failed_send_is_retried_then_recorded(database_url: str) -> None:
    bot = build_app(make_settings(database_url, content=FIXTURE))
    officials = RecordingChannel("telegram", status="retry")
    sender = Sender(bot.database, bot.settings, [officials])
    from bot.messages import Reply
    from bot.outbox.messages import enqueue

    try:
        async with bot.database.session() as session:
            enqueue(session, "overdue_flag", "telegram", OFFICIALS_CHAT, [Reply("⏰ quá hạn")])
            await session.commit()
        await sender.run_until_idle()
    finally:
        await sender.lease.release()
        await bot.close()
    engine = create_engine(sync_url(database_url))
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    engine.dispose()
    assert len(officials.sent) == 1  # tried once; the next try waits for its back-off
    assert (row.status, row.attempts, row.error) == ("pending", 1, "outside_window")
    assert row.not_before > row.created_at
