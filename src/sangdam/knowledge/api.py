"""JSON routes of the knowledge base (``/api/v1/kb``).

Public (the portal, the bot of every channel): search, categories, published articles, views,
'도움이 되었나요?' votes, suggestions while an inquiry is typed (``/suggest``, ``/deflections/{id}/resolved``)
and the deflection log of suggestions shown before an inquiry. Agents
(token or console session): drafts, topic detection. Supervisors and admins: article and synonym
changes, import and export. The router carries its full prefix: include it on the app itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sangdam.conversations.schemas import ErrorBody
from sangdam.core.errors import Forbidden, InputError
from sangdam.knowledge import actions, queries, suggest
from sangdam.knowledge.index import Hit
from sangdam.knowledge.richtext import render_html
from sangdam.knowledge.schemas import (
    ArticleCreate,
    ArticlePublic,
    ArticleSummary,
    ArticleUpdate,
    CategorySummary,
    DeflectionCreate,
    DeflectionPublic,
    DeflectionStats,
    ImportResult,
    SearchHitPublic,
    SearchResponse,
    SynonymCreate,
    SynonymPublic,
    TopicGuessPublic,
    TopicQuery,
    VoteIn,
    VoteResult,
)
from sangdam.knowledge.sync import index_for
from sangdam.models.base import Role
from sangdam.models.knowledge import KbArticle
from sangdam.privacy.audit import Actor
from sangdam.web.auth import AgentContext
from sangdam.web.deps import ClientDep, CurrentAgent, DbDep, SettingsDep, require_role

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "인증 필요 / not signed in or bad token"},
    403: {"model": ErrorBody, "description": "권한 없음 / forbidden"},
    404: {"model": ErrorBody, "description": "없음 / not found"},
    409: {"model": ErrorBody, "description": "이미 있음 / already exists"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
}

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge"], responses=ERRORS)

MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _actor(ctx: AgentContext, ip: str) -> Actor:
    return Actor("api" if ctx.via == "token" else "agent", ctx.agent_id, ip, ctx.role)


def _editor(ctx: AgentContext, ip: str) -> Actor:
    require_role(ctx, Role.SUPERVISOR, Role.ADMIN)
    return _actor(ctx, ip)


def _public(article: KbArticle) -> ArticlePublic:
    return ArticlePublic(
        id=article.id,
        category=article.category,
        question=article.question,
        answer=article.answer,
        answer_html=render_html(article.answer),
        keywords=list(article.keywords or []),
        synonyms=list(article.synonyms or []),
        published=article.published,
        sort_order=article.sort_order,
        views=article.views,
        helpful_yes=article.helpful_yes,
        helpful_no=article.helpful_no,
        created_at=article.created_at,
        updated_at=article.updated_at,
    )


def _hit_public(h: Hit) -> SearchHitPublic:
    return SearchHitPublic(
        id=h.id,
        score=round(h.score, 4),
        category=h.category,
        question=h.question,
        matched=list(h.matched),
        question_html=h.question_html,
        snippet_html=h.snippet_html,
    )


def _search(db: DbDep, q: str, top: int, category: str | None, drafts: bool) -> SearchResponse:
    with db.session() as session:
        index = index_for(session)
    result = queries.search_in(index, q, top, category=category, include_drafts=drafts)
    return SearchResponse(
        query=result.query, corrections=result.corrections, hits=[_hit_public(h) for h in result.hits]
    )


Q = Annotated[str, Query(min_length=1, max_length=500, description="검색어, 예: 카드 분실 신고")]
Top = Annotated[int, Query(ge=1, le=50)]


# ---- public ----------------------------------------------------------------------------------------


@router.get("/search", response_model=SearchResponse, summary="FAQ 검색 (게시된 글)")
def search(db: DbDep, q: Q, top: Top = 5, category: str | None = None) -> SearchResponse:
    """Korean-aware search over published articles; each hit says which words matched."""
    return _search(db, q, top, category, False)


@router.get("/categories", response_model=list[CategorySummary], summary="분류별 글 수")
def categories(db: DbDep) -> list[CategorySummary]:
    with db.session() as session:
        return queries.categories(session)


@router.get("/articles", response_model=list[ArticleSummary], summary="게시된 글 목록")
def list_articles(db: DbDep, category: str | None = None) -> list[ArticleSummary]:
    with db.session() as session:
        return [ArticleSummary.model_validate(a) for a in queries.browse(session, category)]


@router.get("/articles/popular", response_model=list[ArticleSummary], summary="자주 찾는 질문")
def popular(db: DbDep, limit: Annotated[int, Query(ge=1, le=50)] = 5) -> list[ArticleSummary]:
    with db.session() as session:
        return [ArticleSummary.model_validate(a) for a in queries.popular(session, limit)]


@router.get("/articles/{article_id}", response_model=ArticlePublic, summary="게시된 글 보기")
def get_article(article_id: str, db: DbDep) -> ArticlePublic:
    with db.session() as session:
        return _public(queries.get_article(session, article_id))


@router.post("/articles/{article_id}/view", status_code=status.HTTP_204_NO_CONTENT, summary="조회수 1 올리기")
def view_article(article_id: str, db: DbDep) -> Response:
    with db.transaction() as session:
        actions.record_view(session, article_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/articles/{article_id}/vote", response_model=VoteResult, summary="도움이 되었나요?")
def vote(article_id: str, body: VoteIn, db: DbDep) -> VoteResult:
    with db.transaction() as session:
        yes, no = actions.vote(session, article_id, body.helpful)
    return VoteResult(helpful_yes=yes, helpful_no=no)


@router.post(
    "/deflections", response_model=DeflectionPublic, status_code=status.HTTP_201_CREATED, summary="문의 전 추천 기록"
)
def record_deflection(body: DeflectionCreate, db: DbDep) -> DeflectionPublic:
    """Suggestions were shown while a customer typed an inquiry; send the returned id with the inquiry."""
    with db.transaction() as session:
        return DeflectionPublic.model_validate(actions.record_deflection(session, body))


@router.post("/deflections/{deflection_id}/opened", response_model=DeflectionPublic, summary="추천 글을 열어 봄")
def deflection_opened(
    deflection_id: int, db: DbDep, article_id: Annotated[str, Body(embed=True, max_length=100)]
) -> DeflectionPublic:
    with db.transaction() as session:
        return DeflectionPublic.model_validate(actions.mark_deflection_opened(session, deflection_id, article_id))


@router.get("/suggest", response_model=suggest.SuggestResponse, summary="문의 작성 중 추천 글 (최대 3개)")
def suggest_articles(
    db: DbDep,
    settings: SettingsDep,
    q: Q,
    deflection_id: Annotated[int | None, Query(ge=1)] = None,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> suggest.SuggestResponse:
    """Articles for an inquiry being typed. When some are shown, the deflection log gets a row (one per
    typing session: send back the returned ``deflection_id`` and ``token`` to refresh it); put the id
    in the inquiry's ``deflection_id`` so that submitting anyway marks it submitted."""
    with db.session() as session:
        index = index_for(session)
    found = suggest.suggest_in(index, q)
    secret = settings.resolved_secret_key()
    known = suggest.token_matches(secret, deflection_id, token)
    if found.hits or known:
        with db.transaction() as session:
            row_id = suggest.log_shown(session, q, found.hits, deflection_id, known)
    else:
        row_id = None
    return suggest.SuggestResponse(
        query=found.query,
        corrections=found.corrections,
        hits=[_hit_public(h) for h in found.hits],
        deflection_id=row_id,
        token=suggest.make_token(secret, row_id) if row_id is not None else None,
    )


