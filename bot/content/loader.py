"""Read ``content/`` into a ContentPack, and say exactly what is wrong where.

Every problem names the file and line (and the field when there is one) so an editor who is
not a programmer can fix it. The loader never raises on bad content: it returns problems,
and the caller decides whether the pack is usable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot import text as vtext
from bot.clock import TIMEZONE, today  # re-exported: the content speaks of days in Vietnam
from bot.content import template
from bot.content.answer import answer_text
from bot.content.model import (
    Campaign,
    CampaignFrontMatter,
    Category,
    ContentPack,
    FaqEntry,
    FaqFrontMatter,
    Fee,
    Language,
    LegalBasis,
    Link,
    Procedure,
    ProcedureSchema,
    Topic,
    Translation,
    TranslationFrontMatter,
    in_force,
)
from bot.lexicon import Lexicon

ZALO_LIMIT = 2000
TELEGRAM_LIMIT = 4096
MIN_ALIASES = 6
_MD_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "cảnh báo: " if self.warning else ""
        return f"{self.path}:{self.line}: {kind}{self.message}"


class _RefuseDuplicateKeys:
    """Refuses a key written twice in one mapping.

    Plain YAML silently keeps the last one, so an editor's first definition would vanish
    without a word.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"'{key_node.value}' được viết hai lần", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)  # type: ignore[misc]


class _FastLoader(_RefuseDuplicateKeys, yaml.CSafeLoader):
    """libyaml's parser: the pure-Python one took ~90% of loading 10,000 entries (issue 10)."""


class _WordedLoader(_RefuseDuplicateKeys, yaml.SafeLoader):
    """The pure-Python parser, for broken files only: its error messages are the ones editors
    have learnt ("mapping values are not allowed here"), libyaml words them differently."""


def _compose_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines[path] = node.start_mark.line
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key: loading refuses it with its line
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line
            _compose_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _compose_lines(item, (*path, index), lines)


def _parse_yaml(text: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML and return the data plus a map from field path to 0-based line."""
    try:
        return _compose_and_construct(text, _FastLoader)
    except yaml.constructor.ConstructorError:
        raise  # the constructor is the same Python code in both: its message is already ours
    except yaml.YAMLError:
        return _compose_and_construct(text, _WordedLoader)


def _compose_and_construct(text: str, loader_class: type) -> tuple[Any, dict[tuple, int]]:
    """Compose once; the line numbers come from the nodes the data is constructed from."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[tuple, int] = {}
        _compose_lines(node, (), lines)
        try:
            data = loader.construct_document(node)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date that does not exist
            raise yaml.constructor.ConstructorError(
                None, None, f"giá trị không hợp lệ ({exc})", node.start_mark) from exc
        return data, lines
    finally:
        loader.dispose()


def _line_of(lines: dict[tuple, int], loc: tuple, offset: int) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 0) + offset


def _field_name(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _validation_problems(
    err: ValidationError, rel: str, lines: dict[tuple, int], offset: int
) -> list[Problem]:
    problems = []
    for item in err.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function")))
        name = _field_name(loc) or "(toàn bộ)"
        if item["type"] == "missing":
            message = f"thiếu trường '{name}'"
        elif item["type"] == "extra_forbidden":
            message = f"trường '{name}' không được hỗ trợ (viết sai tên trường?)"
        else:
            message = f"trường '{name}': {item['msg']}"
        problems.append(Problem(rel, _line_of(lines, loc, offset), message))
    return problems


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, 1-based line where the body starts) or None."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return None


