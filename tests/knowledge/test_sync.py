"""Every worker's index follows the database: no restart, several workers, the same on every backend."""

from __future__ import annotations

from sqlalchemy import select

from sangdam.core.db import Database
from sangdam.knowledge import actions
from sangdam.knowledge.schemas import ArticleCreate, ArticleUpdate, SynonymCreate
from sangdam.knowledge.sync import IndexSync, bump_version, index_for, sync_for
from sangdam.models.knowledge import KbIndexState
from sangdam.privacy.audit import Actor

SYSTEM = Actor.system()


def ids(db: Database, worker: IndexSync, query: str) -> list[str]:
    with db.session() as session:
        return [h.id for h in worker.current(session).search(query, 3, include_drafts=True)]


def test_two_workers_see_each_others_changes(kb: Database) -> None:
    first, second = IndexSync(), IndexSync()
    assert ids(kb, first, "캐시백 지급일")[0] == "cashback"
    assert ids(kb, second, "캐시백 지급일")[0] == "cashback"
    with kb.transaction() as session:  # a third process edits the base
        change = ArticleUpdate(question="캐시백 지급일 이벤트 안내", keywords=["캐시백 지급일"])
        actions.update_article(session, "promotions", change, SYSTEM)
        actions.delete_article(session, "cashback", SYSTEM)
    assert ids(kb, first, "캐시백 지급일")[0] == "promotions"
    assert ids(kb, second, "캐시백 지급일")[0] == "promotions"
    assert "cashback" not in first.index


def test_a_refresh_reindexes_only_what_changed(kb: Database) -> None:
    worker = IndexSync()
    with kb.session() as session:
        before = worker.current(session).revisions()
    with kb.transaction() as session:
        new = ArticleCreate(id="new-one", category="other", question="새 글", answer="내용", published=True)
        actions.create_article(session, new, SYSTEM)
    with kb.session() as session:
        after = worker.current(session).revisions()
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {"new-one"}


def test_synonym_changes_rebuild_every_worker(kb: Database) -> None:
    worker = IndexSync()
    assert "points-cashout" not in ids(kb, worker, "포현")
    with kb.transaction() as session:
        actions.add_synonym(session, SynonymCreate(term="포현", canonical="포인트 현금화"), SYSTEM)
    assert ids(kb, worker, "포현")[0] == "points-cashout"


def test_index_for_is_one_index_per_database(kb: Database) -> None:
    with kb.session() as session:
        assert index_for(session) is index_for(session)
        assert sync_for(kb.engine).index is index_for(session)


def test_version_row_is_recreated_if_missing(db: Database) -> None:
    with db.transaction() as session:
        session.execute(KbIndexState.__table__.delete())
        assert bump_version(session) == 1
    with db.session() as session:
        assert session.execute(select(KbIndexState.version)).scalar_one() == 1


def test_warm_up_builds_before_the_first_search(kb: Database) -> None:
    from sangdam.knowledge.sync import warm_up

    with kb.session() as session:
        index = warm_up(session)
    assert len(index) >= 40 and index.version >= 1
    with kb.session() as session:
        assert index_for(session) is index