@router.post("/deflections/{deflection_id}/resolved", response_model=DeflectionPublic, summary="해결됐어요")
def deflection_resolved(
    deflection_id: int, body: suggest.ResolveIn, db: DbDep, settings: SettingsDep
) -> DeflectionPublic:
    """A suggested article answered the question: recorded on the row, and as a '도움이 되었나요? 예' vote."""
    if not suggest.token_matches(settings.resolved_secret_key(), deflection_id, body.token):
        raise Forbidden(
            "확인할 수 없는 요청입니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.",
            "This request could not be verified. Reload the page and try again.",
        )
    with db.transaction() as session:
        return DeflectionPublic.model_validate(suggest.resolve(session, deflection_id, body.article_id))


# ---- agents ----------------------------------------------------------------------------------------


@router.get("/admin/search", response_model=SearchResponse, summary="FAQ 검색 (초안 포함)")
def admin_search(ctx: CurrentAgent, db: DbDep, q: Q, top: Top = 10, category: str | None = None) -> SearchResponse:
    return _search(db, q, top, category, True)


@router.post("/topic", response_model=TopicGuessPublic, summary="자유 문장의 상담 유형 추정")
def detect_topic(ctx: CurrentAgent, db: DbDep, body: TopicQuery) -> TopicGuessPublic:
    """The category of the best matching article and a confidence; null below the threshold."""
    with db.session() as session:
        index = index_for(session)
    guess = queries.guess_topic_in(index, body.text)
    return TopicGuessPublic(category=guess.category, confidence=guess.confidence, article_id=guess.article_id)


