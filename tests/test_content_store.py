"""Live content: reload picks up edits; a broken edit is refused, the last good content serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Office
from bot.content.store import ContentError, ContentStore
from bot.matching import MatchParams
from tests.packs import KET_HON, KHAI_SINH, replace_line, write_pack

VALUES = Office().template_values()

KHAI_TU = """\
---
id: khai-tu
title: Đăng ký khai tử cần giấy tờ gì?
aliases:
  - làm giấy chứng tử
  - báo tử cho người nhà
  - thủ tục khai tử
  - người thân mất làm giấy tờ gì
  - dang ky khai tu
  - giấy báo tử
category: ho-tich
source: Luật Hộ tịch 2014
updated: 2026-11-01
---
Dạ, người thân của người đã mất mang giấy báo tử tới {{ office.name }}.
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "content")


@pytest.fixture
def store(root: Path) -> ContentStore:
    store = ContentStore(root, VALUES, MatchParams())
    assert store.load() == []
    return store


def answers(store: ContentStore, question: str) -> str | None:
    match = store.current.matcher.match(question)
    return match.best.id if match.outcome == "answer" and match.best else None


def test_load_serves_the_pack(store: ContentStore) -> None:
    assert set(store.current.pack.entries) == {"khai-sinh", "ket-hon"}
    assert answers(store, "đăng ký kết hôn làm thế nào") == "ket-hon"
    assert answers(store, "dang ky khai sinh can giay to gi") == "khai-sinh"


def test_current_before_load_is_an_error(root: Path) -> None:
    with pytest.raises(RuntimeError):
        _ = ContentStore(root, VALUES, MatchParams()).current


def test_first_load_of_broken_content_raises_with_the_problems(root: Path) -> None:
    (root / "faq" / "khai-sinh.md").write_text(replace_line(KHAI_SINH, 17, "#"), "utf-8")
    store = ContentStore(root, VALUES, MatchParams())
    with pytest.raises(ContentError) as exc:
        store.load()
    assert "content/faq/khai-sinh.md:2: thiếu trường 'source'" in str(exc.value)
    assert [str(p) for p in exc.value.problems] == [
        "content/faq/khai-sinh.md:2: thiếu trường 'source'"
    ]


def test_reload_without_changes_does_nothing(store: ContentStore) -> None:
    before = store.current
    result = store.reload()
    assert not result.changed
    assert result.ok
    assert store.current is before


def test_reload_picks_up_a_changed_file(root: Path, store: ContentStore) -> None:
    assert "khai-tu" not in store.current.pack.entries
    (root / "faq" / "khai-tu.md").write_text(KHAI_TU, encoding="utf-8")
    new_title = "Đăng ký kết hôn ở đâu, cần mang gì?"
    ket_hon = replace_line(KET_HON, 3, f"title: {new_title}")
    (root / "faq" / "ket-hon.md").write_text(ket_hon, encoding="utf-8")

    result = store.reload()

    assert result.changed
    assert result.ok
    assert set(store.current.pack.entries) == {"khai-sinh", "ket-hon", "khai-tu"}
    assert store.current.pack.entries["ket-hon"].title == new_title
    assert answers(store, "thủ tục khai tử") == "khai-tu"


def test_broken_edit_is_refused_and_last_good_content_keeps_serving(
    root: Path, store: ContentStore
) -> None:
    good = store.current
    path = root / "faq" / "ket-hon.md"
    path.write_text(KET_HON.replace("category: ho-tich", "category: [ho-tich"), encoding="utf-8")

    result = store.reload()

    assert not result.ok
    assert not result.changed
    assert result.problems
    assert all(p.path == "content/faq/ket-hon.md" for p in result.problems if not p.warning)
    assert any(str(p).startswith("content/faq/ket-hon.md:") for p in result.problems)
    assert store.current is good  # the previous snapshot still serves
    assert answers(store, "đăng ký kết hôn làm thế nào") == "ket-hon"
    assert store.last_problems == result.problems

    # polling again without a new edit does not pretend the problem went away
    again = store.reload()
    assert not again.ok and not again.changed
    assert store.current is good

    # fixing the file reloads
    path.write_text(replace_line(KET_HON, 3, "title: Đăng ký kết hôn cần những gì?"), "utf-8")
    fixed = store.reload()
    assert fixed.ok and fixed.changed
    assert store.current is not good
    assert store.current.pack.entries["ket-hon"].title == "Đăng ký kết hôn cần những gì?"
    assert store.last_problems == []


