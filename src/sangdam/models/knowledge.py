"""Knowledge base tables: FAQ articles, the admin-extendable synonym dictionary, the search-before-
inquiry (deflection) log, and the one-row version counter that keeps every worker's index current.

An article's ``category`` is a topic code (``lost_card`` …). ``revision`` is the knowledge-base
version of its last change that matters to search, and ``analysis`` caches the analyzer's output
(stamped with the analyzer version) so a worker builds its index without re-analysing every article.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.core.clock import now
from sangdam.models.base import Base


class KbArticle(Base):
    """An FAQ article (자주 묻는 질문); ``id`` is a stable slug such as ``lost-card-report``."""

    __tablename__ = "kb_articles"
    __table_args__ = (Index("ix_kb_articles_category_order", "category", "sort_order"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(default=0)
    views: Mapped[int] = mapped_column(default=0)
    helpful_yes: Mapped[int] = mapped_column(default=0)
    helpful_no: Mapped[int] = mapped_column(default=0)
    revision: Mapped[int] = mapped_column(default=0)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class KbSynonym(Base):
    """One entry of the search dictionary: a word customers use and the word articles use (비번 → 비밀번호)."""

    __tablename__ = "kb_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(100), unique=True)
    canonical: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class KbDeflection(Base):
    """Articles suggested while a customer typed an inquiry, and whether they submitted anyway."""

    __tablename__ = "kb_deflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16), default="form")
    shown_article_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_article_id: Mapped[str | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"))
    submitted: Mapped[bool] = mapped_column(default=False)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class KbIndexState(Base):
    """One row (id 1): bumped by every change to what search sees, so each worker knows to refresh."""

    __tablename__ = "kb_index_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    synonyms_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=now)