def _read_markdown(
    path: Path, rel: str, schema: type[BaseModel], problems: list[Problem], expected: str | None = None
) -> tuple[BaseModel, str, int, dict[tuple, int]] | None:
    """The front matter and body; ``expected``: the id the file name gives (default its stem)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad saves UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, 1, f"tệp không phải UTF-8 ({exc.reason})"))
        return None
    split = _split_front_matter(text)
    if split is None:
        problems.append(Problem(rel, 1, "thiếu phần đầu '---' ... '---' (front matter YAML)"))
        return None
    front, body, body_line = split
    try:
        data, lines = _parse_yaml(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 2
        problems.append(Problem(rel, line, f"lỗi cú pháp YAML: {getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(rel, 2, "phần đầu phải là các cặp 'tên trường: giá trị'"))
        return None
    try:
        model = schema.model_validate(data)
    except ValidationError as err:
        problems.extend(_validation_problems(err, rel, lines, offset=2))
        return None
    if not body.strip():
        problems.append(Problem(rel, body_line, "nội dung câu trả lời đang trống"))
        return None
    expected = path.stem if expected is None else expected
    if getattr(model, "id", expected) != expected:
        problems.append(
            Problem(rel, _line_of(lines, ("id",), 2), f"id '{model.id}' phải trùng tên tệp '{expected}'")
        )
    return model, body.strip(), body_line, lines


def _read_yaml_list(
    path: Path, rel: str, schema: type[BaseModel], problems: list[Problem],
    item_lines: list[int] | None = None,
) -> list[Any]:
    """The items of a YAML list; ``item_lines`` receives each valid item's line."""
    if not path.exists():
        problems.append(Problem(rel, 1, "thiếu tệp"))
        return []
    try:
        data, lines = _parse_yaml(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, 1, f"tệp không phải UTF-8 ({exc.reason})"))
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(rel, mark.line + 1 if mark else 1,
                                f"lỗi cú pháp YAML: {getattr(exc, 'problem', None) or exc}"))
        return []
    if not isinstance(data, list):
        problems.append(Problem(rel, 1, "tệp phải là một danh sách các mục '- id: ...'"))
        return []
    items = []
    for index, raw in enumerate(data):
        try:
            items.append(schema.model_validate(raw))
            if item_lines is not None:
                item_lines.append(_line_of(lines, (index,), 1))
        except ValidationError as err:
            item_lines = {k[1:]: v for k, v in lines.items() if k and k[0] == index}
            for problem in _validation_problems(err, rel, item_lines, offset=1):
                line = problem.line if problem.line > 1 else _line_of(lines, (index,), 1)
                items_problem = Problem(rel, line, f"mục {index + 1}: {problem.message}")
                problems.append(items_problem)
    return items


def _read_lexicon(path: Path, rel: str, problems: list[Problem]) -> Lexicon:
    if not path.exists():
        return Lexicon()
    try:
        data, lines = _parse_yaml(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, 1, f"tệp không phải UTF-8 ({exc.reason})"))
        return Lexicon()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(rel, mark.line + 1 if mark else 1,
                                f"lỗi cú pháp YAML: {getattr(exc, 'problem', None) or exc}"))
        return Lexicon()
    data = data or {}
    sections: dict[str, dict[str, list[str]]] = {"abbreviations": {}, "synonyms": {}}
    if not isinstance(data, dict):
        problems.append(Problem(rel, 1, "tệp phải có hai mục 'abbreviations:' và 'synonyms:'"))
        return Lexicon()
    seen: dict[str, int] = {}
    deciding: list[str] = []
    for section, mapping in data.items():
        line = _line_of(lines, (section,), 1)
        if section == "deciding":
            deciding = _deciding_words(mapping, rel, lines, problems)
            continue
        if section not in sections:
            problems.append(Problem(rel, line, f"mục '{section}' không được hỗ trợ"))
            continue
        if not isinstance(mapping, dict):
            problems.append(Problem(rel, line, f"'{section}' phải là các cặp 'từ: [nghĩa]'"))
            continue
        for key, meanings in mapping.items():
            key_line = _line_of(lines, (section, key), 1)
            if isinstance(meanings, str):
                meanings = [meanings]
            if not isinstance(meanings, list) or not meanings or not all(
                isinstance(m, str) and m.strip() for m in meanings
            ):
                problems.append(Problem(rel, key_line, f"'{key}': nghĩa phải là danh sách chữ"))
                continue
            stripped = vtext.strip_diacritics(str(key)).strip()
            if section == "abbreviations" and (not stripped or " " in stripped):
                problems.append(Problem(rel, key_line, f"'{key}': từ viết tắt phải là một từ"))
                continue
            if stripped in seen:
                problems.append(
                    Problem(rel, key_line, f"'{key}' trùng với dòng {seen[stripped]} (không dấu)")
                )
                continue
            seen[stripped] = key_line
            sections[section][str(key)] = meanings
    return Lexicon.from_mapping(sections["abbreviations"], sections["synonyms"], deciding)


