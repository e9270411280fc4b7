"""Two real worker processes (``cchc-bot run --workers 2``) on a real PostgreSQL serve the same
new content revision within seconds of its publication, each from its own materialised copy."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.content import revisions
from bot.storage.db import Database
from tests.test_workers import Deployment, deployment, telegram  # noqa: F401 - fixtures

KET_HON = "faq/ket-hon.md"


async def _publish(database_url: str, old: str, new: str) -> int:
    database = Database(database_url)
    try:
        text = (await revisions.current(database))[KET_HON].text
        row = await revisions.publish(database, {KET_HON: text.replace(old, new)}, author="dashboard:lan",
                                      kind="publish", reason="thử hai tiến trình", expected={KET_HON: 1})
        assert row is not None
        return row.id  # type: ignore[return-value]
    finally:
        await database.dispose()


@pytest.mark.postgresql_only
def test_two_workers_serve_the_same_new_revision(deployment: Deployment) -> None:  # noqa: F811
    ask = {"text": "thủ tục kết hôn"}
    before = deployment.workers("/api/chat", ask)
    assert all("mang giấy tờ tùy thân" in json.dumps(a, ensure_ascii=False) for v in before.values() for _, a in v)
    published = time.monotonic()
    revision = asyncio.run(_publish(deployment.database_url, "mang giấy tờ tùy thân", "mang căn cước (bản mới)"))
    serving: dict[int, float] = {}
    deadline = published + 30
    while len(serving) < 2:
        assert time.monotonic() < deadline, f"only workers {sorted(serving)} serve the new revision"
        for index, answers in deployment.workers("/api/chat", ask, attempts=16, want=1).items():
            if any("(bản mới)" in json.dumps(a, ensure_ascii=False) for _, a in answers):
                serving.setdefault(index, time.monotonic() - published)
        time.sleep(0.2)
    assert sorted(serving) == [0, 1]
    health = deployment.workers()
    # The published row's id, not a count: PostgreSQL's sequence skips the id a losing seed took.
    assert {h["content"]["revision"] for answers in health.values() for _, h in answers} == {revision}
    # Polled every content.reload_interval (2 s): each worker within a few seconds.
    assert max(serving.values()) < 10, serving
    print(f"\nnew revision served by worker 0 after {serving[0]:.1f} s, worker 1 after {serving[1]:.1f} s")
    assert deployment.stop() == 0
