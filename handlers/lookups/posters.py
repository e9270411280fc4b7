"""QR posters for the office wall and leaflets: printable A4 pages (PDF or PNG, 300 dpi).

Each card carries the entry's title in Vietnamese, a QR code that opens the answer on Telegram
(``https://t.me/<bot>?start=<id>``, answered by ``/start <id>``) and/or the Zalo OA, a short
caption and the link written out. A contest's poster is one card the same way: its title,
organiser and dates, and codes that open it (``?start=ct-<id>``). Text needs a font with Vietnamese glyphs: ``lookup.poster_font``,
or DejaVu Sans / Noto Sans / Liberation Sans / Arial where the system has them (Debian:
``apt-get install fonts-dejavu-core``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.config import Settings
from bot.content.model import FaqEntry
from handlers.contest.contests import Contest, when
from handlers.lookups import qr

DPI = 300
A4 = (2480, 3508)  # 210 x 297 mm at 300 dpi
INK = (20, 20, 20)
ACCENT = (11, 79, 138)  # dark blue: prints well in colour and in grey
PAPER = (255, 255, 255)
_VIETNAMESE_SAMPLE = "ạằẩễịọơợưựỹĐđ"

_REGULAR = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",  # Fedora, Alpine
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
)
_BOLD_NAMES = {
    "DejaVuSans.ttf": "DejaVuSans-Bold.ttf",
    "NotoSans-Regular.ttf": "NotoSans-Bold.ttf",
    "LiberationSans-Regular.ttf": "LiberationSans-Bold.ttf",
    "arial.ttf": "arialbd.ttf",
    "Arial.ttf": "Arial Bold.ttf",
}


class PosterError(Exception):
    """A poster cannot be made (no font, no link to put in the QR code, unknown entry)."""


def _matplotlib_font() -> Path | None:
    """matplotlib ships DejaVu Sans; use it when it happens to be installed (never imported)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data/fonts/ttf/DejaVuSans.ttf"
    return path if path.exists() else None


def covers_vietnamese(path: Path) -> bool:
    """Does the font draw Vietnamese letters (not the empty box of a missing glyph)?"""
    font = ImageFont.truetype(str(path), 40)

    def glyph(ch: str) -> bytes:
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).text((8, 4), ch, font=font, fill=255)
        return image.tobytes()

    missing = glyph("\U0010fffd")  # a private-use code point: surely drawn as "missing"
    return all(glyph(ch) != missing for ch in _VIETNAMESE_SAMPLE)


def find_fonts(configured: Path | None) -> tuple[Path, Path]:
    """(regular, bold) font files with Vietnamese glyphs."""
    if configured is not None:
        candidates: list[Path] = [configured]
    else:
        candidates = [Path(p) for p in _REGULAR]
        if (mpl := _matplotlib_font()) is not None:
            candidates.insert(0, mpl)
    for path in candidates:
        if not path.is_file():
            continue
        if not covers_vietnamese(path):
            if configured is not None:
                raise PosterError(f"phông chữ {path} không có đủ chữ tiếng Việt")
            continue
        bold = path.with_name(_BOLD_NAMES.get(path.name, path.name))
        return path, bold if bold.is_file() else path
    if configured is not None:
        raise PosterError(f"không tìm thấy phông chữ {configured} (lookup.poster_font)")
    raise PosterError(
        "không tìm thấy phông chữ có tiếng Việt: cài gói fonts-dejavu-core "
        "(apt-get install fonts-dejavu-core) hoặc đặt lookup.poster_font trong config.toml"
    )


@dataclass(frozen=True)
class Target:
    """One QR code on a card: where it leads and what it says under it."""

    name: str  # "Telegram" | "Zalo" | "Messenger"
    url: str
    hint: str


def targets(settings: Settings, entry: FaqEntry, which: str = "all") -> list[Target]:
    """The QR codes an entry's card carries: Telegram's deep link and/or the Zalo OA."""
    return links_to(settings, entry.id, which, "Mở câu trả lời", "Quan tâm Zalo OA rồi nhắn câu hỏi")


def links_to(settings: Settings, start: str, which: str, opens: str, on_zalo: str) -> list[Target]:
    """The QR codes that open ``/start <start>``: Telegram's and Messenger's deep links, and the
    Zalo OA (which has none: ``on_zalo`` says what to send there)."""
    found: list[Target] = []
    username = settings.telegram.bot_username
    if which in ("all", "telegram") and username:
        found.append(Target("Telegram", qr.telegram_link(username, start), f"{opens} trên Telegram"))
    zalo = qr.zalo_link(settings)
    if which in ("all", "zalo") and zalo:
        found.append(Target("Zalo", zalo, on_zalo))
    page = settings.messenger.page_username
    if which in ("all", "messenger") and page:
        found.append(Target("Messenger", qr.messenger_link(page, start), f"{opens} trên Messenger"))
    if not found:
        raise PosterError(
            "chưa có liên kết cho mã QR: đặt telegram.bot_username, zalo.oa_id "
            "(hoặc lookup.zalo_oa_url) và/hoặc messenger.page_username trong config.toml"
        )
    return found