def _deciding_words(raw: object, rel: str, lines: dict, problems: list[Problem]) -> list[str]:
    """The lexicon's 'deciding:' list: words, each once (compared with their diacritics)."""
    if not isinstance(raw, list):
        problems.append(Problem(rel, _line_of(lines, ("deciding",), 1),
                                "'deciding' phải là danh sách từ, ví dụ: [mục đích, tạm vắng]"))
        return []
    words: list[str] = []
    seen: dict[str, int] = {}
    for index, word in enumerate(raw):
        line = _line_of(lines, ("deciding", index), 1)
        if not isinstance(word, str) or not vtext.strip_key(word):
            problems.append(Problem(rel, line, f"'deciding' mục {index + 1}: phải là một từ hoặc cụm từ"))
            continue
        key = vtext.normalize(word)
        if key in seen:
            problems.append(Problem(rel, line, f"'{word}' trùng với dòng {seen[key]}"))
            continue
        seen[key] = line
        words.append(word)
    return words


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".md", ".yaml", ".yml"}:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}\n".encode())
    return digest.hexdigest()


def fingerprint(root: Path) -> str:
    """Cheap change detector: names, sizes and modification times of content files."""
    return _fingerprint(root)


def _check_body(
    rel: str,
    line: int,
    body: str,
    values: Mapping[str, str],
    problems: list[Problem],
    rendered: str | None = None,
) -> None:
    """Variables, links and length; ``rendered`` is the whole reply when it is more than the body."""
    for name, offset in template.variables(body):
        if name not in values:
            known = ", ".join(sorted(values))
            at = line + body.count("\n", 0, offset)
            problems.append(Problem(rel, at, f"biến '{{{{ {name} }}}}' không tồn tại (có: {known})"))
    for match in _MD_LINK.finditer(body):
        url = template.render(match.group(2), values)
        if not re.match(r"^(https?://\S+|tel:\+?[0-9]+|mailto:\S+@\S+)$", url):
            at = line + body.count("\n", 0, match.start())
            problems.append(Problem(rel, at, f"liên kết '{match.group(0)}' không hợp lệ"))
    rendered = rendered if rendered is not None else template.render(body, values)
    if len(rendered) > ZALO_LIMIT:
        problems.append(
            Problem(
                rel,
                line,
                f"tin nhắn dài {len(rendered)} ký tự sau khi điền biến, vượt giới hạn "
                f"{ZALO_LIMIT} của Zalo" + (f" và {TELEGRAM_LIMIT} của Telegram"
                                            if len(rendered) > TELEGRAM_LIMIT else ""),
            )
        )


