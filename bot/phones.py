"""Vietnamese phone numbers in one form, whoever supplied them: a citizen typing "+84 912 345
678", Zalo's "84912345678", Telegram's "+84912345678". Everything that stores or compares a
number (feedback call-backs, the contest's one-person-one-entry rule) uses ``0xxxxxxxxx``."""

from __future__ import annotations

import re

# Vietnamese numbers: mobiles 0[35789]x xxx xxxx, landlines 02xx xxx xxxx; +84 / 84 for the 0.
_SEPARATORS = re.compile(r"[\s.\-()]")
_PHONE = re.compile(r"(?:0|84|\+84)([35789]\d{8}|2\d{9})")


def normalize_phone(raw: str) -> str | None:
    """The number as 0xxxxxxxxx (10 digits, 11 for landlines), or None if it is not one."""
    compact = _SEPARATORS.sub("", raw.strip())
    match = _PHONE.fullmatch(compact)
    return "0" + match.group(1) if match else None


def format_phone(phone: str) -> str:
    """0912345678 → 0912 345 678, 02373123456 → 0237 312 3456 (easier to read on a call)."""
    return f"{phone[:4]} {phone[4:7]} {phone[7:]}"
