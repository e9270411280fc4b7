"""The live content: one immutable snapshot (pack + matcher), swapped atomically on reload.

A broken edit is refused and logged; the last good snapshot keeps serving. A large pack is
read and indexed in a separate process (see ``build_apart``).
"""

from __future__ import annotations

import asyncio
import ctypes
import datetime as dt
import json
import logging
import pickle
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.child import run_python
from bot.content.loader import TIMEZONE, Problem, fingerprint, load_pack
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

    def on(self, day: dt.date) -> Snapshot:
        """The snapshot for another day: the versions in force then, the fees in force then.

        The matcher is rebuilt only when another version of some entry is in force (or none
        is): a temporary fee ending changes no way of asking.
        """
        pack = self.pack.on(day)
        if pack is self.pack:
            return self
        old, new = self.pack.entries, pack.entries
        same = all((old[i].path if i in old else None) == (new[i].path if i in new else None)
                   for i in pack.versions)
        matcher = self.matcher if same else Matcher(new.values(), pack.lexicon, self.matcher.params)
        return Snapshot(pack, matcher)


Built = tuple[Snapshot | None, list[Problem], str]  # the snapshot, what is wrong, the fingerprint
Clock = Callable[[], dt.datetime]


def vietnam_today(clock: Clock) -> dt.date:
    return clock().astimezone(TIMEZONE).date()


def build(root: Path, values: Mapping[str, str], params: MatchParams, day: dt.date | None = None) -> Built:
    seen = fingerprint(root)
    pack, problems = load_pack(root, values, day)
    snapshot = None if pack is None else Snapshot(
        pack, Matcher(pack.entries.values(), pack.lexicon, params))
    return snapshot, problems, seen


def _build_main() -> None:
    """The child's side of ``build_apart``: arguments as JSON on stdin, the result to a file."""
    job = json.load(sys.stdin)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in job["params"].items()}
    built = build(Path(job["root"]), job["values"], MatchParams(**params), dt.date.fromisoformat(job["day"]))
    with open(job["into"], "wb") as out:
        pickle.dump(built, out, protocol=pickle.HIGHEST_PROTOCOL)


def build_apart(root: Path, values: Mapping[str, str], params: MatchParams, day: dt.date) -> Built:
    """``build`` in a fresh child process, the result read back from a file.

    Parsing 10,000 files leaves the heap strewn with freed YAML and validation temporaries that
    a long-running process keeps (~30 MB, issue 10), and it holds the GIL for seconds, during
    which a server reloading in a thread answers no one. In a child, all of that stays there:
    the server only reads the finished snapshot (built with process-independent term hashes).
    The file is read as a stream, so the pickle never sits whole in memory beside the snapshot.
    """
    with tempfile.NamedTemporaryFile(prefix="cchc-content-", suffix=".pickle") as result:
        job = {"root": str(root), "values": dict(values), "params": asdict(params),
               "into": result.name, "day": day.isoformat()}
        code = run_python("from bot.content.store import _build_main; _build_main()", stdin=json.dumps(job))
        if code != 0:
            raise RuntimeError(f"the content loader process failed (exit {code}); the error is above")
        return pickle.load(result)


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(not p.warning for p in self.problems)


class ContentStore:
    def __init__(self, root: Path, values: Mapping[str, str], params: MatchParams,
                 apart_from_files: int | None = None, clock: Clock | None = None) -> None:
        """``apart_from_files``: with this many content files or more, (re)loads run in a child
        process (``build_apart``); None: never. Small packs are quicker to load in place than a
        child is to start. ``clock``: what time it is (aware), for the versions in force."""
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._day_lock = threading.Lock()
        self.root = root
        self.values = dict(values)
        self.params = params
        self.apart_from_files = apart_from_files
        self._current: Snapshot | None = None
        self._seen_fingerprint: str | None = None
        self.last_problems: list[Problem] = []

    @property
    def current(self) -> Snapshot:
        """The snapshot for today in Vietnam: after midnight, the next day's (no file is read)."""
        snapshot = self._current
        if snapshot is None:
            raise RuntimeError("content not loaded")
        day = vietnam_today(self.clock)
        if snapshot.pack.day == day:
            return snapshot
        with self._day_lock:  # one thread moves to the new day; the others then find it done
            snapshot = self._current
            assert snapshot is not None
            if snapshot.pack.day != day:
                self._current = snapshot = snapshot.on(day)
                log.info("content: serving the versions in force on %s", day.isoformat())
        return snapshot

    def _build(self) -> Built:
        day = vietnam_today(self.clock)
        if self.apart_from_files is not None and \
                sum(1 for _ in self.root.rglob("*.md")) >= self.apart_from_files:
            try:
                return build_apart(self.root, self.values, self.params, day)
            except Exception:  # e.g. no process could be started: load here, as small packs do
                log.exception("content: loading in a separate process failed; loading here")
        built = build(self.root, self.values, self.params, day)
        return_freed_memory()
        return built

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
        with self._day_lock:  # not while the old snapshot moves to a new day: that would undo this
            self._current = snapshot
        return_freed_memory()  # the old snapshot's too, when no message is still using it
        log.info("content reloaded: %d entries, %d campaigns",
                 len(snapshot.pack.entries), len(snapshot.pack.campaigns))
        return ReloadResult(True, problems)

    async def watch(self, interval: float) -> None:
        """Poll the content folder and reload on change, until cancelled; after midnight, move to
        the new day's versions here rather than in the first message's turn."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload)
                await asyncio.to_thread(lambda: self.current)
            except Exception:  # a reload bug must never stop the watcher
                log.exception("content reload failed")