@router.get("/admin/articles", response_model=list[ArticleSummary], summary="모든 글 (초안 포함)")
def admin_list(ctx: CurrentAgent, db: DbDep, category: str | None = None) -> list[ArticleSummary]:
    with db.session() as session:
        return [ArticleSummary.model_validate(a) for a in queries.browse(session, category, include_drafts=True)]


@router.get("/admin/articles/{article_id}", response_model=ArticlePublic, summary="글 보기 (초안 포함)")
def admin_get(article_id: str, ctx: CurrentAgent, db: DbDep) -> ArticlePublic:
    with db.session() as session:
        return _public(queries.get_article(session, article_id, include_drafts=True))


@router.post("/admin/articles", response_model=ArticlePublic, status_code=status.HTTP_201_CREATED, summary="글 만들기")
def create_article(body: ArticleCreate, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> ArticlePublic:
    actor = _editor(ctx, ip)
    with db.transaction() as session:
        return _public(actions.create_article(session, body, actor))


@router.patch("/admin/articles/{article_id}", response_model=ArticlePublic, summary="글 고치기 / 게시")
def update_article(article_id: str, body: ArticleUpdate, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> ArticlePublic:
    actor = _editor(ctx, ip)
    with db.transaction() as session:
        return _public(actions.update_article(session, article_id, body, actor))


@router.delete("/admin/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT, summary="글 지우기")
def delete_article(article_id: str, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> Response:
    actor = _editor(ctx, ip)
    with db.transaction() as session:
        actions.delete_article(session, article_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/synonyms", response_model=list[SynonymPublic], summary="동의어 사전 (관리자 추가분)")
def list_synonyms(ctx: CurrentAgent, db: DbDep) -> list[SynonymPublic]:
    with db.session() as session:
        return [SynonymPublic.model_validate(s) for s in queries.synonyms(session)]


@router.post(
    "/admin/synonyms", response_model=SynonymPublic, status_code=status.HTTP_201_CREATED, summary="동의어 추가"
)
def add_synonym(body: SynonymCreate, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> SynonymPublic:
    actor = _editor(ctx, ip)
    with db.transaction() as session:
        return SynonymPublic.model_validate(actions.add_synonym(session, body, actor))


@router.delete("/admin/synonyms/{synonym_id}", status_code=status.HTTP_204_NO_CONTENT, summary="동의어 삭제")
def delete_synonym(synonym_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> Response:
    actor = _editor(ctx, ip)
    with db.transaction() as session:
        actions.delete_synonym(session, synonym_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/deflections/stats", response_model=DeflectionStats, summary="문의 전 해결률")
def deflection_stats(ctx: CurrentAgent, db: DbDep) -> DeflectionStats:
    with db.session() as session:
        return queries.deflection_stats(session)


@router.get("/admin/export", summary="JSON Lines로 내보내기", response_class=StreamingResponse)
def export(ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> StreamingResponse:
    _editor(ctx, ip)
    with db.session() as session:
        lines = list(actions.export_lines(session))
    return StreamingResponse(
        iter(lines),
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="kb.jsonl"'},
    )


@router.post("/admin/import", response_model=ImportResult, summary="JSON Lines 가져오기 (전부 아니면 전무)")
async def import_articles(request: Request, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> ImportResult:
    """The body is the file itself (one article per line). A bad line refuses the whole file (422)."""
    actor = _editor(ctx, ip)
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise InputError("file", "파일이 너무 큽니다(최대 20MB).", "The file is too large (20 MB at most).")
    text = raw.decode("utf-8", errors="replace")

    def run() -> ImportResult:
        with db.transaction() as session:
            return actions.import_jsonl(session, text.splitlines(), actor)

    return await run_in_threadpool(run)
