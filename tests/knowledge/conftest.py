"""Fixtures of the knowledge tests: one analyzer per session, an in-memory index of the demo FAQ, and a
database with the demo articles loaded."""

from __future__ import annotations

import json

import pytest

from sangdam.core.db import Database
from sangdam.knowledge.analyzer import Analyzer, get_analyzer
from sangdam.knowledge.demo import demo_lines, load_demo_articles
from sangdam.knowledge.index import IndexedArticle, KnowledgeIndex, analyze_articles
from sangdam.knowledge.sync import article_texts
from sangdam.knowledge.synonyms import SynonymMap, builtin_entries, builtin_expansions


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    shared = get_analyzer()
    shared.warm_up()
    return shared


@pytest.fixture(scope="session")
def synonyms(analyzer: Analyzer) -> SynonymMap:
    return SynonymMap.build(analyzer, builtin_entries(), builtin_expansions())


def make_articles(analyzer: Analyzer, rows: list[dict[str, object]], revision: int = 1) -> list[IndexedArticle]:
    texts = [
        article_texts(str(r["question"]), str(r["answer"]), r.get("keywords", []), r.get("synonyms", []))  # type: ignore[arg-type]
        for r in rows
    ]
    return [
        IndexedArticle(str(r["id"]), str(r["category"]), q, a, k, bool(r.get("published", True)), revision, m)
        for r, (q, a, k), m in zip(rows, texts, analyze_articles(analyzer, texts), strict=True)
    ]


@pytest.fixture(scope="session")
def demo_rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in demo_lines() if line.strip()]


@pytest.fixture(scope="session")
def demo_index(analyzer: Analyzer, synonyms: SynonymMap, demo_rows: list[dict[str, object]]) -> KnowledgeIndex:
    index = KnowledgeIndex(analyzer, synonyms)
    index.replace_all(make_articles(analyzer, demo_rows))
    return index


def top_ids(index: KnowledgeIndex, query: str, n: int = 3) -> list[str]:
    return [hit.id for hit in index.search(query, n, highlight=False)]


@pytest.fixture
def kb(db: Database) -> Database:
    """The test database with the demo FAQ loaded."""
    with db.transaction() as session:
        load_demo_articles(session)
    return db
