"""Property-based fuzzing of every parser that reads outside data, shared by the
test suite (tests/test_fuzz.py: a quick count) and the benchmark (bench/fuzz.py: the full count).

Each target runs hypothesis for ``examples`` inputs and counts them; a target fails on the
first unhandled exception, 500 answer, or error logged with a traceback by the bot while it
handled the input (hypothesis then shrinks it to the smallest input that still fails).

- ``telegram_parse``: webhook bodies (update-shaped JSON and anything else) → an Update or None;
- ``telegram_webhook``: the same through the real route with its secret, processed by the real
  channel against the fake Bot API (messages, callback queries with any data, memberships);
- ``zalo_verify``: raw bodies and signature headers → an event or a refusal;
- ``zalo_webhook``: signed events of every kind and shape, and Zalo button presses (tagged
  payloads) and numbered choices, through the route and the workers, against the fake OA API;
- ``zalo_codec``: typed text as button tags and numbered choices;
- ``web_chat``: bodies and headers for /api/chat;
- ``payloads``: button payloads (every known prefix with any arguments) through BotApp.handle;
- ``dossier_csv`` / ``dossier_xlsx``: dossier import files → rows and per-line errors, or
  ImportFileError for a file that cannot be read at all;
- ``content``: any text in a content file → a pack and problems, or problems alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.app import BotApp
from bot.root import build_app
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.channels.zalo import ZaloChannel, _Refused
from bot.channels.zalo_api import RateLimiter
from bot.channels.choices import chosen_number
from bot.channels.zalo_render import PayloadCodec
from bot.config import DossierColumns, Server, Telegram, Zalo
from bot.content.loader import load_pack
from handlers.lookups.dossiers import ImportFileError, parse_file
from bot.messages import Incoming
from bot.server import make_web_app
from tests.conftest import make_settings
from fakes.telegram import FakeBotApi
from fakes.zalo import FakeZalo

FIXTURE = Path(__file__).parent / "fixtures" / "content"
TG_SECRET = "fuzz-secret_0123456789"
APP_ID, OA_ID, APP_SECRET, OA_KEY = "1234567890123456789", "4318793126450786043", "fuzz-app", "fuzz-oa"
OK_STATUSES = {200, 204, 400, 401, 403, 404, 405, 413}

# --- strategies ------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False),
                    st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=20)
words = st.sampled_from(["thủ tục", "kết hôn", "khai sinh", "lệ phí", "bao nhiêu", "ở đâu", "/start",
                         "/menu", "/phi", "/tracuu", "/dangky", "/huydangky", "/phananh", "/lienhe",
                         "/broadcast", "/stats", "HS-2026-000123", "1", "2.", "k:", "#", "~", "@bot",
                         "https://dichvucong.gov.vn/?mahoso=000.00.00.H01-261101-0001", "\x00", "\u202e"])
texts = st.one_of(st.text(max_size=300), st.lists(words, max_size=8).map(" ".join),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=5000))
ids = st.one_of(st.integers(-2**40, 2**40), st.text(max_size=20), st.text(min_size=60, max_size=120), st.none())
user = st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.booleans(),
                              "first_name": st.text(max_size=20)},
                             optional={"username": st.text(max_size=20), "language_code": st.text(max_size=5)})
chat = st.fixed_dictionaries({"id": st.integers(-2**40, 2**40),
                              "type": st.sampled_from(["private", "group", "supergroup", "channel", "x"])},
                             optional={"title": st.text(max_size=20)})
entity = st.fixed_dictionaries({"type": st.sampled_from(["bot_command", "mention", "url", "bold", "x"]),
                                "offset": st.integers(-5, 400), "length": st.integers(-5, 400)})
message = st.fixed_dictionaries(
    {"message_id": st.integers(-5, 2**31), "date": st.integers(0, 2**33), "chat": chat},
    optional={"from": user, "text": texts, "caption": texts, "entities": st.lists(entity, max_size=3),
              "photo": st.lists(st.fixed_dictionaries({"file_id": st.text(max_size=10),
                                                       "file_unique_id": st.text(max_size=10),
                                                       "width": st.integers(0, 5000),
                                                       "height": st.integers(0, 5000)},
                                                      optional={"file_size": st.integers(-1, 2**35)}),
                                max_size=3),
              "document": st.fixed_dictionaries({"file_id": st.text(max_size=10),
                                                 "file_unique_id": st.text(max_size=10)},
                                                optional={"mime_type": st.text(max_size=20),
                                                          "file_size": st.integers(-1, 2**35)}),
              "reply_to_message": st.fixed_dictionaries({"message_id": st.integers(0, 100), "date": st.just(0),
                                                         "chat": chat}, optional={"from": user}),
              "extra": json_values})
callback = st.fixed_dictionaries(
    {"id": st.text(max_size=10), "from": user, "chat_instance": st.text(max_size=10)},
    optional={"data": st.one_of(texts, st.text(max_size=64).map(lambda t: "k:" + t),
                                st.sampled_from(["faq:ket-hon", "v:1:ket-hon:5", "sub:on:x", "cat:ho-tich",
                                                 "fb:send", "menu", "none:1", "fwd:abc"])),
              "message": message})
membership = st.fixed_dictionaries({
    "chat": chat, "from": user, "date": st.integers(0, 2**33),
    "old_chat_member": st.fixed_dictionaries({"user": user, "status": st.sampled_from(["member", "kicked", "x"])}),
    "new_chat_member": st.fixed_dictionaries({"user": user, "status": st.sampled_from(["member", "kicked", "x"]),
                                              "until_date": st.integers(0, 2**33)})})
updates = st.one_of(
    st.fixed_dictionaries({"update_id": st.integers(0, 2**31)},
                          optional={"message": message, "callback_query": callback, "my_chat_member": membership,
                                    "edited_message": message}),
    st.dictionaries(st.sampled_from(["update_id", "message", "callback_query", "my_chat_member"]),
                    json_values, max_size=4),
    json_values)
bodies = st.one_of(updates.map(lambda u: json.dumps(u).encode()), st.binary(max_size=300))


# --- harness ---------------------------------------------------------------------------------


class _ErrorLog(logging.Handler):
    """Errors with a traceback logged by the bot while it handles fuzzed input."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.startswith(("bot", "handlers", "telegram.ext")):
            self.records.append(record)


