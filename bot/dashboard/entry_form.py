"""An FAQ entry's Markdown file as the editor's form, and back.

The dashboard treats an entry as its file text: the common front-matter fields get their own
form fields, every other key (procedure, links, versions, translations...) stays YAML in one
box, the body is Markdown. A file the form cannot show (broken YAML, say) opens as its whole
text. What the loader reports on a line is shown beside the field that wrote that line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import yaml

LIST_FIELDS = ("aliases", "tags", "related")
BASIC = ("id", "title", "aliases", "category", "tags", "related", "source", "updated")
FILE_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,79}")
LIMITS = {"title": 300, "source": 500, "body": 20_000, "extra": 20_000, "raw": 40_000, "reason": 500,
          "aliases": 10_000, "tags": 2_000, "related": 2_000, "id": 80, "category": 48, "updated": 10}
MAX_ITEMS = 100


class FormError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


@dataclass
class EntryForm:
    id: str = ""
    title: str = ""
    aliases: str = ""  # one per line
    category: str = ""
    tags: str = ""
    related: str = ""
    source: str = ""
    updated: str = ""
    extra: str = ""  # the other front-matter keys, as YAML
    body: str = ""
    raw: str | None = None  # the whole file, when edited as text
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def alias_list(self) -> list[str]:
        return lines(self.aliases)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_front(text: str) -> tuple[str, str] | None:
    """(front matter, body) of a file that starts with a '---' block."""
    found = re.match(r"\ufeff?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|$)", text, re.DOTALL)
    if found is None:
        return None
    return found.group(1) or "", text[found.end():]


def from_text(text: str) -> EntryForm:
    """The form for a file; a file the fields cannot hold exactly opens as text."""
    split = split_front(text)
    try:
        data = yaml.safe_load(split[0]) if split else None
    except yaml.YAMLError:
        data = None
    if split is None or not isinstance(data, dict):
        return EntryForm(raw=text)
    form = EntryForm(body=split[1].strip("\n"))
    for name in BASIC:
        value = data.pop(name, None)
        if value is None:
            continue
        if name in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return EntryForm(raw=text)
            value = "\n".join(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif not isinstance(value, str):
            return EntryForm(raw=text)
        setattr(form, name, value)
    form.extra = _dump(data) if data else ""
    return form


def from_post(post: Mapping[str, str]) -> EntryForm:
    """The submitted form, every field cut to its limit and refused past it."""
    form = EntryForm()
    for item in fields(EntryForm):
        if item.name == "errors":
            continue
        value = post.get(item.name)
        if value is None:
            continue
        value = value.replace("\r\n", "\n")
        if len(value) > LIMITS[item.name]:
            form.errors.setdefault(item.name, []).append(
                f"dài {len(value)} ký tự, quá giới hạn {LIMITS[item.name]}")
            value = value[:LIMITS[item.name]]
        setattr(form, item.name, value if item.name in ("body", "extra", "raw") else value.strip())
    for name in LIST_FIELDS:
        if len(lines(getattr(form, name))) > MAX_ITEMS:
            form.errors.setdefault(name, []).append(f"nhiều hơn {MAX_ITEMS} dòng")
    return form


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as the content files are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


def _chunks(front: str) -> dict[str, str] | None:
    """Each top-level key's own text (comments and layout kept), in the file's order."""
    try:
        node = yaml.compose(front)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    rows = front.splitlines(keepends=True)
    starts = [key.start_mark.line for key, _ in node.value] + [len(rows)]
    return {str(key.value): "".join(rows[starts[i]:starts[i + 1]]) for i, (key, _) in enumerate(node.value)}


def _compose(front: dict, original: str | None) -> str:
    """The front matter: a key whose value did not change keeps its text from ``original``."""
    split = split_front(original) if original else None
    chunks = _chunks(split[0]) if split else None
    try:
        before = yaml.safe_load(split[0]) if split else None
    except yaml.YAMLError:
        before = None
    if not chunks or not isinstance(before, dict):
        return _dump(front)
    out = []
    for key, chunk in chunks.items():
        if key in front:
            same = before.get(key) == front[key]
            out.append(chunk if same and chunk.endswith("\n") else _dump({key: front[key]}))
    out.extend(_dump({key: value}) for key, value in front.items() if key not in chunks)
    return "".join(out)


def to_text(form: EntryForm, original: str | None = None) -> str:
    """The file text for the form (FormError: a box that cannot become front matter);
    ``original``: the file as it was, whose unchanged keys keep their layout and comments."""
    if form.raw is not None:
        return form.raw if form.raw.endswith("\n") else form.raw + "\n"
    front: dict[str, object] = {}
    for name in BASIC:
        value = getattr(form, name)
        if name in LIST_FIELDS:
            items = lines(value)
            if items or name == "aliases":
                front[name] = items
        elif name == "updated" and value:
            try:
                front[name] = dt.date.fromisoformat(value)
            except ValueError:
                raise FormError("updated", "ngày cập nhật viết theo dạng NNNN-TT-NN, ví dụ 2026-12-04") from None
        elif value:
            front[name] = value
    try:
        extra = yaml.safe_load(form.extra) if form.extra.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1})" if mark else ""
        raise FormError("extra", f"lỗi cú pháp YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(extra, dict):
        raise FormError("extra", "phải là các cặp 'tên trường: giá trị'")
    for key in extra:
        if key in BASIC:
            raise FormError("extra", f"trường '{key}' đã có ô riêng ở trên, không viết lại ở đây")
    front.update(extra)
    return f"---\n{_compose(front, original)}---\n{form.body.strip()}\n"


def field_of_lines(text: str) -> dict[int, str]:
    """1-based file line -> the form field that wrote it (front-matter keys, then the body)."""
    split = split_front(text)
    if split is None:
        return {}
    front, _ = split
    out: dict[int, str] = {}
    try:
        node = yaml.compose(front)
    except yaml.YAMLError:
        return out
    body_from = front.count("\n") + 3
    if isinstance(node, yaml.MappingNode):
        starts = [key.start_mark.line + 2 for key, _ in node.value] + [body_from - 1]
        for index, (key, _) in enumerate(node.value):  # a key owns its lines up to the next key
            name = key.value if isinstance(key, yaml.ScalarNode) and key.value in BASIC else "extra"
            for line in range(starts[index], max(starts[index + 1], starts[index] + 1)):
                out[line] = name
    for line in range(body_from, text.count("\n") + 2):
        out[line] = "body"
    return out


def with_errors(form: EntryForm, text: str, problems: list, path: str) -> EntryForm:
    """Each problem of the file at ``path`` beside its field (``general`` when none fits)."""
    owner = field_of_lines(text) if form.raw is None else {}
    errors = {k: list(v) for k, v in form.errors.items()}
    for problem in problems:
        if problem.path != path:
            continue
        name = "raw" if form.raw is not None else owner.get(problem.line, "general")
        label = f"dòng {problem.line}: " if name in ("raw", "body", "extra") else ""
        kind = "cảnh báo: " if problem.warning else ""
        errors.setdefault(name, []).append(f"{kind}{label}{problem.message}")
    return replace(form, errors=errors)
