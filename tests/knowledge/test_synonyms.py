"""The synonym and colloquial-word dictionary: replacement, verbs, expansions, admin overrides."""

from __future__ import annotations

from sangdam.knowledge.analyzer import Analyzer
from sangdam.knowledge.synonyms import SynonymMap, builtin_entries, builtin_expansions


def applied(synonyms: SynonymMap, analyzer: Analyzer, text: str) -> list[str]:
    return [m.form for m in synonyms.apply(analyzer.analyze(text))]


def test_colloquial_words_become_the_articles_words(synonyms: SynonymMap, analyzer: Analyzer) -> None:
    assert applied(synonyms, analyzer, "비번") == ["비밀", "번호"]
    assert applied(synonyms, analyzer, "카드값이") == ["결제", "대금"]
    assert applied(synonyms, analyzer, "캐쉬백은") == ["캐시백"]
    assert applied(synonyms, analyzer, "카드를 잃어버렸어요") == ["카드", "분실"]


def test_phrases_match_whatever_particles_sit_between(synonyms: SynonymMap, analyzer: Analyzer) -> None:
    assert applied(synonyms, analyzer, "결제가 두 번 됐어요")[:2] == ["중복", "결제"]
    assert applied(synonyms, analyzer, "결제가 안 돼요") == ["승인", "거절"]


def test_replacements_take_the_span_of_what_they_replace(synonyms: SynonymMap, analyzer: Analyzer) -> None:
    text = "카드값 확인"
    first = synonyms.apply(analyzer.analyze(text))[0]
    assert text[first.start : first.end] == "카드값"


def test_verb_entries_do_not_catch_adverbs(synonyms: SynonymMap, analyzer: Analyzer) -> None:
    assert "차단" in applied(synonyms, analyzer, "해외 결제 좀 막아 주세요")
    assert "차단" not in applied(synonyms, analyzer, "막 결제했는데")


def test_expansions_keep_the_specific_word(synonyms: SynonymMap, analyzer: Analyzer) -> None:
    words = applied(synonyms, analyzer, "카카오페이 등록")
    assert "카카오페이" in words and "간편" in words and "결제" in words


def test_admin_entries_override_builtin_ones(analyzer: Analyzer) -> None:
    custom = SynonymMap.build(analyzer, [*builtin_entries(), ("카드값", "이용 금액"), ("한빛페이", "간편결제")])
    assert applied(custom, analyzer, "카드값") == ["이용", "금액"]
    assert applied(custom, analyzer, "한빛페이") == ["간편", "결제"]


def test_identity_and_empty_entries_are_ignored(analyzer: Analyzer) -> None:
    custom = SynonymMap.build(analyzer, [("카드", "카드"), ("", "결제"), ("  ", " ")])
    assert len(custom) == 0
    assert SynonymMap.empty().apply(analyzer.analyze("카드")) == analyzer.analyze("카드")


def test_single_word_variants_are_listed_for_typo_correction(synonyms: SynonymMap) -> None:
    assert synonyms.single_words["캐쉬백"] == ("캐시백",)
    assert "카카오페이" not in synonyms.single_words  # an expansion, not a variant


def test_builtin_dictionary_is_not_empty() -> None:
    assert len(builtin_entries()) > 150
    assert ("삼성페이", "간편결제") in builtin_expansions()


def test_a_canonical_that_is_itself_a_variant_is_resolved(analyzer: Analyzer) -> None:
    custom = SynonymMap.build(analyzer, [*builtin_entries(), ("카드빚", "청구 금액")])
    assert applied(custom, analyzer, "카드빚") == applied(custom, analyzer, "청구 금액") == ["결제", "대금"]