@dataclass
class Harness:
    """The real bot on a throwaway SQLite database (or ``database_url``), its web server with the
    Telegram and Zalo channels started against their fakes, all on one event loop."""

    database_url: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def __enter__(self) -> Harness:
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="cchc-fuzz-"))
        self.errors = _ErrorLog()
        logging.getLogger().addHandler(self.errors)
        self.loop.run_until_complete(self._start())
        return self

    async def _start(self) -> None:
        self.tg_api = await FakeBotApi().start()
        self.zalo_api = await FakeZalo(APP_ID, APP_SECRET, rate_limit=10**9).start()
        access, refresh = self.zalo_api.issue_pair()
        base = make_settings(self.database_url or f"sqlite:///{self.tmp}/fuzz.db", content=FIXTURE,
                             server=Server(user_burst=10**6, reply_retry_seconds=0))
        self.settings = base.model_copy(update={
            "telegram": Telegram(base_url=self.tg_api.base_url, base_file_url=self.tg_api.base_file_url,
                                 webhook_url="http://127.0.0.1:9/telegram/webhook", global_rate=10**6,
                                 private_chat_rate=10**6, group_rate_per_minute=10**8),
            "zalo": Zalo(app_id=APP_ID, oa_id=OA_ID, api_base_url=self.zalo_api.url,
                         oauth_base_url=self.zalo_api.url),
            "secrets": base.secrets.model_copy(update={
                "telegram_token": SecretStr(self.tg_api.token), "telegram_webhook_secret": SecretStr(TG_SECRET),
                "zalo_app_secret": SecretStr(APP_SECRET), "zalo_oa_secret_key": SecretStr(OA_KEY),
                "zalo_refresh_token": SecretStr(refresh), "zalo_access_token": SecretStr(access)}),
        })
        self.bot: BotApp = build_app(self.settings)
        self.telegram = TelegramChannel(self.bot)
        self.telegram.limiter.backoff = self.telegram.limiter.max_backoff = 0.0
        self.zalo = ZaloChannel(self.bot, limiter=RateLimiter(10**9, 60))
        self.client = TestClient(TestServer(make_web_app(self.bot, [self.telegram, self.zalo])))
        await self.client.start_server()
        await self.telegram.start()
        await self.zalo.start()
        self.bot.channels = {"telegram": self.telegram, "zalo": self.zalo}

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.zalo.stop(timeout=10)
            await self.telegram.stop()
            await self.client.close()
            await self.bot.close()
            await self.tg_api.stop()
            await self.zalo_api.close()
        self.loop.run_until_complete(stop())
        self.loop.close()
        logging.getLogger().removeHandler(self.errors)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def check_logs(self) -> None:
        if self.errors.records:
            record = self.errors.records[0]
            self.errors.records.clear()
            raise AssertionError(f"the bot logged an error: {record.getMessage()}") from (
                record.exc_info[1] if record.exc_info else None)

    async def settle(self) -> None:
        deadline = time.monotonic() + 30
        while self.telegram.backlog.pending or self.zalo.backlog.pending:
            assert time.monotonic() < deadline, "fuzzed updates still not handled after 30 s"
            await asyncio.sleep(0.005)

    def post_webhook(self, target: str, path: str, data: bytes, headers: dict[str, str]) -> None:
        """One webhook request: an allowed status, the update handled, nothing logged as an error."""
        async def post() -> None:
            response = await self.client.post(path, data=data, headers=headers)
            self.status(target, response.status)
            await self.settle()

        self.run(post())
        self.check_logs()

    def status(self, target: str, status: int) -> None:
        self.statuses[(target, status)] += 1
        assert status in OK_STATUSES, f"{target}: HTTP {status}"


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# --- targets ---------------------------------------------------------------------------------


