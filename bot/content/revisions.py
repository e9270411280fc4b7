"""Where the content's truth lives once editors publish from the dashboard.

- The database holds it: ``content_file`` has the current text of every content file (paths
  relative to ``content/``), ``content_revision`` every published change (who, when, why, each
  changed file's text before and after). The first process that finds no revision imports the
  ``content/`` folder on disk as revision 1 (the seed).
- Every process polls the newest revision id (one indexed ``max(id)``); when it changes, it
  writes that revision's files into a folder of its own (``r<id>/content`` under the data
  folder) and points its ContentStore there. Parsing and checks stay the loader's.
- Files edited on disk still work: the follower notices which files changed on disk since it
  last looked and imports just those as a new revision ("the later change wins"; the text it
  replaces stays in the revision's ``before``, so nothing is lost and it can be restored).
- ``cchc-bot content export`` writes the current files; ``content import`` takes a folder in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.config import Settings
from bot.content.loader import Problem, today
from bot.content.store import ContentStore, Snapshot, build, build_apart
from bot.matching import MatchParams
from bot.storage.db import Database
from bot.storage.models import ContentFile, ContentRevision

log = logging.getLogger(__name__)
SUFFIXES = {".md", ".yaml", ".yml"}
SKIPPED = {"README.md"}  # the editors' guide lives beside the content, it is not content
KEEP_FOLDERS = 4  # materialised revisions kept per process folder (older ones are removed)
Files = dict[str, str]


class RevisionError(Exception):
    """A refusal to show the editor (Vietnamese)."""


class Conflict(RevisionError):
    """Someone published the same file after the editor opened it."""

    def __init__(self, path: str, revision: ContentRevision, base_text: str | None, their_text: str | None) -> None:
        self.path, self.revision, self.base_text, self.their_text = path, revision, base_text, their_text
        super().__init__(f"tệp {path} vừa được {revision.author} sửa (bản #{revision.id}) sau khi Anh/Chị mở nó")


class Refused(RevisionError):
    """The content with this change has errors: nothing was published."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [str(p) for p in problems if not p.warning]
        super().__init__("nội dung có lỗi, chưa được đưa lên:\n" + "\n".join(errors))


def read_folder(root: Path) -> Files:
    """Every content file under ``root`` (Markdown and YAML), by path relative to it."""
    files: Files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.suffix not in SUFFIXES or rel in SKIPPED or rel.startswith("."):
            continue
        try:
            files[rel] = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RevisionError(f"{path}: tệp không phải UTF-8 ({exc.reason})") from exc
    return files


def write_folder(files: Mapping[str, str], root: Path) -> None:
    for rel, text in files.items():
        target = root / rel
        if not target.resolve().is_relative_to(root.resolve()):
            raise RevisionError(f"đường dẫn không hợp lệ: {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def check(files: Mapping[str, str], values: Mapping[str, str], params: MatchParams,
          apart_from: int | None = None) -> tuple[Snapshot | None, list[Problem]]:
    """The loader's own checks (and a matcher) on a set of files that is not published yet.
    Problems name paths as ``content/<path>``, as they do for a deployment's content folder.
    ``apart_from``: with this many files or more, in a child process (as the store loads them),
    so a big pack's seconds of parsing do not hold up the server's answers."""
    with tempfile.TemporaryDirectory(prefix="cchc-check-") as tmp:
        root = Path(tmp) / "content"
        write_folder(files, root)
        big = apart_from is not None and len(files) >= apart_from
        snapshot, problems, _ = (build_apart if big else build)(root, values, params, today())
    return snapshot, problems


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the database side ---------------------------------------------------------------------


async def head(database: Database) -> int:
    async with database.session() as session:
        return (await session.exec(select(func.max(ContentRevision.id)))).one() or 0


async def current(database: Database) -> dict[str, ContentFile]:
    async with database.session() as session:
        return {row.path: row for row in (await session.exec(select(ContentFile))).all()}


async def current_texts(database: Database) -> Files:
    return {path: row.text for path, row in (await current(database)).items()}


