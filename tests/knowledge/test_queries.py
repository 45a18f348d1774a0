"""Reads: search through the database, topic detection, browsing, the deflection figures."""

from __future__ import annotations

import pytest

from sangdam.core.db import Database
from sangdam.core.errors import NotFound
from sangdam.knowledge import actions, queries
from sangdam.knowledge.schemas import ArticleUpdate
from sangdam.privacy.audit import Actor

SYSTEM = Actor.system()


def test_search_returns_explained_hits(kb: Database) -> None:
    with kb.session() as session:
        result = queries.search(session, "캐쉬백 언제 들어와요", 3)
    assert result.hits[0].id == "cashback"
    assert "캐쉬백" in result.hits[0].matched
    assert "<mark>캐시백</mark>" in result.hits[0].question_html


def test_search_reports_typo_corrections(kb: Database) -> None:
    with kb.session() as session:
        result = queries.search(session, "분싷신고 하려고요", 3)
    assert result.hits[0].category == "lost_card"
    assert "분싷신고" in result.corrections


def test_drafts_are_hidden_from_customers(kb: Database) -> None:
    with kb.transaction() as session:
        actions.set_published(session, "cashback", False, SYSTEM)
    with kb.session() as session:
        assert "cashback" not in [h.id for h in queries.search(session, "캐시백 지급일", 5).hits]
        assert queries.search(session, "캐시백 지급일", 1, include_drafts=True).hits[0].id == "cashback"
        with pytest.raises(NotFound):
            queries.get_article(session, "cashback")
        assert queries.get_article(session, "cashback", include_drafts=True).id == "cashback"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("카드를 잃어버렸어요 빨리 정지해 주세요", "lost_card"),
        ("안녕하세요 어제 마트에 다녀왔는데 지갑을 잃어버렸어요 카드가 다 들어 있었어요", "lost_card"),
        ("지난달 명세서에 같은 결제가 두 번 청구되어 있네요", "payment_billing"),
        ("포인트를 현금으로 바꾸고 싶어요", "points_benefits"),
        ("보이스피싱 전화를 받았어요 CVC를 알려 줬어요", "fraud_security"),
        ("앱 비번을 까먹었어요", "account_auth"),
    ],
)
def test_detect_topic_routes_free_text(kb: Database, text: str, category: str) -> None:
    with kb.session() as session:
        found, confidence = queries.detect_topic(session, text)
    assert found == category and confidence >= queries.TOPIC_THRESHOLD


OFF_TOPIC = ["안녕하세요", "오늘 점심 뭐 먹지", "회사 가기 싫다", "ㅋㅋㅋㅋ", "감사합니다 좋은 하루 되세요"]


@pytest.mark.parametrize("text", OFF_TOPIC)
def test_detect_topic_says_it_does_not_know(kb: Database, text: str) -> None:
    with kb.session() as session:
        guess = queries.guess_topic(session, text)
    assert guess.category is None and guess.confidence < queries.TOPIC_THRESHOLD


def test_detect_topic_threshold_is_the_callers(kb: Database) -> None:
    with kb.session() as session:
        category, confidence = queries.detect_topic(session, "카드 분실 신고", threshold=1.01)
        assert category is None and confidence > 0.5
        guess = queries.guess_topic(session, "카드 분실 신고", threshold=1.01)
        assert guess.article_id is not None


def test_browse_categories_and_popular(kb: Database) -> None:
    with kb.transaction() as session:
        actions.record_view(session, "annual-fee")
        actions.record_view(session, "annual-fee")
        actions.record_view(session, "cashback")
        actions.update_article(session, "lost-card-overseas", ArticleUpdate(sort_order=-1), SYSTEM)
        actions.set_published(session, "lost-card-release", False, SYSTEM)
    with kb.session() as session:
        assert [a.id for a in queries.browse(session, "lost_card")] == ["lost-card-overseas", "lost-card-report"]
        assert len(queries.browse(session, "lost_card", include_drafts=True)) == 3
        summary = queries.categories(session)
        assert [c.code for c in summary][:2] == ["lost_card", "payment_billing"]  # the taxonomy's order
        assert summary[0].name == "분실/도난" and summary[0].articles == 2
        assert [a.id for a in queries.popular(session, 2)] == ["annual-fee", "cashback"]
        assert queries.browse(session, limit=3) and len(queries.browse(session, limit=3)) == 3