def telegram_parse(h: Harness, examples: int) -> None:
    @_settings(examples)
    @given(bodies)
    def check(body: bytes) -> None:
        h.counts["telegram_parse"] += 1
        h.telegram._parse_update(body)  # an Update or None, never an exception

    check()


def telegram_webhook(h: Harness, examples: int) -> None:
    @_settings(examples)
    @given(bodies, st.sampled_from([TG_SECRET, TG_SECRET, TG_SECRET, "wrong", None]))
    def check(body: bytes, secret: str | None) -> None:
        h.counts["telegram_webhook"] += 1
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        h.post_webhook("telegram_webhook", "/telegram/webhook", body, headers)

    check()


def _sign(raw: bytes, app_id: str, timestamp: str) -> str:
    return "mac=" + hashlib.sha256(app_id.encode() + raw + timestamp.encode() + OA_KEY.encode()).hexdigest()


def zalo_verify(h: Harness, examples: int) -> None:
    @_settings(examples)
    @given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
           st.one_of(st.text(max_size=80), st.just("mac=" + "0" * 64)))
    def check(raw: bytes, header: str) -> None:
        h.counts["zalo_verify"] += 1
        try:
            h.zalo._verify(raw, header)
        except _Refused:
            pass

    check()


zalo_events = st.fixed_dictionaries(
    {"app_id": st.just(APP_ID), "timestamp": st.just("NOW"),
     "event_name": st.sampled_from(["user_send_text", "user_send_image", "follow", "unfollow",
                                    "user_send_sticker", "oa_send_text", "something_new"])},
    optional={"sender": st.one_of(st.fixed_dictionaries({"id": ids}), json_values),
              "follower": st.one_of(st.fixed_dictionaries({"id": ids}), json_values),
              "user_id_by_app": ids,
              "recipient": st.fixed_dictionaries({"id": st.just(OA_ID)}),
              "message": st.one_of(
                  st.fixed_dictionaries({}, optional={
                      "text": st.one_of(texts, st.integers()), "msg_id": ids,
                      "attachments": st.one_of(json_values, st.lists(st.fixed_dictionaries(
                          {"type": st.sampled_from(["image", "x"])},
                          optional={"payload": st.one_of(json_values, st.fixed_dictionaries(
                              {"url": st.one_of(st.text(max_size=30),
                                                st.just("http://127.0.0.1:9/receipt.jpg"))}))}),
                          max_size=2))}),
                  json_values)})


