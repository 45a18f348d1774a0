"""Keeping each worker's in-memory index equal to the database.

Every change that search can see bumps ``kb_index_state.version`` in the same transaction and stamps
the changed article with it (``revision``). Before a search, a worker reads that one row; when the
number moved, it fetches ``(id, revision)`` of all articles, re-indexes only the ones whose revision
differs and drops the ones that are gone. A change of the synonym dictionary (``synonyms_version``)
rebuilds the whole index, since every article's terms may change. Articles carry their analysis
(``analysis``, stamped with the analyzer version), so no worker needs to re-run Kiwi on them.

The same code runs on SQLite and PostgreSQL: the database only stores; ranking happens here.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.knowledge.analyzer import Analyzer, get_analyzer, normalize_text
from sangdam.knowledge.index import (
    IndexedArticle,
    KnowledgeIndex,
    analyze_articles,
    dump_analysis,
    keywords_text,
    load_analysis,
)
from sangdam.knowledge.richtext import to_plain
from sangdam.knowledge.synonyms import SynonymMap, builtin_entries, builtin_expansions
from sangdam.models.knowledge import KbArticle, KbIndexState, KbSynonym

_CHUNK = 500
_ARTICLE_COLUMNS = (
    KbArticle.id,
    KbArticle.category,
    KbArticle.question,
    KbArticle.answer,
    KbArticle.keywords,
    KbArticle.synonyms,
    KbArticle.published,
    KbArticle.revision,
    KbArticle.analysis,
)


def bump_version(session: Session, *, synonyms: bool = False) -> int:
    """Advance the knowledge-base version in the current transaction; returns the new version."""
    values: dict[str, Any] = {"version": KbIndexState.version + 1, "updated_at": now()}
    if synonyms:
        values["synonyms_version"] = KbIndexState.version + 1
    version = session.execute(
        update(KbIndexState).where(KbIndexState.id == 1).values(**values).returning(KbIndexState.version)
    ).scalar_one_or_none()
    if version is None:  # a database whose tables were created without the migration's first row
        session.execute(insert(KbIndexState).values(id=1, version=1, synonyms_version=1 if synonyms else 0))
        version = 1
    return int(version)


def article_texts(question: str, answer: str, keywords: Iterable[str], synonyms: Iterable[str]) -> tuple[str, str, str]:
    """The three analysed texts of an article: question, answer as plain text, keywords field."""
    return normalize_text(question), normalize_text(to_plain(answer)), keywords_text(keywords, synonyms)


def analyse(analyzer: Analyzer, articles: Sequence[KbArticle]) -> None:
    """Fill ``analysis`` of the given articles (one Kiwi batch)."""
    texts = [article_texts(a.question, a.answer, a.keywords or [], a.synonyms or []) for a in articles]
    for article, morphs in zip(articles, analyze_articles(analyzer, texts), strict=True):
        article.analysis = dump_analysis(morphs, analyzer.version)


def load_synonyms(session: Session, analyzer: Analyzer) -> SynonymMap:
    """The built-in dictionary extended (and overridden) by the admins' entries."""
    rows = session.execute(select(KbSynonym.term, KbSynonym.canonical).order_by(KbSynonym.id)).all()
    entries = [*builtin_entries(), *((r.term, r.canonical) for r in rows)]
    return SynonymMap.build(analyzer, entries, builtin_expansions())


def _indexed(analyzer: Analyzer, rows: Sequence[Any]) -> list[IndexedArticle]:
    texts = [article_texts(r.question, r.answer, r.keywords or [], r.synonyms or []) for r in rows]
    morphs = [load_analysis(r.analysis, analyzer.version) for r in rows]
    missing = [i for i, m in enumerate(morphs) if m is None]
    if missing:
        for i, fresh in zip(missing, analyze_articles(analyzer, [texts[i] for i in missing]), strict=True):
            morphs[i] = fresh
    out = []
    for row, (question, answer, kw), analysed in zip(rows, texts, morphs, strict=True):
        assert analysed is not None
        out.append(
            IndexedArticle(row.id, row.category, question, answer, kw, bool(row.published), row.revision, analysed)
        )
    return out


class IndexSync:
    """One index per database, refreshed from it when the knowledge-base version moves."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or get_analyzer()
        self.index = KnowledgeIndex(self.analyzer)
        self._lock = threading.Lock()

    def current(self, session: Session) -> KnowledgeIndex:
        """The index, brought up to date with what ``session`` sees (one small query when it is)."""
        row = session.execute(
            select(KbIndexState.version, KbIndexState.synonyms_version).where(KbIndexState.id == 1)
        ).first()
        version, synonyms_version = (row.version, row.synonyms_version) if row else (0, 0)
        if version != self.index.version:
            with self._lock:
                if version != self.index.version:
                    self._refresh(session, version, synonyms_version)
        return self.index

    def _refresh(self, session: Session, version: int, synonyms_version: int) -> None:
        index = self.index
        if index.version < 0 or synonyms_version != index.synonyms_version:
            synonyms = load_synonyms(session, self.analyzer)
            rows = session.execute(select(*_ARTICLE_COLUMNS)).all()
            index.replace_all(_indexed(self.analyzer, rows), synonyms)
        else:
            stored = {i: r for i, r in session.execute(select(KbArticle.id, KbArticle.revision)).all()}
            known = index.revisions()
            changed = [i for i, revision in stored.items() if known.get(i) != revision]
            removed = [i for i in known if i not in stored]
            articles: list[IndexedArticle] = []
            for start in range(0, len(changed), _CHUNK):
                chunk = changed[start : start + _CHUNK]
                rows = session.execute(select(*_ARTICLE_COLUMNS).where(KbArticle.id.in_(chunk))).all()
                articles.extend(_indexed(self.analyzer, rows))
            index.update(articles, removed)
        index.version = version
        index.synonyms_version = synonyms_version


_syncs: weakref.WeakKeyDictionary[Engine, IndexSync] = weakref.WeakKeyDictionary()
_syncs_lock = threading.Lock()


def sync_for(engine: Engine) -> IndexSync:
    with _syncs_lock:
        found = _syncs.get(engine)
        if found is None:
            found = IndexSync()
            _syncs[engine] = found
        return found


def warm_up(session: Session) -> KnowledgeIndex:
    """Load the analyzer and build the index now (a server's start-up), not on the first search.

    Building reads every article inside ``session``'s transaction — on SQLite, a write lock — so
    do it before serving rather than during a customer's request.
    """
    sync = sync_for(_engine(session))
    sync.analyzer.warm_up()
    return sync.current(session)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def index_for(session: Session) -> KnowledgeIndex:
    """The current index of the database ``session`` is bound to."""
    return sync_for(_engine(session)).current(session)
