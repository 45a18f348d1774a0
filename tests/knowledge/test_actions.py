"""Changes to the knowledge base: articles, votes, deflections, synonyms, import and export."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from sangdam.core.db import Database
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.events import Event
from sangdam.knowledge import actions, queries
from sangdam.knowledge.analyzer import ANALYZER_VERSION
from sangdam.knowledge.schemas import ArticleCreate, ArticleUpdate, DeflectionCreate, SynonymCreate
from sangdam.models.knowledge import KbArticle, KbDeflection, KbIndexState
from sangdam.privacy.audit import Actor

SYSTEM = Actor.system()


def article_line(**overrides: object) -> str:
    item: dict[str, object] = {
        "id": "test-article",
        "category": "lost_card",
        "question": "카드를 잃어버렸어요",
        "answer": "앱에서 분실 신고를 해 주세요.",
        "keywords": ["분실"],
        "synonyms": [],
    }
    item.update(overrides)
    return json.dumps(item, ensure_ascii=False)


def version(db: Database) -> int:
    with db.session() as session:
        return session.execute(select(KbIndexState.version)).scalar_one()


def count(db: Database) -> int:
    with db.session() as session:
        return session.execute(select(func.count()).select_from(KbArticle)).scalar_one()


@pytest.fixture
def published(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    seen: list[Event] = []
    monkeypatch.setattr(db.bus, "publish", seen.append)
    return seen


def test_create_article_stamps_version_and_caches_analysis(db: Database, published: list[Event]) -> None:
    before = version(db)
    with db.transaction() as session:
        article = actions.create_article(
            session,
            ArticleCreate(
                id="fee",
                category="points_benefits",
                question=" 연회비는 얼마예요? ",
                answer="상품마다 달라요.",
                keywords=["연회비", " 연회비 ", ""],
                published=True,
            ),
            SYSTEM,
        )
        assert published == []  # not before commit
    assert version(db) == before + 1
    with db.session() as session:
        stored = session.get(KbArticle, "fee")
        assert stored is not None
        assert stored.question == "연회비는 얼마예요?"
        assert stored.keywords == ["연회비"]
        assert stored.revision == before + 1
        assert stored.analysis is not None and stored.analysis["v"] == ANALYZER_VERSION
    assert [e.kind for e in published] == ["kb.article.created"]
    assert article.id == "fee"


def test_rolled_back_changes_publish_nothing(db: Database, published: list[Event]) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        actions.create_article(session, ArticleCreate(id="x", category="other", question="q", answer="a"), SYSTEM)
        raise RuntimeError("abort")
    assert published == [] and count(db) == 0


def test_create_refuses_duplicates_and_unknown_categories(db: Database) -> None:
    with db.transaction() as session:
        actions.create_article(session, ArticleCreate(id="a", category="other", question="q", answer="a"), SYSTEM)
    with pytest.raises(Conflict), db.transaction() as session:
        actions.create_article(session, ArticleCreate(id="a", category="other", question="q", answer="a"), SYSTEM)
    with pytest.raises(InputError) as refused, db.transaction() as session:
        actions.create_article(session, ArticleCreate(id="b", category="nope", question="q", answer="a"), SYSTEM)
    assert "상담 유형" in refused.value.message


def test_update_bumps_only_when_search_can_see_it(db: Database) -> None:
    with db.transaction() as session:
        actions.create_article(session, ArticleCreate(id="a", category="other", question="q", answer="a"), SYSTEM)
    start = version(db)
    with db.transaction() as session:
        actions.update_article(session, "a", ArticleUpdate(sort_order=5), SYSTEM)
    assert version(db) == start
    with db.transaction() as session:
        actions.update_article(session, "a", ArticleUpdate(question="새 질문"), SYSTEM)
    assert version(db) == start + 1
    with db.transaction() as session:
        actions.update_article(session, "a", ArticleUpdate(question="새 질문"), SYSTEM)  # no change
        actions.set_published(session, "a", True, SYSTEM)
    assert version(db) == start + 2
    with pytest.raises(NotFound), db.transaction() as session:
        actions.update_article(session, "missing", ArticleUpdate(question="x"), SYSTEM)


def test_delete_article(kb: Database) -> None:
    with kb.transaction() as session:
        actions.delete_article(session, "cashback", SYSTEM)
    with kb.session() as session:
        assert "cashback" not in [h.id for h in queries.search(session, "캐시백 언제 들어와요", 5).hits]
    with pytest.raises(NotFound), kb.transaction() as session:
        actions.delete_article(session, "cashback", SYSTEM)


def test_views_and_votes(kb: Database) -> None:
    with kb.transaction() as session:
        actions.record_view(session, "cashback")
        assert actions.vote(session, "cashback", True) == (1, 0)
        assert actions.vote(session, "cashback", False) == (1, 1)
    with kb.session() as session:
        article = session.get(KbArticle, "cashback")
        assert article is not None and article.views == 1
    with kb.transaction() as session:
        actions.set_published(session, "cashback", False, SYSTEM)
    with pytest.raises(NotFound), kb.transaction() as session:
        actions.vote(session, "cashback", True)
    with pytest.raises(NotFound), kb.transaction() as session:
        actions.record_view(session, "cashback")


def test_deflection_flow(kb: Database) -> None:
    with kb.transaction() as session:
        row = actions.record_deflection(
            session,
            DeflectionCreate(
                query="카드 4111-1111-1111-1111 잃어버렸어요", article_ids=["lost-card-report", "lost-card-report"]
            ),
        )
        deflection_id = row.id
    assert "4111-1111-1111-1111" not in row.query
    assert row.shown_article_ids == ["lost-card-report"]
    with kb.transaction() as session:
        actions.mark_deflection_opened(session, deflection_id, "lost-card-report")
        actions.record_deflection(session, DeflectionCreate(query="캐시백"))
    with kb.transaction() as session:
        actions.mark_deflection_submitted(session, deflection_id)
    with kb.session() as session:
        stored = session.get(KbDeflection, deflection_id)
        assert stored is not None and stored.submitted and stored.opened_article_id == "lost-card-report"
        stats = queries.deflection_stats(session)
    assert (stats.searches, stats.opened, stats.submitted, stats.deflected) == (2, 1, 1, 1)
    assert stats.deflection_rate == 0.5
    with pytest.raises(NotFound), kb.transaction() as session:
        actions.mark_deflection_opened(session, deflection_id, "no-such-article")
    with pytest.raises(NotFound), kb.transaction() as session:
        actions.mark_deflection_submitted(session, 999_999)


def test_admin_synonyms_change_search_everywhere(kb: Database) -> None:
    def top(query: str) -> list[str]:
        with kb.session() as session:
            return [h.id for h in queries.search(session, query, 1).hits]

    assert top("포현 신청") != ["points-cashout"]
    with kb.transaction() as session:
        entry = actions.add_synonym(session, SynonymCreate(term="포현", canonical="포인트 현금화"), SYSTEM)
    assert top("포현 신청") == ["points-cashout"]
    with kb.transaction() as session:
        actions.delete_synonym(session, entry.id, SYSTEM)
    assert top("포현 신청") != ["points-cashout"]
    with pytest.raises(InputError), kb.transaction() as session:
        actions.add_synonym(session, SynonymCreate(term="카드", canonical="카드"), SYSTEM)


# ---- import ----------------------------------------------------------------------------------------


def test_import_upserts_by_id_and_counts(db: Database) -> None:
    lines = [article_line(id="a"), article_line(id="b", question="분실 신고 해제"), ""]
    with db.transaction() as session:
        assert actions.import_jsonl(session, lines, SYSTEM).model_dump() == {"created": 2, "updated": 0, "unchanged": 0}
    lines = [article_line(id="a"), article_line(id="b", question="바뀐 질문"), article_line(id="c")]
    with db.transaction() as session:
        assert actions.import_jsonl(session, lines, SYSTEM).model_dump() == {"created": 1, "updated": 1, "unchanged": 1}
    with db.session() as session:
        assert [a.id for a in queries.browse(session, "lost_card")] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "x", "category": ', "JSON 형식이 올바르지 않습니다"),
        (article_line(id="x").replace('"answer": "앱에서 분실 신고를 해 주세요.", ', ""), "필수 항목 답변(answer)"),
        (article_line(id="x", keywords="분실"), "키워드(keywords)은(는) 문자열 목록"),
        (article_line(id="x", keywords=["분실", 3]), "키워드(keywords)[1]"),
        (article_line(id="x", published="yes"), "게시 여부(published)은(는) true 또는 false"),
        (article_line(id="x", question=""), "질문(question)이(가) 비어 있습니다"),
        (article_line(id="X Y"), "id는 영문 소문자"),
        (article_line(id="x", category="cards"), "분류 'cards'는 등록된 상담 유형이 아닙니다"),
        (article_line(id="x", views=3), "알 수 없는 항목 'views'"),
        ('["not", "an", "object"]', "JSON 객체 하나"),
        (article_line(id="test-article"), "id 'test-article'가 1번째 줄과 중복됩니다"),
    ],
)
def test_import_refuses_a_bad_line_and_imports_nothing(db: Database, bad: str, message: str) -> None:
    lines = [article_line(), article_line(id="second"), bad]
    with pytest.raises(actions.ImportRefused) as refused, db.transaction() as session:
        actions.import_jsonl(session, lines, SYSTEM)
    error = refused.value
    assert [e.line for e in error.errors] == [3]
    assert error.errors[0].message.startswith("3번째 줄: ")
    assert message in error.errors[0].message, error.errors[0].message
    assert error.message.startswith("가져오지 않았습니다. 3번째 줄")
    assert error.errors[0].message_en.startswith("line 3")
    assert count(db) == 0


def test_import_lists_every_bad_line(db: Database) -> None:
    lines = ["{oops", article_line(), article_line(category="x"), "", "[]"]
    with pytest.raises(actions.ImportRefused) as refused, db.transaction() as session:
        actions.import_jsonl(session, lines, SYSTEM)
    assert [e.line for e in refused.value.errors] == [1, 3, 5]
    assert "외 2건" in refused.value.message


def test_import_keeps_nothing_of_a_bad_file_even_after_good_ones(db: Database) -> None:
    with db.transaction() as session:
        actions.import_jsonl(session, [article_line(id="keep", question="원래 질문")], SYSTEM)
    with pytest.raises(actions.ImportRefused), db.transaction() as session:
        actions.import_jsonl(session, [article_line(id="keep", question="바뀐 질문"), "{bad"], SYSTEM)
    with db.session() as session:
        stored = session.get(KbArticle, "keep")
        assert stored is not None and stored.question == "원래 질문"
    assert count(db) == 1


def test_export_round_trip(kb: Database, database_url: str) -> None:
    with kb.transaction() as session:
        actions.set_published(session, "promotions", False, SYSTEM)
    out = io.StringIO()
    with kb.session() as session:
        exported = actions.export_jsonl(session, out)
    lines = out.getvalue().splitlines()
    assert exported == len(lines) >= 40
    first = json.loads(lines[0])
    assert list(first) == ["id", "category", "question", "answer", "keywords", "synonyms", "published"]
    assert any(json.loads(line)["published"] is False for line in lines)
    # re-importing the export changes nothing
    with kb.transaction() as session:
        result = actions.import_jsonl(session, lines, SYSTEM)
    assert (result.created, result.updated, result.unchanged) == (0, 0, exported)


def test_reindex_refreshes_stale_analysis(kb: Database) -> None:
    with kb.transaction() as session:
        session.get(KbArticle, "cashback").analysis = {"v": "old"}  # type: ignore[union-attr]
    with kb.transaction() as session:
        assert actions.reindex(session) >= 40
    with kb.session() as session:
        assert session.get(KbArticle, "cashback").analysis["v"] == ANALYZER_VERSION  # type: ignore[union-attr]
        assert [h.id for h in queries.search(session, "캐쉬백 언제", 1).hits] == ["cashback"]


def test_deflection_channel_must_be_known(db: Database) -> None:
    with pytest.raises(InputError), db.transaction() as session:
        actions.record_deflection(session, DeflectionCreate(query="카드", channel="fax"))
    with db.transaction() as session:
        assert actions.record_deflection(session, DeflectionCreate(query="카드", channel="kakao")).channel == "kakao"