def test_deleting_a_referenced_entry_is_refused(root: Path, store: ContentStore) -> None:
    good = store.current
    (root / "faq" / "ket-hon.md").unlink()
    result = store.reload()
    assert not result.ok
    assert [str(p) for p in result.problems] == [
        "content/faq/khai-sinh.md:13: 'related' trỏ tới mục không tồn tại: 'ket-hon'"
    ]
    assert store.current is good


def test_force_reload_rebuilds_even_without_changes(store: ContentStore) -> None:
    before = store.current
    result = store.reload(force=True)
    assert result.changed and result.ok
    assert store.current is not before
    assert set(store.current.pack.entries) == set(before.pack.entries)


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_watch_picks_up_a_change(root: Path, store: ContentStore) -> None:
    task = asyncio.create_task(store.watch(0.05))
    try:
        (root / "faq" / "khai-tu.md").write_text(KHAI_TU, encoding="utf-8")
        assert await wait_for(lambda: "khai-tu" in store.current.pack.entries)
        assert answers(store, "thủ tục khai tử") == "khai-tu"

        # a broken edit while watching: refused, the last good content keeps serving
        good = store.current
        (root / "faq" / "khai-tu.md").write_text(KHAI_TU.replace("source:", "nguon:"), "utf-8")
        assert await wait_for(lambda: any(not p.warning for p in store.last_problems))
        assert store.current is good
        assert not task.done()  # the watcher survives bad content
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled()


# --- big packs load in a child process (the parsing garbage stays out of the server) ---


def test_a_pack_built_apart_answers_exactly_as_one_built_in_place() -> None:
    """The index crosses processes: its term hashes must not depend on the process."""
    from bot.config import BUNDLED_CONTENT
    from bot.evaluation import load_eval_set

    here = ContentStore(BUNDLED_CONTENT, VALUES, MatchParams())
    here.load()
    apart = ContentStore(BUNDLED_CONTENT, VALUES, MatchParams(), apart_from_files=0)
    apart.load()

    def decision(store: ContentStore, query: str) -> tuple:
        match = store.current.matcher.match_fresh(query)
        return match.outcome, [(c.id, round(c.score, 9)) for c in match.candidates]

    queries = [q for q, _ in load_eval_set().in_scope]
    assert [decision(apart, q) for q in queries] == [decision(here, q) for q in queries]
    entry = here.current.pack.entries["khai-sinh"]
    assert apart.current.pack.entries["khai-sinh"].body == entry.body
    assert apart.current.pack.entries["khai-sinh"].procedure == entry.procedure


def test_broken_content_built_apart_is_reported_and_refused_the_same_way(root: Path) -> None:
    path = root / "faq" / "khai-sinh.md"
    path.write_text(replace_line(KHAI_SINH, 17, "#"), "utf-8")
    store = ContentStore(root, VALUES, MatchParams(), apart_from_files=0)
    with pytest.raises(ContentError) as exc:
        store.load()
    assert [str(p) for p in exc.value.problems] == ["content/faq/khai-sinh.md:2: thiếu trường 'source'"]

    path.write_text(KHAI_SINH, "utf-8")
    assert store.load() == []
    good = store.current
    (root / "faq" / "ket-hon.md").write_text(KET_HON.replace("category: ho-tich", "category: [ho-tich"), "utf-8")
    result = store.reload()
    assert not result.ok and not result.changed
    assert store.current is good
    assert answers(store, "đăng ký kết hôn làm thế nào") == "ket-hon"


def test_only_packs_of_the_threshold_size_load_apart(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.content import store as store_module

    calls = []
    real = store_module.build_apart
    monkeypatch.setattr(store_module, "build_apart", lambda *a: calls.append(a) or real(*a))
    files = len(list(root.rglob("*.md")))  # two FAQ entries and a campaign
    ContentStore(root, VALUES, MatchParams(), apart_from_files=files + 1).load()
    assert calls == []
    ContentStore(root, VALUES, MatchParams(), apart_from_files=files).load()
    assert len(calls) == 1


def test_when_no_child_can_start_the_pack_loads_in_place(
    root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("sys.executable", str(root / "no-such-python"))
    store = ContentStore(root, VALUES, MatchParams(), apart_from_files=0)
    assert store.load() == []
    assert answers(store, "dang ky khai sinh can giay to gi") == "khai-sinh"
    assert "loading in a separate process failed" in caplog.text
