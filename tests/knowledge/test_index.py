"""The search index on the demo FAQ: the Korean cases naive search gets wrong, field boosts, updates."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sangdam.knowledge.analyzer import Analyzer
from sangdam.knowledge.index import KnowledgeIndex
from sangdam.knowledge.synonyms import SynonymMap
from tests.knowledge.conftest import make_articles, top_ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # particles
        ("카드를 분실했어요", "lost-card-report"),
        ("분실 신고는 어디서 해요", "lost-card-report"),
        ("연회비를 포인트로 낼 수 있나요", "annual-fee"),
        # compounds written with or without spaces
        ("카드분실신고", "lost-card-report"),
        ("할부 전환", "installment-conversion"),
        ("할부전환", "installment-conversion"),
        ("해외결제차단", "overseas-blocking"),
        # verb endings
        ("카드를 잃어버렸어요", "lost-card-report"),
        ("잃어버린 카드를 찾았어요", "lost-card-release"),
        ("카드가 부러졌어요", "damaged-card"),
        # colloquial words
        ("앱 비번 까먹었어요", "app-password-reset"),
        ("카드값 밀렸어요", "overdue"),
        ("캐쉬백 언제 들어와요", "cashback"),
        ("카톡으로 상담 돼요?", "kakaotalk-support"),
        ("폰번호 바뀌었어요", "contact-change"),
        ("결제가 두 번 됐어요", "duplicate-charge"),
        # typos
        ("분싷신고", "lost-card-report"),
        ("캐시벡 지급일", "cashback"),
        ("할부젼환 신청", "installment-conversion"),
        ("연채 되면 어떻게 돼요", "overdue"),
        ("앱 비밀번화 잊어버림", "app-password-reset"),
        # Korean and English mixed, numbers
        ("CVC 알려달라는 전화가 왔어요", "phishing-cvc-request"),
        ("IC칩 인식이 안 돼요", "damaged-card"),
        ("kakao 상담", "kakaotalk-support"),
        ("1588-0000 고객센터 번호", "customer-center-phone"),
    ],
)
def test_korean_queries_find_the_right_article(demo_index: KnowledgeIndex, query: str, expected: str) -> None:
    assert top_ids(demo_index, query, 1) == [expected], top_ids(demo_index, query)


def test_reversed_word_order_still_matches(demo_index: KnowledgeIndex) -> None:
    assert "lost-card-report" in top_ids(demo_index, "신고 분실 카드", 3)


def test_spacing_variants_rank_alike(demo_index: KnowledgeIndex) -> None:
    assert top_ids(demo_index, "분실신고 방법", 3) == top_ids(demo_index, "분실 신고 방법", 3)


def test_hits_explain_themselves(demo_index: KnowledgeIndex) -> None:
    hit = demo_index.search("카드를 잃어버렸어요", 1)[0]
    assert hit.matched == ("카드", "잃어버렸")
    assert "<mark>카드</mark>" in hit.question_html and "<mark>분실</mark>" in hit.question_html
    assert "<mark>" in hit.snippet_html
    assert 0 < hit.coverage <= 1


def test_corrections_are_reported(demo_index: KnowledgeIndex) -> None:
    assert demo_index.parse("분싷신고").corrections == {"분싷신고": "분실신고"}
    assert demo_index.parse("앱 비밀번화").corrections == {"비밀번화": "비밀번호"}
    assert demo_index.parse("분실 신고").corrections == {}


def test_words_kiwi_knows_are_not_corrected(demo_index: KnowledgeIndex) -> None:
    assert demo_index.search("오늘 날씨 어때요", 3) == []


def test_nothing_for_nothing(demo_index: KnowledgeIndex) -> None:
    assert demo_index.search("", 3) == []
    assert demo_index.search("   ?!", 3) == []
    assert demo_index.search("카드", 0) == []


def test_category_filter(demo_index: KnowledgeIndex) -> None:
    hits = demo_index.search("카드", 10, category="lost_card")
    assert hits and {h.category for h in hits} == {"lost_card"}
    assert demo_index.search("카드", 10, category="no_such_topic") == []


@given(st.text(max_size=60))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_a_valid_query(demo_index: KnowledgeIndex, text: str) -> None:
    for hit in demo_index.search(text, 3):
        assert hit.score > 0


def _small(analyzer: Analyzer, synonyms: SynonymMap) -> KnowledgeIndex:
    index = KnowledgeIndex(analyzer, synonyms)
    filler = "자세한 내용은 고객센터로 문의해 주세요. 앱에서도 확인할 수 있습니다."
    index.replace_all(
        make_articles(
            analyzer,
            [
                {
                    "id": "in-question",
                    "category": "points_benefits",
                    "question": "연회비는 얼마인가요?",
                    "answer": filler,
                },
                {
                    "id": "in-keywords",
                    "category": "points_benefits",
                    "question": "카드 혜택 안내",
                    "answer": filler,
                    "keywords": ["연회비"],
                },
                {
                    "id": "in-answer",
                    "category": "points_benefits",
                    "question": "카드 혜택 요약",
                    "answer": "연회비는 상품마다 다릅니다. " + filler,
                },
                {"id": "draft", "category": "other", "question": "연회비 초안", "answer": filler, "published": False},
            ],
        )
    )
    return index


def test_field_boosts_question_over_keywords_over_answer(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    index = _small(analyzer, synonyms)
    assert top_ids(index, "연회비", 3) == ["in-question", "in-keywords", "in-answer"]


def test_drafts_only_when_asked(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    index = _small(analyzer, synonyms)
    assert "draft" not in top_ids(index, "연회비 초안", 4)
    assert [h.id for h in index.search("연회비 초안", 1, include_drafts=True)] == ["draft"]


def test_updates_touch_only_the_changed_article(analyzer: Analyzer, synonyms: SynonymMap) -> None:
    index = _small(analyzer, synonyms)
    assert len(index) == 4
    [changed] = make_articles(
        analyzer,
        [{"id": "in-answer", "category": "points_benefits", "question": "캐시백 지급 안내", "answer": "매달 지급"}],
        revision=7,
    )
    index.update([changed], removed=["in-keywords"])
    assert len(index) == 3 and "in-keywords" not in index
    assert index.revisions()["in-answer"] == 7
    assert top_ids(index, "연회비", 3) == ["in-question"]
    assert top_ids(index, "캐시백", 3) == ["in-answer"]
    assert index.document_frequency("혜택") == 0  # its last article is gone
    [again] = make_articles(
        analyzer, [{"id": "in-keywords", "category": "points_benefits", "question": "연회비 면제", "answer": "x"}]
    )
    index.update([again])
    assert top_ids(index, "연회비 면제", 1) == ["in-keywords"]
    assert len(index) == 4
