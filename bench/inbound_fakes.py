"""The fake Telegram Bot API, Zalo OA API and Graph (Messenger) API in one process, for
bench/inbound.py.

    uv run python bench/inbound_fakes.py --users 20000 [--telegram-port P] [--zalo-port P] [--control-port P]

They are the fakes the tests use (fakes/telegram.py, fakes/zalo.py, fakes/messenger.py), with every check they make (HTML parse mode, button data, tokens,
the 7-day and 24-hour windows, Messenger's limits), no rate limit, and one addition: they note the
wall-clock time each message reached them and for whom. ``GET /arrivals`` on the control port
returns those notes as JSON: ``{"telegram": [[time, chat_id], ...], "zalo": [[time, user_id],
...], "messenger": [[time, psid], ...]}``.
``POST /fail?platform=telegram|zalo|messenger&seconds=S&mode=5xx|slow`` makes the API fail (5xx) or
answer slowly (``--slow`` seconds) for S seconds, for trying the bot against an API in trouble.

On start it prints one JSON line: the URLs and the Zalo token pair the bot should start with.
Private chats (Telegram), followers who wrote lately (Zalo) and people who wrote to the page
(Messenger) are registered for the users ``1..N`` (Telegram chat ids ``TELEGRAM_BASE + i``, Zalo
ids ``"z" + i``, PSIDs ``"m" + i``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from fakes.messenger import FakeGraph  # noqa: E402
from fakes.telegram import FakeBotApi  # noqa: E402
from fakes.zalo import FakeZalo  # noqa: E402

TELEGRAM_BASE = 100_000_000
ZALO_APP_ID, ZALO_APP_SECRET, ZALO_OA_KEY = "3141592653589793238", "bench-app-secret", "bench-oa-key"
MESSENGER_PAGE_TOKEN, MESSENGER_APP_SECRET = "EAAB-bench-page-token", "bench-meta-app-secret"


def zalo_id(i: int) -> str:
    return f"z{i}"


def messenger_id(i: int) -> str:
    return f"m{i}"


class Trouble:
    """An API outage the control port switched on: until when, and of which kind."""

    def __init__(self) -> None:
        self.until = 0.0
        self.mode = "5xx"
        self.slow = 3.0
        self.refused = 0

    async def intercept(self) -> web.Response | None:
        if time.monotonic() >= self.until:
            return None
        if self.mode == "slow":
            await asyncio.sleep(self.slow)
            return None
        self.refused += 1
        return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>",
                            content_type="text/html")


class TimedBotApi(FakeBotApi):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrivals: list[tuple[float, int]] = []
        self.trouble = Trouble()

    def _record(self, kind: str, chat: dict, message: dict, source: str | None) -> None:
        self.arrivals.append((time.time(), chat["id"]))
        # The fake keeps every message for the tests' assertions; a bench run only needs the
        # arrival times, so nothing more is kept (the fake's memory stays flat).
        self.messages[(chat["id"], message["message_id"])] = message

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info.get("method", "").lower()
        if method in ("sendmessage", "sendphoto", "editmessagetext"):
            refused = await self.trouble.intercept()
            if refused is not None:
                return refused
        response = await super()._dispatch(request)
        self.calls.clear()  # a bench sends tens of thousands of messages
        return response


class TimedZalo(FakeZalo):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str]] = []
        self.trouble = Trouble()

    def _accept(self, path: str, user: str, message: dict[str, Any]) -> web.Response:
        self.arrivals.append((time.time(), user))
        self.calls.clear()
        message_id = f"mid-{next(self._ids)}"
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": message_id, "user_id": user}})

    async def _cs(self, request: web.Request) -> web.Response:
        refused = await self.trouble.intercept()
        if refused is not None:
            return refused
        return await super()._cs(request)


class TimedGraph(FakeGraph):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str]] = []
        self.trouble = Trouble()

    async def _messages(self, request: web.Request) -> web.Response:
        refused = await self.trouble.intercept()
        if refused is not None:
            return refused
        response = await super()._messages(request)
        while self.sent:  # only the arrival times are kept: the fake's memory stays flat
            self.arrivals.append((time.time(), self.sent.pop().psid))
        self.calls.clear()
        self.actions.clear()
        return response


async def serve(args: argparse.Namespace) -> None:
    telegram = TimedBotApi(rate_limit=None, port=args.telegram_port)
    await telegram.start()
    for i in range(1, args.users + 1):
        telegram.add_user(TELEGRAM_BASE + i)
    zalo = TimedZalo(ZALO_APP_ID, ZALO_APP_SECRET, rate_limit=10**9, rate_window=60.0)
    await zalo.start()
    now = time.time()
    for i in range(1, args.users + 1):
        zalo.interact(zalo_id(i), at=now)
    access, refresh = zalo.issue_pair()
    graph = TimedGraph(MESSENGER_PAGE_TOKEN, MESSENGER_APP_SECRET, rate_limit=10**9)
    await graph.start()
    for i in range(1, args.users + 1):
        graph.wrote(messenger_id(i), at=now)
    troubles = {"telegram": telegram.trouble, "zalo": zalo.trouble, "messenger": graph.trouble}
    for trouble in troubles.values():
        trouble.slow = args.slow

    async def arrivals(request: web.Request) -> web.Response:
        return web.json_response({"telegram": telegram.arrivals, "zalo": zalo.arrivals,
                                  "messenger": graph.arrivals,
                                  "refused": {name: t.refused for name, t in troubles.items()}})

    async def fail(request: web.Request) -> web.Response:
        trouble = troubles.get(request.query.get("platform", "telegram"), telegram.trouble)
        trouble.mode = request.query.get("mode", "5xx")
        trouble.until = time.monotonic() + float(request.query.get("seconds", "10"))
        return web.json_response({"ok": True})

    control = web.Application()
    control.router.add_get("/arrivals", arrivals)
    control.router.add_post("/fail", fail)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.control_port)
    await site.start()
    control_port = runner.addresses[0][1]
    print(json.dumps({
        "telegram_base_url": telegram.base_url, "telegram_base_file_url": telegram.base_file_url,
        "telegram_token": telegram.token, "zalo_url": zalo.url, "zalo_access": access,
        "zalo_refresh": refresh, "messenger_url": graph.url,
        "control": f"http://127.0.0.1:{control_port}",
    }), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--telegram-port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--slow", type=float, default=3.0, help="seconds of a slow answer")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