async def revision(database: Database, revision_id: int) -> ContentRevision | None:
    async with database.session() as session:
        return await session.get(ContentRevision, revision_id)


@dataclass(frozen=True)
class Summary:
    """A revision without its texts (a seed of 10,000 files carries them all)."""

    id: int
    created_at: dt.datetime
    author: str
    kind: str
    reason: str
    paths: list[str]


async def history(database: Database, limit: int = 100, path: str | None = None) -> list[Summary]:
    """The newest revisions first; ``path``: only those that changed it."""
    query = select(ContentRevision.id, ContentRevision.created_at, ContentRevision.author,  # type: ignore[call-overload]
                   ContentRevision.kind, ContentRevision.reason, ContentRevision.paths,
                   ).order_by(col(ContentRevision.id).desc())  # (sqlmodel types select() up to 4 columns)
    async with database.session() as session:
        rows = [Summary(*row) for row in (await session.exec(query if path else query.limit(limit))).all()]
    return [r for r in rows if path in r.paths][:limit] if path else rows


async def publish(database: Database, changes: Mapping[str, str | None], *, author: str, kind: str, reason: str,
                  expected: Mapping[str, int | None] | None = None) -> ContentRevision | None:
    """Record one revision: ``changes`` maps a path to its new text (None: the file goes).

    ``expected``: the revision each file was at when the editor opened it (None: it did not
    exist); a file changed since is a Conflict. Files whose text does not change are left out;
    nothing left: None. Two publishes racing on the same head cannot both land (parent is
    unique): the loser checks again on the new head.
    """
    for _ in range(5):
        try:
            return await _publish_once(database, changes, author, kind, reason, expected)
        except IntegrityError:
            await asyncio.sleep(0.05)  # another revision landed first: look again
    raise RevisionError("nhiều người đang đưa nội dung lên cùng lúc; Anh/Chị thử lại sau ít giây")


async def _publish_once(database: Database, changes: Mapping[str, str | None], author: str, kind: str,
                        reason: str, expected: Mapping[str, int | None] | None) -> ContentRevision | None:
    async with database.session() as session:
        rows = {r.path: r for r in (await session.exec(
            select(ContentFile).where(col(ContentFile.path).in_(list(changes))))).all()}
        for path in changes:
            if expected is None or path not in expected:
                continue
            now_at = rows[path].revision_id if path in rows else None
            if now_at != expected[path]:
                theirs = await session.get(ContentRevision, now_at) if now_at else None
                base = await session.get(ContentRevision, expected[path]) if expected[path] else None
                if theirs is None:  # the file was removed since
                    theirs = (await session.exec(select(ContentRevision).order_by(
                        col(ContentRevision.id).desc()).limit(1))).one()
                base_text = base.changes.get(path, [None, None])[1] if base is not None else None
                raise Conflict(path, theirs, base_text, rows[path].text if path in rows else None)
        real = {p: [rows[p].text if p in rows else None, text] for p, text in changes.items()
                if (rows[p].text if p in rows else None) != text}
        if not real:
            return None
        parent = (await session.exec(select(func.max(ContentRevision.id)))).one() or 0
        row = ContentRevision(parent=parent, author=author[:64], kind=kind[:16], reason=reason[:500], changes=real,
                              paths=sorted(real))
        session.add(row)
        await session.flush()
        for path, (_, text) in real.items():
            if text is None:
                await session.delete(rows[path])
            elif path in rows:
                rows[path].text, rows[path].revision_id = text, row.id  # type: ignore[assignment]
                session.add(rows[path])
            else:
                session.add(ContentFile(path=path, text=text, revision_id=row.id))  # type: ignore[arg-type]
        await session.commit()
        return row


async def state_at(database: Database, revision_id: int) -> Files:
    """The files as they were right after ``revision_id``: today's, with every later change undone."""
    async with database.session() as session:
        later = (await session.exec(select(ContentRevision).where(col(ContentRevision.id) > revision_id)
                                    .order_by(col(ContentRevision.id).desc()))).all()
    files = await current_texts(database)
    for row in later:
        for path, (before, _) in row.changes.items():
            if before is None:
                files.pop(path, None)
            else:
                files[path] = before
    return files


