"""Route before matching: greetings, thanks, menu words, dossier codes and phone numbers.

These never reach FAQ matching: "chào em" is not a question, and a dossier code or a phone
number matched against FAQ titles would only produce a confusing answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import text as vtext

_POLITE = {
    "a", "ad", "admin", "em", "anh", "chi", "ban", "bot", "oi", "moi", "nguoi", "ca", "nha",
    "nhe", "nhen", "buoi", "sang", "chieu", "toi", "trua", "ubnd", "ub", "xa", "phuong", "co",
    "chu", "bac", "ong", "ba", "minh", "shop", "page", "ak", "ah", "vs", "voi", "rat", "nhieu",
    "ok", "oke", "okie", "vang", "da", "dạ", "you", "so", "much", "lam", "qua",
}
_GREETING = {"chao", "hello", "hi", "helo", "alo", "hey", "xin", "chaoo", "hallo", "hii"}
_THANKS_PHRASES = ("cam on", "camon", "thanks", "thank", "tks", "thx", "cmon")
_MENU = {
    "menu", "danh muc", "bat dau", "start", "tro giup", "help", "tro lai", "quay lai",
    "menu chinh", "trang chu", "home", "bat dau lai",
}
# One-stop dossier codes: e.g. 000.00.20.H56-230515-0012, H56.22-230515-0001.
_DOSSIER = re.compile(
    r"(?<![\w.-])(?=[\w.\- ]*\d{6})[a-z0-9]{1,6}(?:[.\-][a-z0-9]{1,8}){2,6}(?![\w-])",
    re.IGNORECASE,
)
# Feedback tickets: PA-2026-000123 (before dossier codes, which it would also look like).
_TICKET = re.compile(r"(?<![\w-])PA[-\s.]?(20\d{2})[-\s.]?(\d{1,6})(?![\w-])", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)[\s.]?[35789](?:[\s.]?\d){8}(?!\d)")
_HAS_WORD = re.compile(r"[^\W_]", re.UNICODE)


@dataclass(frozen=True)
class Intent:
    name: str  # "empty" | "greeting" | "thanks" | "menu" | "ticket_number" | "dossier_code" | "phone"
    value: str = ""


def detect(message: str) -> Intent | None:
    """The intent a message plainly is, or None when it is a question for the matcher."""
    if not _HAS_WORD.search(message):
        return Intent("empty")
    if match := _TICKET.search(message):
        return Intent("ticket_number", f"PA-{match.group(1)}-{int(match.group(2)):06d}")
    if match := _DOSSIER.search(message):
        if sum(ch.isdigit() for ch in match.group(0)) >= 8:
            return Intent("dossier_code", match.group(0).upper())
    if match := _PHONE.search(message):
        return Intent("phone", re.sub(r"\D", "", match.group(0)))
    toks = vtext.tokens(message)
    if not toks:
        return Intent("empty")
    if len(toks) <= 8:
        joined = " ".join(toks)
        if joined in _MENU:
            return Intent("menu")
        rest = set(toks) - _POLITE
        if rest and rest <= _GREETING:
            return Intent("greeting")
        for phrase in _THANKS_PHRASES:
            if f" {phrase} " in f" {joined} ":
                leftover = set(f" {joined} ".replace(f" {phrase} ", " ").split()) - _POLITE
                if leftover <= _GREETING | {"cam", "on"}:
                    return Intent("thanks")
    if all(t.isdigit() for t in toks) and sum(len(t) for t in toks) >= 8:
        return Intent("dossier_code", "".join(toks))
    return None
