"""The editable dictionary: abbreviations and synonyms add meanings to a query."""

from __future__ import annotations

from bot.lexicon import Lexicon

SO_DO = ("giay", "chung", "nhan", "quyen", "su", "dung", "dat")


def lexicon() -> Lexicon:
    return Lexicon.from_mapping(
        {
            "cccd": ["căn cước công dân"],
            "đk": ["đăng ký", "điều kiện"],
            "ko": ["không"],
        },
        {
            "sổ đỏ": ["giấy chứng nhận quyền sử dụng đất"],
            "công chứng": ["chứng thực"],
        },
    )


def test_abbreviation_expansion_is_added_not_substituted() -> None:
    lx = lexicon()
    toks = lx.tokenize("làm cccd ở đâu")
    assert toks == ["lam", "cccd", "o", "dau"]  # the typed abbreviation stays, unsqueezed
    assert lx.expand(toks) == [("can", "cuoc", "cong", "dan")]
    assert toks == ["lam", "cccd", "o", "dau"]  # expand does not touch the query


def test_ambiguous_abbreviation_expands_to_every_meaning() -> None:
    lx = Lexicon.from_mapping({"dk": ["đăng ký", "điều kiện"]}, {})
    assert lx.expand(lx.tokenize("dk ket hon")) == [("dang", "ki"), ("dieu", "kien")]


def test_key_written_with_diacritics_matches_typed_without() -> None:
    lx = lexicon()  # the key is written "đk"
    assert lx.expand(lx.tokenize("dk khai sinh")) == [("dang", "ki"), ("dieu", "kien")]
    assert lx.expand(lx.tokenize("ĐK khai sinh")) == [("dang", "ki"), ("dieu", "kien")]


def test_abbreviation_matches_whole_tokens_only() -> None:
    lx = lexicon()
    assert lx.expand(lx.tokenize("dkkd hộ kinh doanh")) == []
    assert lx.expand(lx.tokenize("kol")) == []


def test_multi_word_synonym_found_inside_a_longer_query() -> None:
    lx = lexicon()
    with_marks = lx.tokenize("Cho tôi hỏi làm sổ đỏ lần đầu mất bao lâu?")
    without_marks = lx.tokenize("cho toi hoi lam so do lan dau mat bao lau")
    assert lx.expand(with_marks) == [SO_DO]
    assert lx.expand(without_marks) == [SO_DO]


def test_synonym_phrase_must_be_contiguous() -> None:
    lx = lexicon()
    assert lx.expand(lx.tokenize("sổ hộ khẩu màu đỏ")) == []
    assert lx.expand(lx.tokenize("đỏ sổ")) == []


def test_synonym_at_the_end_and_abbreviation_together() -> None:
    lx = lexicon()
    extra = lx.expand(lx.tokenize("ko biết công chứng"))
    assert ("khong",) in extra
    assert ("chung", "thuc") in extra


def test_meanings_keep_protected_abbreviations() -> None:
    # a synonym that points to "cccd" must add the token the index holds ("cccd"), not "cd"
    lx = Lexicon.from_mapping({"cccd": ["căn cước công dân"]}, {"thẻ căn cước": ["cccd"]})
    assert lx.expand(lx.tokenize("làm thẻ căn cước")) == [("cccd",)]
    assert lx.tokenize("thẻ cccd") == ["the", "cccd"]


def test_protected_tokens_are_the_abbreviation_keys() -> None:
    assert lexicon().protected == frozenset({"cccd", "dk", "ko"})


def test_empty_lexicon_expands_nothing() -> None:
    lx = Lexicon.from_mapping({}, {})
    assert lx.expand(lx.tokenize("sổ đỏ cccd dk")) == []


def test_deciding_words_compare_with_diacritics_when_typed_with_them() -> None:
    lx = Lexicon.from_mapping({}, {"mất sổ": ["cấp lại giấy chứng nhận"]}, ["đổi", "cấp lại"])
    doi, cap_lai = 0, 1
    assert lx.deciding_in("đổi thẻ căn cước") == {doi}
    assert lx.deciding_in("đợi bao lâu thì có") == set()  # "đợi" is not "đổi"
    assert lx.deciding_in("doi the can cuoc") == {doi}  # typed without: stripped
    assert lx.deciding_in("doi the", stripped_ok=frozenset()) == set()  # ...unless ambiguous
    assert lx.deciding_in("mất sổ", lx.expand(lx.tokenize("mất sổ"))) == {cap_lai}


def test_an_entry_mentions_a_deciding_word_in_its_own_text() -> None:
    lx = Lexicon.from_mapping({}, {}, ["thuế", "đổi"])
    present, stripped = lx.deciding_of_entry(["Đăng ký tạm trú", "hợp đồng thuê nhà", "doi cccd"])
    assert present == {1}  # "doi cccd", typed without diacritics, says "đổi"
    assert stripped == {0}  # "thuê" strips to "thue": a stripped query cannot tell it apart


def test_deciding_section_errors_name_the_line(tmp_path) -> None:
    from bot.config import Office
    from bot.content.loader import load_pack
    from tests.packs import LEXICON, write_pack

    root = tmp_path / "content"
    write_pack(root, lexicon=LEXICON + "deciding:\n  - mục đích\n  - ''\n  - Mục đích\n")
    pack, problems = load_pack(root, Office().template_values())
    assert pack is None
    start = LEXICON.count("\n") + 1
    assert [str(p) for p in problems if not p.warning] == [
        f"content/lexicon.yaml:{start + 2}: 'deciding' mục 2: phải là một từ hoặc cụm từ",
        f"content/lexicon.yaml:{start + 3}: 'Mục đích' trùng với dòng {start + 1}",
    ]
    write_pack(root, lexicon=LEXICON + "deciding:\n  mục đích: x\n")
    _, problems = load_pack(root, Office().template_values())
    assert [p.line for p in problems] == [start]


def test_a_negated_deciding_word_does_not_decide() -> None:
    lx = Lexicon.from_mapping({}, {}, ["di chúc", "lương hưu"])
    assert lx.deciding_in("bố tôi mất không để lại di chúc, chia đất thế nào") == set()
    assert lx.deciding_in("lập di chúc ở đâu") == {0}
    assert lx.deciding_in("mẹ tôi không có lương hưu") == set()