async def restore(database: Database, revision_id: int, *, author: str, reason: str, values: Mapping[str, str],
                  params: MatchParams, apart_from: int | None = None) -> ContentRevision | None:
    """Bring every file back to how it was after ``revision_id``, as one new revision."""
    rows = await current(database)
    target = await state_at(database, revision_id)
    changes = {p: target.get(p) for p in set(rows) | set(target)
               if target.get(p) != (rows[p].text if p in rows else None)}
    _, problems = await asyncio.to_thread(check, target, values, params, apart_from)
    if any(not p.warning for p in problems):
        raise Refused(problems)
    expected = {p: rows[p].revision_id if p in rows else None for p in changes}
    return await publish(database, changes, author=author, kind="restore", expected=expected,
                         reason=reason or f"Khôi phục bản #{revision_id}")


async def seed(database: Database, root: Path) -> bool:
    """The first process to find no revision imports ``root`` (the content folder) as revision 1."""
    if await head(database):
        return False
    files = await asyncio.to_thread(read_folder, root)
    try:
        row = await publish(database, files, author="hệ thống", kind="seed",
                            reason=f"Nội dung ban đầu từ thư mục {root.name}/", expected=dict.fromkeys(files))
    except Conflict:
        return False  # another process seeded first
    return row is not None


async def import_files(database: Database, files: Mapping[str, str | None], *, author: str, kind: str, reason: str,
                       values: Mapping[str, str], params: MatchParams,
                       apart_from: int | None = None) -> ContentRevision | None:
    """Take files (e.g. edited on disk) in as a new revision: the later change wins, and what
    it replaces stays in history. Refused (Refused) when the result would have errors."""
    rows = await current(database)
    merged = {p: r.text for p, r in rows.items()}
    for path, text in files.items():
        if text is None:
            merged.pop(path, None)
        else:
            merged[path] = text
    _, problems = await asyncio.to_thread(check, merged, values, params, apart_from)
    if any(not p.warning for p in problems):
        raise Refused(problems)
    overridden = sorted({f"{p} (bản #{rows[p].revision_id})" for p, t in files.items()
                         if p in rows and rows[p].text != t and rows[p].revision_id not in (None,)})
    note = reason + (f"; thay cho: {', '.join(overridden)}" if overridden else "")
    return await publish(database, files, author=author, kind=kind, reason=note[:500])


# --- every process follows the newest revision ----------------------------------------------


