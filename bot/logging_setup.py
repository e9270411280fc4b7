"""The process's logging: one handler on standard error, as text for people or JSON lines for log
collectors (``log.format``), with phone numbers masked whatever the code logged.

What is logged at INFO is for the operator (start, stop, channel state, content reloads,
broadcasts, errors); routine housekeeping is DEBUG. The code logs citizens only by their
pseudonymous ``user_key``; the phone mask is a second line of defence for text that reaches a log
unplanned (an exception's message, a library's). SQL errors never carry the statement's values
(bot.storage.db hides them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"  # the pid: which process
FORMATS = ("text", "json")

# A Vietnamese phone number as citizens write it: 0 or +84/84, then 9 digits (mobile) or 9–10
# (landline), with optional spaces, dots or dashes between groups.
_PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[ .-]?\d){8,10}(?![\w])")
PHONE_MASK = "[số điện thoại]"


class _MigrationsOnly(logging.Filter):
    """Alembic's INFO lines: the check at start-up ("Context impl …", once per start) and the
    migrations it runs, not its set-up chatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or record.getMessage().startswith(("Running ", "Context impl "))


_QUIETED = {"alembic.runtime.migration": _MigrationsOnly(), "alembic.runtime.plugins": _MigrationsOnly()}
_configured: dict[str, int | str] = {"format": "text"}  # and "level", once configured


def mask(text: str) -> str:
    return _PHONE.sub(PHONE_MASK, text)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, pid, message, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": mask(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask(record.exc_text)
        return json.dumps(entry, ensure_ascii=False)


class _StandardError(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


def configure(level: str | int = "INFO", fmt: str = "text") -> None:
    """(Re)configure the root logger: our one handler replaces an earlier one of ours. Where
    something else set logging up first (a test runner, a program embedding the bot) it is left
    alone, as ``logging.basicConfig`` does. Child processes call it with ``current()``."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    _configured["format"] = fmt
    root = logging.getLogger()
    if any(not isinstance(h, _StandardError) for h in root.handlers):
        return
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    handler = _StandardError()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, quiet in _QUIETED.items():  # DEBUG shows everything
        if numeric > logging.DEBUG:
            logging.getLogger(name).addFilter(quiet)
        else:
            logging.getLogger(name).removeFilter(quiet)
    _configured["level"] = numeric


def announce(text: str) -> None:
    """A line for the person who started the bot (the address to open): on standard output as
    text, or as a log entry when the output goes to a log collector (JSON)."""
    if _configured["format"] == "json":
        logging.getLogger("cchc_bot").info("%s", text)
    else:
        print(text, flush=True)


def current() -> tuple[int, str]:
    """The level and format this process was configured with (for its child processes)."""
    level = _configured.get("level", logging.getLogger().getEffectiveLevel())
    return int(level), str(_configured["format"])
