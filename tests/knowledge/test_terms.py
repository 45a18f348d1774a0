"""From morphs to terms: stop words, compound parts, compounds across spacing."""

from __future__ import annotations

from sangdam.knowledge.analyzer import Analyzer
from sangdam.knowledge.synonyms import SynonymMap
from sangdam.knowledge.terms import normalize, to_terms


def terms(analyzer: Analyzer, synonyms: SynonymMap, text: str) -> list[str]:
    return [t.text for t in to_terms(normalize(analyzer.analyze(text), synonyms), text)]


def test_spacing_does_not_matter(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    together = terms(analyzer, synonyms, "분실신고")
    apart = terms(analyzer, synonyms, "분실 신고")
    assert together == apart == ["분실", "신고", "분실신고"]


def test_compounds_follow_word_order_single_words_do_not(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    reversed_ = terms(analyzer, synonyms, "신고 분실")
    assert {"분실", "신고"} <= set(reversed_)
    assert "분실신고" not in reversed_


def test_no_compound_across_punctuation(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    assert "분실신고" not in terms(analyzer, synonyms, "분실, 신고")


def test_affixes_join_their_noun(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    found = terms(analyzer, synonyms, "재발급 신청")
    assert "재발급" in found and "발급" in found
    assert "재" not in found


def test_long_nouns_also_give_their_first_part(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    assert {"결제일", "결제"} <= set(terms(analyzer, synonyms, "결제일"))
    assert {"상담원", "상담"} <= set(terms(analyzer, synonyms, "상담원"))


def test_stop_words_and_fillers_go(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    assert terms(analyzer, synonyms, "혹시 이거 어떻게 하는 건가요") == []
    assert terms(analyzer, synonyms, "한도 좀 올려 주세요") == ["한도", "상향", "한도상향"]


def test_latin_and_hangul_compound(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    assert {"ic", "칩", "ic칩"} <= set(terms(analyzer, synonyms, "IC칩"))
