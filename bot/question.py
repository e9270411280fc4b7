"""What a citizen's message asks: the question sentences inside a story, and the aspect.

Citizens write to a hotline the way they write a letter: a greeting, who they are, what
happened, then "cho tôi hỏi…" and one or more questions, then thanks. The matcher weighs the
question sentences above the story (the story still names the subject: "Mẹ tôi mất. Tôi phải
làm thủ tục gì?"), and never lets the filler words of a letter count for or against an entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot import text as vtext

# Words that carry no subject: pronouns and forms of address, particles, connectives, the
# framing of a letter, and the question words themselves (diacritics stripped, as matched).
# They neither count toward an entry nor against it; bigrams made with them still do.
FILLER = frozenset("""
a ah ak ad admin anh ba bac ban be bo bu ca cac cai cam chau chi cho chu co con cu cua cung da
dang day de den deu di do du duoc e gan gi giup gui ha hay he het hien hoi hom hong hok hon hu j
ja k kia kinh khi khong kho ko la lai lam len lieu luat luc ma minh mo moi mot muon nao nay ne
neu nghe ngai nguoi nhe nhen nho nhung ni no noi nua o oi ong ra rang roi rua rat se su ta tai
the thi thoi thua toi tren trong truoc tui uh um va vay vi voi vua xa xin xong y chao vo ck vk
hai bon nam dzay vs v r rui thui ui zay z nhiu bit biet hieu ranh tuan thang ngay ntn em phai
gio bay nha que nen them ay sap dua chut lo trai gai chong ai sau tuoi nghin dem ve an huyen
khac nhau thuc cau tung luon lun bi hoac sao
me
""".split())

# What a question asks about a procedure, keyed by aspect: stripped word runs.
ASPECT_CUES: dict[str, tuple[tuple[str, ...], ...]] = {
    "papers": (("giay", "to"), ("ho", "so"), ("can", "gi"), ("can", "nhung", "gi"), ("mang", "theo"),
               ("chuan", "bi"), ("can", "mang")),
    "fee": (("le", "phi"), ("phi",), ("mat", "tien"), ("ton", "tien"), ("bao", "nhieu", "tien"),
            ("het", "bao", "nhieu"), ("dong", "tien"), ("nop", "tien"), ("mien", "phi"), ("tien",)),
    "time": (("bao", "lau"), ("may", "ngay"), ("bao", "nhieu", "ngay"), ("khi", "nao", "co"),
             ("thoi", "han"), ("mat", "bao", "lau"), ("trong", "ngay")),
    "place": (("o", "dau"), ("co", "quan", "nao"), ("noi", "nao"), ("cho", "nao"), ("o", "mo"),
              ("nop", "o"), ("lam", "o")),
    "conditions": (("dieu", "kien"), ("co", "duoc", "khong"), ("duoc", "khong"), ("co", "phai")),
    "online": (("truc", "tuyen"), ("online",), ("qua", "mang"), ("tren", "mang"), ("vneid",),
               ("dich", "vu", "cong")),
}
ASPECT_WORDS = frozenset(w for runs in ASPECT_CUES.values() for run in runs for w in run)

# Sentence cues that make a sentence a question (besides "?").
_CLOSING = frozenset({"khong", "ko", "k", "hong", "hok", "chua", "ha", "hem"})
_QUESTION_RUNS = (
    ("the", "nao"), ("ntn",),
    ("lam", "sao"), ("ra", "sao"), ("o", "dau"), ("bao", "lau"), ("bao", "nhieu"), ("can", "gi"),
    ("gi",), ("j",), ("nao",), ("thu", "tuc"), ("hoi",), ("rang",), ("mo",), ("chi",), ("may",),
    ("duoc", "khong"), ("sao",), ("dau",), ("co", "phai"),
)
_SENTENCE = re.compile(r"(?<=[.?!;\n:])\s+|\n+")
_GREETING = frozenset("""
xin chao kinh gui thua da vang cam on cac anh chi em ban ad admin can bo xa phuong ubnd uy ban
nhan dan bo phan mot cua tran trong toi chau con bac chu co cong an lanh dao luat su a oi minh
thay u bu ong ba nhieu rat
""".split())


@dataclass(frozen=True)
class Parts:
    """A message cut in two: the question sentences, and the story around them."""

    question: list[str]  # tokens
    story: list[str]
    question_text: str  # the sentences as written (diacritics kept)
    story_text: str = ""


def _runs(toks: list[str]) -> set[str]:
    """Every run of one to three words in ``toks``, space-joined: what the cues are looked up in."""
    return {" ".join(toks[i:i + n]) for n in (1, 2, 3) for i in range(len(toks) - n + 1)}


_QUESTION_CUES = frozenset(" ".join(run) for run in _QUESTION_RUNS)
_ASPECT_KEYS = {aspect: frozenset(" ".join(run) for run in runs) for aspect, runs in ASPECT_CUES.items()}


def split(message: str, tokenize: Callable[[str], list[str]] = vtext.tokens) -> Parts:
    """The question sentences and the rest; a message without a recognisable question is all
    question (a short chat message usually is one)."""
    sentences = [s for s in _SENTENCE.split(message) if s.strip()]
    if len(sentences) <= 1:
        return Parts(tokenize(message), [], message)
    question: list[str] = []
    story: list[str] = []
    asked: list[str] = []
    told: list[str] = []
    for sentence in sentences:
        toks = tokenize(sentence)
        if not toks or set(toks) <= _GREETING:
            continue  # "Xin chào cán bộ xã.", "Xin cảm ơn."
        if _asks(sentence, toks):
            question.extend(toks)
            asked.append(sentence)
        else:
            story.extend(toks)
            told.append(sentence)
    if not question:
        return Parts(story, [], " ".join(told))
    return Parts(question, story, " ".join(asked), " ".join(told))


def _asks(sentence: str, toks: list[str]) -> bool:
    """A question: "?", a question word, or "không" / "chưa" closing it ("có được không")."""
    if "?" in sentence or not _QUESTION_CUES.isdisjoint(_runs(toks)):
        return True
    return not _CLOSING.isdisjoint(toks[-3:])


def aspects(toks: list[str]) -> frozenset[str]:
    """The aspects a question asks about (papers, fee, time, place, conditions, online)."""
    runs = _runs(toks)
    return frozenset(a for a, keys in _ASPECT_KEYS.items() if not keys.isdisjoint(runs))


# Terms that neither cover nor miss: filler words, and the aspect cues (the aspect of a
# procedure is answered by its general entry; which entry is asked is decided by the rest).
_CONTENT_CUES = {"mat", "so", "qua", "han", "ho"}
_ASPECT_GRAMS = frozenset(
    gram
    for aspect, runs in ASPECT_CUES.items() if aspect != "online"
    for run in runs
    for gram in (*run, *(f"{a} {b}" for a, b in zip(run, run[1:], strict=False)))
    if gram not in _CONTENT_CUES
)


def filler(gram: str) -> bool:
    """A filler word, a bigram of two ("cho cháu", "ở xã"), or a number (an age)."""
    return all(w in FILLER or w.isdigit() for w in gram.split(" "))


def with_filler(gram: str) -> bool:
    """A term with a filler word in it: no word of a procedure's own."""
    return any(w in FILLER for w in gram.split(" "))


def aspect_term(gram: str) -> bool:
    return gram in _ASPECT_GRAMS


def neutral(gram: str) -> bool:
    """Whether a term neither covers nor misses: filler, or the aspect asked."""
    return gram in _ASPECT_GRAMS or filler(gram)