def _check_campaign(
    rel: str,
    front: CampaignFrontMatter,
    topics: set[str],
    contests: set[str],
    lines: dict[tuple, int],
    problems: list[Problem],
) -> None:
    def at(*field: str) -> int:
        return _line_of(lines, field, 2)

    if front.contest is not None and front.contest not in contests:
        problems.append(Problem(rel, at("contest"), f"cuộc thi '{front.contest}' không có tệp "
                                                    f"contests/{front.contest}.yaml"))

    if (front.schedule.cron is None) == (front.schedule.dates is None):
        problems.append(
            Problem(rel, at("schedule"), "'schedule' phải có đúng một trong 'cron' hoặc 'dates'")
        )
        return
    if front.topic not in topics:
        problems.append(Problem(rel, at("topic"), f"chủ đề '{front.topic}' không có trong topics.yaml"))
    if front.start and front.end and front.end < front.start:
        problems.append(Problem(rel, at("end"), "'end' đứng trước 'start'"))
    if front.schedule.cron is not None:
        line = at("schedule", "cron")
        try:
            trigger = cron_trigger(front.schedule.cron)
        except ValueError as exc:
            problems.append(Problem(rel, line, f"lịch cron '{front.schedule.cron}' sai: {exc}"))
            return
        first = dt.datetime(2000, 1, 1, tzinfo=TIMEZONE)
        if trigger.get_next_fire_time(None, first) is None:
            problems.append(Problem(rel, line, f"lịch cron '{front.schedule.cron}' không bao giờ xảy ra"))


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _standard_weekdays(field: str) -> str:
    """Standard crontab counts weekdays from Sunday = 0 (or 7); APScheduler from Monday = 0.

    Numbers are rewritten as day names, which both read the same way.
    """
    if not any(ch.isdigit() for ch in field):
        return field
    days: list[int] = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        stride = int(step) if step else 1
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            a, b = body.split("-", 1)
            first, last = int(a), int(b)
        else:
            first = last = int(body)
            if step:
                last = 6
        if not (0 <= first <= 7 and 0 <= last <= 7) or stride < 1:
            raise ValueError(f"thứ trong tuần '{item}' phải từ 0 đến 7")
        days.extend(d % 7 for d in range(first, last + 1, stride))
    return ",".join(_WEEKDAYS[d] for d in sorted(set(days)))


