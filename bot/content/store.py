"""The live content: one immutable snapshot (pack + matcher), swapped atomically on reload.

A broken edit is refused and logged; the last good snapshot keeps serving.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.content.loader import Problem, fingerprint, load_pack
from bot.content.model import ContentPack
from bot.matching import Matcher, MatchParams

log = logging.getLogger(__name__)


class ContentError(Exception):
    """The content could not be loaded at all; ``problems`` says why, file by file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [str(p) for p in problems if not p.warning]
        super().__init__("nội dung có lỗi:\n" + "\n".join(errors))


def return_freed_memory() -> None:
    """Hand the heap freed by a (re)load back to the system.

    Loading and indexing 10,000 entries frees tens of MB of temporaries that glibc would keep
    in the process for good (issue 10). Elsewhere than glibc, nothing to do.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class Snapshot:
    pack: ContentPack
    matcher: Matcher


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(not p.warning for p in self.problems)


class ContentStore:
    def __init__(self, root: Path, values: Mapping[str, str], params: MatchParams) -> None:
        self.root = root
        self.values = dict(values)
        self.params = params
        self._current: Snapshot | None = None
        self._seen_fingerprint: str | None = None
        self.last_problems: list[Problem] = []

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("content not loaded")
        return self._current

    def _build(self) -> tuple[Snapshot | None, list[Problem], str]:
        seen = fingerprint(self.root)
        pack, problems = load_pack(self.root, self.values)
        snapshot = None if pack is None else Snapshot(
            pack, Matcher(pack.entries.values(), pack.lexicon, self.params))
        return_freed_memory()
        return snapshot, problems, seen

    def load(self) -> list[Problem]:
        """First load: without good content the bot cannot start."""
        snapshot, problems, seen = self._build()
        if snapshot is None:
            raise ContentError(problems)
        self._current, self._seen_fingerprint, self.last_problems = snapshot, seen, problems
        return problems

    def reload(self, force: bool = False) -> ReloadResult:
        """Reload if files changed (or ``force``); keep the last good snapshot on errors."""
        if not force and fingerprint(self.root) == self._seen_fingerprint:
            return ReloadResult(False, self.last_problems)
        snapshot, problems, seen = self._build()
        self._seen_fingerprint = seen
        self.last_problems = problems
        if snapshot is None:
            for problem in problems:
                log.error("content reload refused: %s", problem)
            return ReloadResult(False, problems)
        self._current = snapshot
        return_freed_memory()  # the old snapshot's too, when no message is still using it
        log.info("content reloaded: %d entries, %d campaigns",
                 len(snapshot.pack.entries), len(snapshot.pack.campaigns))
        return ReloadResult(True, problems)

    async def watch(self, interval: float) -> None:
        """Poll the content folder and reload on change, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload)
            except Exception:  # a reload bug must never stop the watcher
                log.exception("content reload failed")