@dataclass(frozen=True)
class Card:
    """What one card says: the band's line under the office, the title, a few lines under it
    (organiser, dates), the QR codes, the caption, and the footer's note."""

    heading: str
    title: str
    links: Sequence[Target]
    caption: str
    note: str
    lines: tuple[str, ...] = ()


class _Fonts:
    def __init__(self, regular: Path, bold: Path) -> None:
        self.regular, self.bold = regular, bold
        self._cache: dict[tuple[bool, int], ImageFont.FreeTypeFont] = {}

    def get(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = (bold, size)
        if key not in self._cache:
            self._cache[key] = ImageFont.truetype(str(self.bold if bold else self.regular), size)
        return self._cache[key]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if not current or draw.textlength(candidate, font=font) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _text_block(draw: ImageDraw.ImageDraw, text: str, fonts: _Fonts, box: tuple[int, int, int],
                size: int, bold: bool = False, fill: tuple[int, int, int] = INK,
                max_lines: int = 4) -> int:
    """Centred, wrapped text from (left, top) across width; shrinks to fit. Returns the bottom."""
    left, top, width = box
    font = fonts.get(size, bold)
    lines = _wrap(draw, text, font, width)
    while len(lines) > max_lines and size > 20:
        size = int(size * 0.9)
        font = fonts.get(size, bold)
        lines = _wrap(draw, text, font, width)
    line_height = int(size * 1.25)
    y = top
    for line in lines:
        x = left + (width - draw.textlength(line, font=font)) / 2
        draw.text((x, y), line, font=font, fill=fill)
        y += line_height
    return y


def _card(page: Image.Image, box: tuple[int, int, int, int], card: Card, fonts: _Fonts, settings: Settings,
          scale: float) -> None:
    """One card: header band, title, its lines, QR code(s) with their links, caption, office footer."""
    left, top, right, bottom = box
    width = right - left
    draw = ImageDraw.Draw(page)
    small = max(scale, 0.75)  # small print stays readable on a cut leaflet
    pad = int(80 * scale)
    inner = (left + pad, width - 2 * pad)
    office = settings.office
    band = int(230 * scale)
    draw.rectangle((left, top, right, top + band), fill=ACCENT)
    _text_block(draw, office.name.upper(), fonts, (inner[0], top + int(40 * scale), inner[1]),
                int(64 * scale), bold=True, fill=PAPER, max_lines=1)
    _text_block(draw, card.heading, fonts,
                (inner[0], top + int(135 * scale), inner[1]), int(44 * scale), fill=PAPER, max_lines=1)
    title_bottom = _text_block(draw, card.title, fonts, (inner[0], top + band + int(80 * scale), inner[1]),
                               int(104 * scale), bold=True, max_lines=4)
    for line in card.lines:
        title_bottom = _text_block(draw, line, fonts, (inner[0], title_bottom + int(20 * scale), inner[1]),
                                   int(56 * scale), fill=ACCENT, max_lines=2)
    links = card.links
    footer_top = bottom - int(260 * small)
    label_h = int(150 * small)  # "Telegram: ..." and the link written out
    caption_h = int(3 * 54 * small * 1.25)
    gap = int(90 * scale)
    room = footer_top - title_bottom - label_h - caption_h - int(120 * scale)
    across = (width - 2 * pad - gap * (len(links) - 1)) // len(links)
    size = max(200, min(room, across, int(1800 * scale)))
    block = size + label_h + caption_h
    y = title_bottom + max(int(40 * scale), (footer_top - title_bottom - block) // 2)
    x = left + (width - (size * len(links) + gap * (len(links) - 1))) // 2
    below_all = y + size
    for link in links:
        image = qr.qr_image(link.url, size)
        offset = (size - image.width) // 2
        page.paste(image.convert("RGB"), (x + offset, y + offset))
        below = _text_block(draw, f"{link.name}: {link.hint}", fonts, (x, y + size + int(10 * small), size),
                            int(42 * small), bold=True, max_lines=2)
        below = _text_block(draw, link.url.removeprefix("https://"), fonts, (x, below, size),
                            int(34 * small), max_lines=2)
        below_all = max(below_all, below)
        x += size + gap
    _text_block(draw, card.caption, fonts, (inner[0], below_all + int(30 * small), inner[1]),
                int(54 * small), max_lines=3)
    draw.line((left + pad, footer_top, right - pad, footer_top), fill=ACCENT, width=max(2, int(4 * scale)))
    y = _text_block(draw, f"Hỗ trợ: {office.hotline}", fonts, (inner[0], footer_top + int(25 * small), inner[1]),
                    int(40 * small), max_lines=2)
    _text_block(draw, f"{office.address} · {card.note}", fonts,
                (inner[0], y + int(5 * small), inner[1]), int(32 * small), max_lines=2)


DEFAULT_CAPTION = "Mở camera điện thoại, quét mã QR để xem hướng dẫn: giấy tờ cần chuẩn bị, nơi nộp, lệ phí."
CONTEST_CAPTION = "Mở camera điện thoại, quét mã QR để xem thể lệ và dự thi ngay trên điện thoại."
TELEGRAM_START_LIMIT = 64  # characters of a t.me ?start= parameter


def contest_card(contest: Contest, settings: Settings, which: str = "all", caption: str | None = None) -> Card:
    """A contest's poster: its title, organiser and dates; the codes open its rules
    (``/start ct-<id>``, routed as the contest's ``ct:open:<id>``)."""
    start = f"ct-{contest.id}"
    if len(start) > TELEGRAM_START_LIMIT:
        raise PosterError(f"mã cuộc thi '{contest.id}' dài quá {TELEGRAM_START_LIMIT - 3} ký tự: "
                          "Telegram không mở được liên kết")
    return Card("Mời Anh/Chị tham gia cuộc thi", contest.title,
                links_to(settings, start, which, "Mở cuộc thi", "Quan tâm Zalo OA rồi nhắn /cuocthi"),
                caption or CONTEST_CAPTION, "Dự thi trên bot: gõ /cuocthi",
                (f"Đơn vị tổ chức: {contest.organiser}",
                 f"Từ {when(contest.starts)} đến {when(contest.ends)}"))


def render_pages(entries: Sequence[FaqEntry], settings: Settings, per_page: int = 1,
                 which: str = "all", caption: str | None = None) -> list[Image.Image]:
    """A4 pages, ``per_page`` entries' cards each (1: wall poster; 2 or 4: leaflets to cut)."""
    if not entries:
        raise PosterError("chưa chọn câu hỏi nào")
    return render_cards([Card("Hỏi đáp thủ tục hành chính, dịch vụ công", entry.title,
                              targets(settings, entry, which), caption or DEFAULT_CAPTION,
                              f"Nội dung cập nhật {entry.updated:%d/%m/%Y}") for entry in entries],
                        settings, per_page)


def render_cards(cards: Sequence[Card], settings: Settings, per_page: int = 1) -> list[Image.Image]:
    """A4 pages, ``per_page`` cards each."""
    if per_page not in (1, 2, 4):
        raise PosterError("mỗi trang 1, 2 hoặc 4 mã")
    fonts = _Fonts(*find_fonts(settings.lookup.poster_font))
    width, height = A4
    if per_page == 1:
        boxes = [(0, 0, width, height)]
        scale = 1.0
    elif per_page == 2:
        boxes = [(0, 0, width, height // 2), (0, height // 2, width, height)]
        scale = 0.62
    else:
        half_w, half_h = width // 2, height // 2
        boxes = [(0, 0, half_w, half_h), (half_w, 0, width, half_h),
                 (0, half_h, half_w, height), (half_w, half_h, width, height)]
        scale = 0.5
    pages: list[Image.Image] = []
    for start in range(0, len(cards), per_page):
        page = Image.new("RGB", A4, PAPER)
        for card, box in zip(cards[start:start + per_page], boxes, strict=False):
            margin = int(60 * scale)
            inner = (box[0] + margin, box[1] + margin, box[2] - margin, box[3] - margin)
            _card(page, inner, card, fonts, settings, scale)
            if per_page > 1:  # cutting guides
                ImageDraw.Draw(page).rectangle(box, outline=(190, 190, 190), width=2)
        pages.append(page)
    return pages


def save_pages(pages: Sequence[Image.Image], out: Path, title: str = "Mã QR hỏi đáp thủ tục hành chính"
               ) -> list[Path]:
    """PDF: one file, one A4 page each. PNG: ``out`` for one page, ``out-2.png``... for more."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        pages[0].save(out, "PDF", save_all=True, append_images=list(pages[1:]), resolution=DPI,
                      quality=92, title=title)
        return [out]
    if suffix == ".png":
        paths = []
        for number, page in enumerate(pages, start=1):
            path = out if number == 1 else out.with_name(f"{out.stem}-{number}{out.suffix}")
            page.save(path, "PNG", dpi=(DPI, DPI), optimize=True)
            paths.append(path)
        return paths
    raise PosterError(f"chỉ xuất .pdf hoặc .png (nhận được: {out.name})")
