"""The demo FAQ: enough articles, every topic of the taxonomy, valid lines, loaded once."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from sangdam.conversations.taxonomy import TOPIC_CODES
from sangdam.core.db import Database
from sangdam.knowledge import actions
from sangdam.knowledge.demo import demo_lines, load_demo_articles
from sangdam.knowledge.schemas import ArticleLine, ArticleUpdate
from sangdam.models.knowledge import KbArticle
from sangdam.privacy.audit import Actor

TOPICS_OF_THE_ISSUE = {
    "lost-card-report",
    "lost-card-release",
    "card-reissue",
    "lost-card-overseas",
    "unauthorized-use",
    "declined-payment",
    "duplicate-charge",
    "payment-dispute",
    "cancel-refund",
    "installment-conversion",
    "payment-date",
    "statement",
    "limit-increase",
    "overdue",
    "points-check-use",
    "points-cashout",
    "points-expiry",
    "card-expiry-renewal",
    "cashback",
    "annual-fee",
    "promotions",
    "card-cancellation",
    "damaged-card",
    "new-card-application",
    "card-delivery",
    "overseas-blocking",
    "customer-center-phone",
    "service-hours",
    "reach-agent",
    "email-response-time",
    "chat-support",
    "kakaotalk-support",
    "branch-visit",
    "complaint",
    "wait-time",
    "phishing-cvc-request",
    "smishing",
    "app-password-reset",
    "contact-change",
    "wrong-transfer",
    "overpayment-refund",
}


def test_demo_lines_are_valid_and_cover_the_taxonomy() -> None:
    items = [ArticleLine.model_validate(json.loads(line)) for line in demo_lines() if line.strip()]
    assert len(items) >= 40
    assert len({i.id for i in items}) == len(items)
    assert {i.category for i in items} == set(TOPIC_CODES)
    assert {i.id for i in items} >= TOPICS_OF_THE_ISSUE
    assert all(i.keywords and len(i.answer) > 80 for i in items)


def test_load_is_idempotent_and_keeps_edits(db: Database) -> None:
    with db.transaction() as session:
        loaded = load_demo_articles(session)
    assert loaded >= 40
    with db.transaction() as session:
        actions.update_article(session, "cashback", ArticleUpdate(question="바꾼 질문"), Actor.system())
        assert load_demo_articles(session) == 0
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(KbArticle)).scalar_one() == loaded
        assert session.get(KbArticle, "cashback").question == "바꾼 질문"  # type: ignore[union-attr]
