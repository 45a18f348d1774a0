"""Jamo-level typo tolerance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sangdam.knowledge.fuzzy import FuzzyVocabulary, edit_distance, eligible, to_jamo

hangul = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=6)


def test_jamo_spelling_splits_compound_letters() -> None:
    assert to_jamo("캐시백") == "ㅋㅐㅅㅣㅂㅐㄱ"
    assert to_jamo("화") == "ㅎㅗㅏ"
    assert to_jamo("싫") == "ㅅㅣㄹㅎ"
    assert to_jamo("IC") == "IC"


def test_one_letter_typos_are_one_edit() -> None:
    for typo, right in [("캐시벡", "캐시백"), ("할부젼환", "할부전환"), ("분싷", "분실"), ("비밀번화", "비밀번호")]:
        assert edit_distance(to_jamo(typo), to_jamo(right)) == 1


@given(hangul, hangul)
def test_edit_distance_is_symmetric(a: str, b: str) -> None:
    assert edit_distance(to_jamo(a), to_jamo(b)) == edit_distance(to_jamo(b), to_jamo(a))


@given(hangul)
def test_a_word_is_zero_from_itself(word: str) -> None:
    assert edit_distance(to_jamo(word), to_jamo(word)) == 0


def test_lookup_finds_the_nearest_usable_word() -> None:
    vocab = FuzzyVocabulary()
    vocab.add_many(["캐시백", "캐시", "결제일", "연체"])
    assert len(vocab) == 4 and "캐시백" in vocab
    rank = {"캐시백": 5.0, "연체": 3.0}.get
    assert vocab.lookup("캐시벡", lambda w: True, lambda w: rank(w) or 0.0) == "캐시백"
    assert vocab.lookup("연채", lambda w: True, lambda w: 0.0) == "연체"
    assert vocab.lookup("연채", lambda w: w != "연체", lambda w: 0.0) is None  # not usable (no longer indexed)
    assert vocab.lookup("날씨", lambda w: True, lambda w: 0.0) is None


def test_short_or_non_hangul_words_are_not_corrected() -> None:
    assert not eligible("카")
    assert not eligible("cvc")
    assert eligible("카드")