def zalo_webhook(h: Harness, examples: int) -> None:
    codec = PayloadCodec(OA_KEY)
    payload = st.one_of(st.text(max_size=60).filter(lambda t: " " not in t and t),
                        st.sampled_from(["faq:ket-hon", "menu", "sub", "sub:on:thong-bao-chung", "fb:send",
                                         "v:0:ket-hon", "cat:ho-tich", "fwd:1", "none"]))
    press = st.builds(lambda label, p: codec.encode(label, p), st.text(max_size=20), payload)
    typed = st.one_of(texts, press, st.integers(0, 120).map(str))

    @_settings(examples)
    @given(zalo_events, typed, st.integers(0, 3), st.booleans())
    def check(event: dict, text: str, user_no: int, sign: bool) -> None:
        h.counts["zalo_webhook"] += 1
        event = dict(event, timestamp=str(int(time.time() * 1000)))
        if event["event_name"] == "user_send_text" and isinstance(event.get("message"), dict) and user_no:
            event["message"] = dict(event["message"], text=text)
            event["sender"] = {"id": f"fz{user_no}"}
            h.zalo_api.interact(f"fz{user_no}")
        raw = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["X-ZEvent-Signature"] = _sign(raw, APP_ID, event["timestamp"])
        h.post_webhook("zalo_webhook", "/zalo/webhook", raw, headers)

    check()


def zalo_codec(h: Harness, examples: int) -> None:
    codec = PayloadCodec(OA_KEY)

    @_settings(examples)
    @given(st.one_of(texts, st.builds(lambda a, b, c: f"{a} #{b}~{c}", st.text(max_size=20),
                                      st.text(max_size=20), st.text("0123456789abcdef", min_size=10,
                                                                    max_size=10))))
    def check(text: str) -> None:
        h.counts["zalo_codec"] += 1
        payload = codec.decode(text)
        assert payload is None or isinstance(payload, str)
        number = chosen_number(text)
        assert number is None or 0 <= number <= 99

    check()


def web_chat(h: Harness, examples: int) -> None:
    body = st.one_of(
        st.fixed_dictionaries({}, optional={"text": st.one_of(texts, json_values),
                                            "payload": st.one_of(st.text(max_size=80), json_values)}
                              ).map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))
    sid = st.one_of(st.none(), st.just("0" * 32), st.text("0123456789abcdef", min_size=32, max_size=32),
                    st.text(max_size=40))
    origin = st.one_of(st.none(), st.none(), st.none(), st.none(), st.just("null"), st.text(max_size=30),
                       st.just("https://example.org"))  # mostly the bot's own page

    @_settings(examples)
    @given(body, sid, origin)
    def check(data: bytes, session: str | None, from_origin: str | None) -> None:
        h.counts["web_chat"] += 1
        headers = {"Content-Type": "application/json"}
        if session is not None and session.isprintable() and session.isascii():
            headers["X-CCHC-Session"] = session
        if from_origin is not None and from_origin.isprintable() and from_origin.isascii():
            headers["Origin"] = from_origin

        async def post() -> None:
            response = await h.client.post("/api/chat", data=data, headers=headers)
            h.status("web_chat", response.status)
            if response.status == 200:
                assert isinstance((await response.json())["replies"], list)

        h.run(post())
        h.check_logs()

    check()


def payloads(h: Harness, examples: int) -> None:
    prefixes = sorted(h.bot.dispatcher.payloads) + ["", "x", "k"]
    args = st.lists(st.one_of(st.text(max_size=12), st.integers(-10, 10**12).map(str),
                              st.sampled_from(["ket-hon", "ho-tich", "thong-bao-chung", "on", "off", "1", "0"])),
                    max_size=4)

    @_settings(examples)
    @given(st.sampled_from(prefixes), args, st.sampled_from(["telegram", "zalo", "web"]), st.integers(0, 5))
    def check(prefix: str, rest: list[str], channel: str, user_no: int) -> None:
        h.counts["payloads"] += 1
        payload = ":".join([prefix, *rest])

        async def press() -> None:
            response = await h.bot.handle(Incoming(channel, f"{7000 + user_no}", payload=payload))
            assert response.replies or response.outcome

        h.run(press())
        h.check_logs()

    check()