@dataclass
class Follower:
    """One process's view: which revision it serves, where its files are, what the disk held."""

    store: ContentStore
    database: Database
    folder: Path  # this process's materialised revisions
    disk: Path  # the deployment's content folder (the seed, and files edited on disk)
    watch_disk: bool = True
    loaded: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # the poll and a publishing page

    @property
    def manifest(self) -> Path:
        """What the disk held when this machine last looked (shared by its workers)."""
        return self.folder.parent / f"disk-seen-{digest(str(self.disk.resolve()))[:12]}.json"

    def _disk_seen(self) -> dict[str, str] | None:
        try:
            return json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _remember_disk(self, files: Files) -> None:
        tmp = self.manifest.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({p: digest(t) for p, t in files.items()}), encoding="utf-8")
        tmp.replace(self.manifest)

    async def _import_disk_changes(self) -> None:
        disk = await asyncio.to_thread(read_folder, self.disk)
        seen = self._disk_seen()
        if seen is None:  # first look on this machine: the disk is what the seed (or git) had
            self._remember_disk(disk)
            return
        changed: dict[str, str | None] = {p: t for p, t in disk.items() if seen.get(p) != digest(t)}
        changed |= {p: None for p in seen if p not in disk}
        if not changed:
            return
        self._remember_disk(disk)
        try:
            row = await import_files(self.database, changed, author="tệp trên máy chủ", kind="files",
                                     reason="Sửa trực tiếp tệp trong thư mục nội dung", values=self.store.values,
                                     params=self.store.params, apart_from=self.store.apart_from_files)
        except Refused as exc:
            self.store.last_problems = exc.problems
            for problem in exc.problems:
                log.error("content: the files edited on disk were not taken in: %s", problem)
            return
        if row is not None:
            log.info("content: files edited on disk taken in as revision %d: %s", row.id, ", ".join(row.changes))

    def materialise(self, revision_id: int, files: Mapping[str, str]) -> Path:
        """``r<id>/content`` under this process's folder, written whole before it is used."""
        final = self.folder / f"r{revision_id}"
        if not (final / "content").is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=f".r{revision_id}-", dir=self.folder))
            write_folder(files, tmp / "content")
            try:
                tmp.rename(final)
            except OSError:  # another worker of this machine wrote it first
                shutil.rmtree(tmp, ignore_errors=True)
        old = sorted((p for p in self.folder.glob("r*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:]))
        for stale in old[:-KEEP_FOLDERS]:
            shutil.rmtree(stale, ignore_errors=True)
        return final / "content"

    def _remove_gone_processes(self) -> None:
        for other in self.folder.parent.iterdir():
            pid = other.name.split("-")[0]
            if other.is_dir() and pid.isdigit() and other != self.folder and not _alive(int(pid)):
                shutil.rmtree(other, ignore_errors=True)

    async def sync(self, disk: bool | None = None) -> bool:
        """Take in disk edits (``disk``; None: if this follower watches the disk), then serve
        the newest revision if it is not served yet."""
        async with self._lock:
            return await self._sync(self.watch_disk if disk is None else disk)

    async def _sync(self, disk: bool) -> bool:
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True)
            self._remove_gone_processes()
        if await seed(self.database, self.disk):
            self._remember_disk(await asyncio.to_thread(read_folder, self.disk))
        elif disk:
            await self._import_disk_changes()
        newest = await head(self.database)
        if newest == self.loaded:
            return False
        files = await current_texts(self.database)
        root = await asyncio.to_thread(self.materialise, newest, files)
        self.store.root = root
        result = await asyncio.to_thread(self.store.reload, True)
        self.loaded = newest
        if result.changed:
            log.info("content: serving revision %d", newest)
        return result.changed

    async def take_in_disk(self) -> list[Problem]:
        """Files edited on the server's disk taken in now, not at the next poll (the dashboard's
        button, Telegram's /reload); returns the problems of the latest edit (an error: refused,
        the last good content still served)."""
        await self.sync(disk=True)
        return list(self.store.last_problems)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


_FOLLOWERS: WeakKeyDictionary[ContentStore, Follower] = WeakKeyDictionary()


def follower(bot: Any, folder: Path | None = None) -> Follower:
    """The process's Follower for ``bot`` (one per content store)."""
    return follower_of(bot.content, bot.database, bot.settings, folder)


def follower_of(store: ContentStore, database: Database, settings: Settings, folder: Path | None = None) -> Follower:
    """The process's Follower of ``store``, made on first use: in each worker process, never in
    the parent that forks them (each worker materialises into a folder of its own)."""
    found = _FOLLOWERS.get(store)
    if found is None:
        found = Follower(store, database, folder or default_folder(settings.database.url),
                         Path(settings.content.path), watch_disk=settings.content.reload)
        _FOLLOWERS[store] = found
    return found


def default_folder(database_url: str) -> Path:
    """Beside the SQLite file; ``data/`` otherwise. One folder per process (and store): workers
    do not share materialised files, so no worker ever reads a folder another is removing."""
    from sqlalchemy.engine import make_url

    parsed = make_url(database_url)
    base = Path(parsed.database).parent if parsed.get_backend_name() == "sqlite" and parsed.database \
        not in (None, "", ":memory:") else Path("data")
    return base / "content-revisions" / f"{os.getpid()}-{secrets.token_hex(4)}"