def cron_trigger(expression: str):  # noqa: ANN201 - APScheduler's CronTrigger
    """The campaign calendar's trigger: a standard 5-field crontab in Vietnam's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("cần đúng 5 phần: phút giờ ngày tháng thứ")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_standard_weekdays(weekday),
                       timezone=TIMEZONE)


def _procedure(schema: ProcedureSchema | None) -> Procedure | None:
    if schema is None:
        return None
    return Procedure(
        schema.code, schema.processing_time, schema.online, schema.where,
        tuple(Fee(f.case, f.amount, f.note, f.valid_from, f.valid_until) for f in schema.fees),
        papers=tuple(schema.papers), online_url=schema.online_url,
        legal_basis=tuple(LegalBasis(b.title, b.number, b.effective) for b in schema.legal_basis))


# "khai-sinh.mtq.md" is a translation; "khai-sinh.2027-03-01.md" a version.
_LANG_SUFFIX = re.compile(r"\.([a-z]{3})$")


@dataclass
class _Read:
    """The FAQ files read so far, and what the later checks need to name lines."""

    versions: dict[str, tuple[FaqEntry, ...]] = field(default_factory=dict)  # id -> versions
    dated: set[str] = field(default_factory=set)  # ids whose facts depend on the day
    unreadable: set[str] = field(default_factory=set)  # ids with a file whose own errors are reported
    alias_owner: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    related_lines: dict[str, dict[str, int]] = field(default_factory=dict)  # path -> id -> line
    validity_lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> from, until

    def claim(self, question: str, entry_id: str, path: str, line: int, problems: list[Problem]) -> None:
        """A way of asking belongs to one entry (its versions and translations share it)."""
        key = vtext.strip_key(question)
        owner = self.alias_owner.get(key)
        if owner and owner[0] != entry_id:
            problems.append(Problem(path, line, f"cách hỏi '{question}' trùng với mục '{owner[0]}' "
                                                f"({owner[1]}:{owner[2]})"))
        elif not owner:
            self.alias_owner[key] = (entry_id, path, line)


def _read_entries(files: list[Path], rel: Callable[[Path], str], category_ids: set[str],
                  values: Mapping[str, str], problems: list[Problem]) -> _Read:
    read = _Read()
    for path in files:
        name = rel(path)
        entry_id, _, suffix = path.stem.partition(".")
        parsed = _read_markdown(path, name, FaqFrontMatter, problems, expected=entry_id)
        if parsed is None:
            read.unreadable.add(entry_id)
            continue
        front, body, body_line, lines = parsed
        assert isinstance(front, FaqFrontMatter)

        def at(*field: str | int, _lines: dict[tuple, int] = lines) -> int:
            return _line_of(_lines, field, 2)

        versioned = front.valid_from is not None or front.valid_until is not None
        if suffix and (front.valid_from is None or suffix != front.valid_from.isoformat()):
            wanted = f"{front.id}.{front.valid_from.isoformat()}.md" if front.valid_from else f"{front.id}.md"
            problems.append(Problem(name, at("valid_from") if front.valid_from else at("id"),
                                    f"tệp phiên bản phải tên là '{wanted}' (mã + ngày valid_from)"))
        previous = read.versions.get(front.id, ())
        if previous and not (versioned and all(v.validity for v in previous)):
            problems.append(Problem(name, at("id"), f"id '{front.id}' trùng với {previous[0].path} "
                                                    "(các phiên bản cùng mã cần valid_from/valid_until)"))
            continue
        if front.category not in category_ids:
            problems.append(
                Problem(name, at("category"), f"danh mục '{front.category}' không có trong categories.yaml")
            )
        if len(front.aliases) < MIN_ALIASES:
            problems.append(
                Problem(name, at("aliases"), f"chỉ có {len(front.aliases)} cách hỏi khác (aliases), "
                                             f"nên có ít nhất {MIN_ALIASES}", warning=True)
            )
        for index, question in enumerate((front.title, *front.aliases)):
            read.claim(question, front.id, name, at("title") if index == 0 else at("aliases", index - 1),
                       problems)
        if front.review_by is not None and front.review_by < front.updated:
            problems.append(Problem(name, at("review_by"), "'review_by' đứng trước 'updated'"))
        read.related_lines[name] = {r: at("related", i) for i, r in enumerate(front.related)}
        if versioned:
            read.validity_lines[name] = (at("valid_from"), at("valid_until"))
        procedure = _procedure(front.procedure)
        if versioned or (procedure is not None and procedure.dated):
            read.dated.add(front.id)
        entry = FaqEntry.create(
            id=front.id, title=front.title, aliases=tuple(front.aliases),
            category=sys.intern(front.category), tags=tuple(front.tags), related=tuple(front.related),
            links=tuple(Link(link.label, link.url) for link in front.links), source=front.source,
            updated=front.updated, procedure=procedure, body=body, path=name, line=body_line,
            review_by=front.review_by, valid_from=front.valid_from, valid_until=front.valid_until,
        )
        _check_body(name, body_line, body, values, problems, answer_text(entry, values))
        read.versions[front.id] = (*previous, entry)
    return read


def _check_related(read: _Read, problems: list[Problem]) -> None:
    for versions in read.versions.values():
        for entry in versions:
            for related in entry.related:
                line = read.related_lines[entry.path][related]
                if related not in read.versions and related in read.unreadable:
                    continue  # the entry exists but is broken: its file's problems say why
                if related not in read.versions:
                    problems.append(Problem(entry.path, line, f"'related' trỏ tới mục không tồn tại: '{related}'"))
                elif related == entry.id:
                    problems.append(Problem(entry.path, line, "'related' trỏ tới chính nó"))


def _check_versions(read: _Read, problems: list[Problem]) -> None:
    """Versions follow each other day after day: no overlap, no gap; an end with nothing after
    it is allowed (a procedure abolished) but said."""
    for entry_id, versions in read.versions.items():
        if entry_id not in read.dated or not versions[0].validity:
            continue
        ordered = sorted(versions, key=lambda v: v.valid_from or dt.date.min)
        read.versions[entry_id] = tuple(ordered)
        for before, after in zip(ordered, ordered[1:]):
            line = read.validity_lines[after.path][0]
            if before.valid_until is None or after.valid_from is None or after.valid_from <= before.valid_until:
                until = f"đến hết {before.valid_until:%d/%m/%Y}" if before.valid_until else "không có valid_until"
                problems.append(Problem(after.path, line, f"phiên bản chồng lên {before.path} ({until}): "
                                                          "mỗi ngày chỉ được một phiên bản"))
            elif after.valid_from > before.valid_until + dt.timedelta(days=1):
                gap_end = after.valid_from - dt.timedelta(days=1)
                problems.append(Problem(
                    after.path, line,
                    f"khoảng trống: từ {before.valid_until + dt.timedelta(days=1):%d/%m/%Y} đến hết "
                    f"{gap_end:%d/%m/%Y} không có phiên bản nào (sau {before.path})"))
        last = ordered[-1]
        if last.valid_until is not None:
            problems.append(Problem(
                last.path, read.validity_lines[last.path][1],
                f"phiên bản cuối hết hiệu lực sau {last.valid_until:%d/%m/%Y} mà không có phiên bản tiếp "
                "theo: từ hôm sau bot không còn câu trả lời này", warning=True))


def _read_languages(path: Path, rel: str, problems: list[Problem]) -> tuple[list[Language], list[int]]:
    """The optional ``languages.yaml``: the languages the menu offers besides Vietnamese."""
    if not path.exists():
        return [], []
    lines: list[int] = []
    languages = _read_yaml_list(path, rel, Language, problems, lines)
    seen: set[str] = set()
    for language, line in zip(languages, lines):
        if language.code in seen:
            problems.append(Problem(rel, line, f"ngôn ngữ '{language.code}' được khai báo hai lần"))
        seen.add(language.code)
    return languages, lines


def _read_translations(files: list[Path], rel: Callable[[Path], str], read: _Read,
                       languages: list[Language], values: Mapping[str, str], day: dt.date,
                       problems: list[Problem]) -> dict[str, dict[str, Translation]]:
    codes = {language.code for language in languages}
    out: dict[str, dict[str, Translation]] = {}
    for path in files:
        name = rel(path)
        entry_id, _, suffix = path.stem.rpartition(".")
        parsed = _read_markdown(path, name, TranslationFrontMatter, problems, expected=entry_id)
        if parsed is None:
            continue
        front, body, body_line, lines = parsed
        assert isinstance(front, TranslationFrontMatter)

        def at(*field: str | int, _lines: dict[tuple, int] = lines) -> int:
            return _line_of(_lines, field, 2)

        if front.lang != suffix:
            problems.append(Problem(name, at("lang"), f"lang '{front.lang}' phải trùng đuôi tên tệp '.{suffix}'"))
            continue
        if front.lang not in codes:
            problems.append(Problem(name, at("lang"), f"ngôn ngữ '{front.lang}' chưa có trong languages.yaml"))
        versions = read.versions.get(front.id)
        if versions is None:
            if front.id not in read.unreadable:
                problems.append(Problem(name, at("id"), f"bản dịch của mục không tồn tại: '{front.id}'"))
            continue
        for index, question in enumerate((front.title, *front.aliases)):
            read.claim(question, front.id, name, at("title") if index == 0 else at("aliases", index - 1),
                       problems)
        translation = Translation(front.id, front.lang, front.title, tuple(front.aliases), front.updated,
                                  body, name, body_line)
        for version in versions:
            if (version.valid_until is None or version.valid_until >= day) and not translation.current_for(version):
                problems.append(Problem(
                    name, at("updated"),
                    f"bản dịch cũ hơn bản tiếng Việt {version.path} (cập nhật {version.updated:%d/%m/%Y}): "
                    "bot trả lời bằng tiếng Việt cho tới khi bản dịch được cập nhật", warning=True))
        _check_body(name, body_line, body, values, problems, answer_text(versions[-1], values, translation))
        out.setdefault(front.id, {})[front.lang] = translation
    return out


def _check_missing_translations(read: _Read, translations: dict[str, dict[str, Translation]],
                                languages: list[Language], language_lines: list[int], day: dt.date,
                                rel: str, problems: list[Problem]) -> None:
    """One line per language: how many entries in force today it does not translate yet."""
    if not languages:
        return
    in_force_ids = [i for i, versions in read.versions.items()
                    if any(in_force(day, v.valid_from, v.valid_until) for v in versions)]
    for language, line in zip(languages, language_lines):
        missing = sorted(i for i in in_force_ids if language.code not in translations.get(i, {}))
        if missing:
            shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
            problems.append(Problem(rel, line, f"{language.name} ({language.code}): {len(missing)} mục chưa "
                                               f"có bản dịch: {shown}", warning=True))


def load_pack(root: Path, values: Mapping[str, str], day: dt.date | None = None
              ) -> tuple[ContentPack | None, list[Problem]]:
    """Load and validate everything under ``root``.

    Returns the pack as it reads on ``day`` (default: today in Vietnam; None when any error
    makes it unusable) and every problem found. ``values`` are the template variables available
    to content (``office.name`` ...).
    """
    day = today() if day is None else day
    problems: list[Problem] = []
    fp = _fingerprint(root)

    def rel(path: Path) -> str:
        try:
            return str(path.relative_to(root.parent))
        except ValueError:
            return str(path)

    categories = _read_yaml_list(root / "categories.yaml", rel(root / "categories.yaml"),
                                 Category, problems)
    topics = _read_yaml_list(root / "topics.yaml", rel(root / "topics.yaml"), Topic, problems)
    lexicon = _read_lexicon(root / "lexicon.yaml", rel(root / "lexicon.yaml"), problems)
    category_ids = {c.id for c in categories}
    topic_ids = {t.id for t in topics}

    faq_dir = root / "faq"
    files = sorted(faq_dir.glob("*.md")) if faq_dir.is_dir() else []
    translation_files = [f for f in files if _LANG_SUFFIX.search(f.stem)]
    faq = _read_entries([f for f in files if not _LANG_SUFFIX.search(f.stem)], rel, category_ids,
                         values, problems)
    languages_file = root / "languages.yaml"
    languages, language_lines = _read_languages(languages_file, rel(languages_file), problems)
    translations = _read_translations(translation_files, rel, faq, languages, values, day, problems)
    if not faq.versions:
        problems.append(Problem(rel(faq_dir), 1, "không có câu hỏi nào (content/faq/*.md)"))
    for entry_id, versions in faq.versions.items():
        if entry_id in translations:  # matching knows the translated ways of asking too
            asked = tuple(q for t in translations[entry_id].values() for q in (t.title, *t.aliases))
            faq.versions[entry_id] = tuple(v.asked_also_as(asked) for v in versions)
    _check_related(faq, problems)
    _check_versions(faq, problems)
    _check_missing_translations(faq, translations, languages, language_lines, day,
                                rel(languages_file), problems)

    campaigns: dict[str, Campaign] = {}
    campaign_dir = root / "campaigns"
    contest_ids = {path.stem for path in (root / "contests").glob("*.yaml")}  # checked by 'contest check'
    for path in sorted(campaign_dir.glob("*.md")) if campaign_dir.is_dir() else []:
        name = rel(path)
        read = _read_markdown(path, name, CampaignFrontMatter, problems)
        if read is None:
            continue
        front, body, body_line, lines = read
        assert isinstance(front, CampaignFrontMatter)
        _check_campaign(name, front, topic_ids, contest_ids, lines, problems)
        _check_body(name, body_line, body, values, problems)
        campaigns[front.id] = Campaign(
            id=front.id, title=front.title, topic=front.topic, channels=tuple(front.channels),
            cron=front.schedule.cron, dates=tuple(front.schedule.dates or ()), start=front.start,
            end=front.end, source=front.source, body=body, path=name, contest=front.contest,
        )

    if any(not p.warning for p in problems):
        return None, sorted(problems)
    dated = {i: v for i, v in faq.versions.items() if i in faq.dated}
    pack = ContentPack(
        entries={i: v[0] for i, v in faq.versions.items() if i not in dated},
        categories=tuple(sorted(categories, key=lambda c: (c.order, c.id))),
        topics=tuple(topics),
        campaigns=campaigns,
        lexicon=lexicon,
        fingerprint=fp,
        day=dt.date.min,  # no day yet: ``on`` fills in the dated entries
        versions=dated,
        translations=translations,
        languages=tuple(languages),
    )
    return pack.on(day), sorted(problems)