def dossier_csv(h: Harness, examples: int) -> None:
    columns = DossierColumns()
    header = [columns.code, columns.procedure, columns.applicant, columns.phone, columns.received,
              columns.due, columns.status, columns.result_place]
    cell = st.one_of(st.text(max_size=30), st.sampled_from(["01/11/2026", "2026-11-01", "45000", "0912345678",
                                                            "HS-1", "Đã trả kết quả", "", "31/02/2026"]))
    table = st.lists(st.lists(cell, max_size=10), max_size=8)
    path = h.tmp / "import.csv"

    @_settings(examples)
    @given(st.booleans(), table, st.sampled_from([",", ";", "\t"]), st.one_of(st.none(), st.binary(max_size=300)),
           st.booleans())
    def check(with_header: bool, rows: list[list[str]], sep: str, raw: bytes | None, huge: bool) -> None:
        h.counts["dossier_csv"] += 1
        if raw is not None:
            data = raw
        else:
            lines = ([header] if with_header else []) + rows
            data = "\n".join(sep.join(f'"{c}"' if sep in c else c for c in line) for line in lines).encode()
            if huge:
                data += b'\n"' + b"x" * 140_000 + b'"'
        path.write_bytes(data)
        try:
            result = parse_file(path, columns)
        except ImportFileError:
            return
        assert all(isinstance(line, int) and isinstance(reason, str) for line, reason in result.errors)

    check()


def dossier_xlsx(h: Harness, examples: int) -> None:
    from openpyxl import Workbook

    columns = DossierColumns()
    header = [columns.code, columns.procedure, columns.applicant, columns.phone, columns.received,
              columns.due, columns.status, columns.result_place]
    cell = st.one_of(st.none(), st.text(max_size=20).map(lambda t: "".join(c for c in t if c.isprintable())),
                     st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                     st.dates(), st.datetimes(), st.booleans())
    path = h.tmp / "import.xlsx"

    @_settings(examples)
    @given(st.booleans(), st.lists(st.lists(cell, max_size=9), max_size=6), st.one_of(st.none(),
                                                                                     st.binary(max_size=200)))
    def check(with_header: bool, rows: list[list[Any]], raw: bytes | None) -> None:
        h.counts["dossier_xlsx"] += 1
        if raw is not None:
            path.write_bytes(raw)
        else:
            book = Workbook()
            sheet = book.active
            for row in ([header] if with_header else []) + rows:
                sheet.append(row)
            book.save(path)
        try:
            parse_file(path, columns)
        except ImportFileError:
            pass

    check()


def content(h: Harness, examples: int) -> None:
    root = h.tmp / "content"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(FIXTURE, root)
    originals = {p: p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}
    targets = sorted(originals)
    yamlish = st.one_of(
        texts,
        json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
        st.lists(st.sampled_from(["---", "id: ket-hon", "title: x", "aliases:", "  - a", "- id: x",
                                  "category: ho-tich", "updated: 2026-13-45", "fees:", "  - name: x",
                                  "    amount: -1", "{{ office.name }}", "{{ nope }}", "[x](javascript:1)",
                                  "topic: thong-bao-chung", "schedule: '* * *'", "\t", ": :", "&a *a",
                                  "!!python/object:os.system", "%YAML 1.1", "'", "\"", "\\"]),
                 max_size=14).map("\n".join))

    @_settings(examples)
    @given(st.sampled_from(targets), yamlish, st.booleans(), st.one_of(st.none(), st.binary(max_size=100)))
    def check(target: Path, text: str, keep_front: bool, raw: bytes | None) -> None:
        h.counts["content"] += 1
        original = originals[target]
        if keep_front and original.startswith("---"):  # a good front matter, a fuzzed body
            text = "---" + original.split("---", 2)[1] + "---\n" + text
        target.write_bytes(raw if raw is not None else text.encode())
        try:
            pack, problems = load_pack(root, h.settings.office.template_values())
            assert pack is not None or problems
        finally:
            target.write_text(original, encoding="utf-8")

    check()


TARGETS: dict[str, Callable[[Harness, int], None]] = {
    "telegram_parse": telegram_parse, "telegram_webhook": telegram_webhook, "zalo_verify": zalo_verify,
    "zalo_webhook": zalo_webhook, "zalo_codec": zalo_codec, "web_chat": web_chat, "payloads": payloads,
    "dossier_csv": dossier_csv, "dossier_xlsx": dossier_xlsx, "content": content,
}
