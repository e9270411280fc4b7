"""The live content: one immutable snapshot (pack + matcher), swapped atomically on reload.

A broken edit is refused and logged; the last good snapshot keeps serving. A large pack is
read and indexed in a separate process (see ``build_apart``).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import pickle
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.child import run_python
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


Built = tuple[Snapshot | None, list[Problem], str]  # the snapshot, what is wrong, the fingerprint


def build(root: Path, values: Mapping[str, str], params: MatchParams) -> Built:
    seen = fingerprint(root)
    pack, problems = load_pack(root, values)
    snapshot = None if pack is None else Snapshot(
        pack, Matcher(pack.entries.values(), pack.lexicon, params))
    return snapshot, problems, seen


def _build_main() -> None:
    """The child's side of ``build_apart``: arguments as JSON on stdin, the result to a file."""
    job = json.load(sys.stdin)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in job["params"].items()}
    built = build(Path(job["root"]), job["values"], MatchParams(**params))
    with open(job["into"], "wb") as out:
        pickle.dump(built, out, protocol=pickle.HIGHEST_PROTOCOL)


def build_apart(root: Path, values: Mapping[str, str], params: MatchParams) -> Built:
    """``build`` in a fresh child process, the result read back from a file.

    Parsing 10,000 files leaves the heap strewn with freed YAML and validation temporaries that
    a long-running process keeps (~30 MB, issue 10), and it holds the GIL for seconds, during
    which a server reloading in a thread answers no one. In a child, all of that stays there:
    the server only reads the finished snapshot (built with process-independent term hashes).
    The file is read as a stream, so the pickle never sits whole in memory beside the snapshot.
    """
    with tempfile.NamedTemporaryFile(prefix="cchc-content-", suffix=".pickle") as result:
        job = {"root": str(root), "values": dict(values), "params": asdict(params),
               "into": result.name}
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
                 apart_from_files: int | None = None) -> None:
        """``apart_from_files``: with this many content files or more, (re)loads run in a child
        process (``build_apart``); None: never. Small packs are quicker to load in place than a
        child is to start."""
        self.root = root
        self.values = dict(values)
        self.params = params
        self.apart_from_files = apart_from_files
        self._current: Snapshot | None = None
        self._seen_fingerprint: str | None = None
        self.last_problems: list[Problem] = []

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("content not loaded")
        return self._current

    def _build(self) -> Built:
        if self.apart_from_files is not None and \
                sum(1 for _ in self.root.rglob("*.md")) >= self.apart_from_files:
            try:
                return build_apart(self.root, self.values, self.params)
            except Exception:  # e.g. no process could be started: load here, as small packs do
                log.exception("content: loading in a separate process failed; loading here")
        built = build(self.root, self.values, self.params)
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
