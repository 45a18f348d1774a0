"""The knowledge base's pages.

* ``portal_router`` (public): ``/faq`` — the categories (the topic taxonomy) with their published
  articles; ``/faq/search?q=`` — results that explain themselves (matched words highlighted, typo
  corrections said); ``/faq/{slug}`` — one article (each visit counts a view) with
  '도움이 되었나요?' 예/아니오, a form post recorded once per browser (a signed cookie).
* ``console_router`` (``/console/kb``): the FAQ editor. Admins list and search every article
  (drafts too), create, edit, publish, unpublish and delete them, and extend the synonym and
  colloquial-word dictionary; supervisors may look; agents are refused.

Views parse, check access, call an action or a query, and render; every rule lives in
:mod:`sangdam.knowledge.actions` and :mod:`sangdam.knowledge.queries`. Each change bumps the
knowledge-base version, so the next search (of any worker) sees it without a restart.
Highlighted HTML comes from the index (``richtext.mark``: escaped, then ``<mark>``) and answers from
``richtext.render_html`` (escaped, then a small set of tags); templates mark only those as safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.conversations.taxonomy import TAXONOMY
from sangdam.core import signing
from sangdam.core.db import Database
from sangdam.core.errors import Forbidden, InputError, SangdamError
from sangdam.core.settings import Settings
from sangdam.knowledge import actions, queries
from sangdam.knowledge.actions import FIELD_LABELS_KO
from sangdam.knowledge.index import Hit
from sangdam.knowledge.richtext import render_html
from sangdam.knowledge.schemas import ArticleCreate, ArticleUpdate, SynonymCreate
from sangdam.knowledge.sync import index_for
from sangdam.knowledge.synonyms import builtin_entries
from sangdam.models import Topic
from sangdam.models.base import Role
from sangdam.models.knowledge import KbArticle
from sangdam.privacy.audit import Actor
from sangdam.web.auth import AgentContext, check_csrf, csrf_for_page
from sangdam.web.deps import ClientDep, ConsoleAgent, DbDep, SettingsDep, TemplatesDep
from sangdam.web.i18n import translator
from sangdam.web.portal import language, render

portal_router = APIRouter(include_in_schema=False)
console_router = APIRouter(prefix="/console/kb", include_in_schema=False)

QUERY_MAX = 500
SEARCH_TOP = 10
CONSOLE_SEARCH_TOP = 50
POPULAR = 5
VOTED_COOKIE = "sangdam_kb_voted"
VOTED_PURPOSE = "kb-voted"
VOTED_TTL = 365 * 86400
VOTED_MAX = 50  # the cookie remembers this many articles (the newest votes)

EN: dict[str, str] = {
    "자주 묻는 질문": "FAQ",
    "FAQ 검색": "Search the FAQ",
    "궁금한 점을 입력해 주세요": "Type your question",
    "검색": "Search",
    "예: 카드 잃어버렸어요, 포인트 현금으로": "e.g. lost my card, points to cash",
    "자주 찾는 질문": "Most viewed",
    "분류": "Categories",
    "검색 결과": "Search results",
    "일치한 단어": "Matched words",
    "찾는 답이 없나요?": "Didn't find your answer?",
    "문의를 남겨 주시면 상담원이 답변드립니다.": "Leave an inquiry and an agent will answer.",
    "문의 접수": "Submit an inquiry",
    "검색 결과가 없습니다.": "No results.",
    "다른 말로 검색해 보시거나 문의를 남겨 주세요.": "Try other words, or leave an inquiry.",
    "도움이 되었나요?": "Was this helpful?",
    "예": "Yes",
    "아니오": "No",
    "응답해 주셔서 감사합니다.": "Thank you for your feedback.",
    "이미 응답하셨습니다. 감사합니다.": "You have already answered. Thank you.",
    "조회": "Views",
    "도움이 됐어요": "Found it helpful",
    "목록으로": "Back to the FAQ",
    "등록된 질문이 없습니다.": "No questions yet.",
}


def _translator(lang: str) -> Callable[[str], str]:
    fallback = translator(lang)
    if lang != "en":
        return fallback
    return lambda text: EN.get(text) or fallback(text)


def _portal(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return render(templates, request, name, {"_": _translator(language(request)), **context}, status_code)


def _console(
    templates: Jinja2Templates, request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    base = {"lang": "ko", "csrf_token": csrf_for_page(request), "kb_nav": _NAV}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


_NAV = (("/console", "상담 목록"), ("/console/kb", "FAQ 관리"), ("/console/kb/synonyms", "동의어 사전"))


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """An article as a list shows it (plain values, usable after the session closes)."""

    id: str
    category: str
    question: str
    published: bool
    views: int
    helpful_yes: int
    helpful_no: int
    updated_at: datetime

    @classmethod
    def of(cls, a: KbArticle) -> ArticleRow:
        return cls(a.id, a.category, a.question, a.published, a.views, a.helpful_yes, a.helpful_no, a.updated_at)


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    articles: list[ArticleRow]


def _topic_names(session: Session, lang: str = "ko") -> dict[str, str]:
    rows = session.execute(select(Topic.code, Topic.name, Topic.name_en)).all()
    names = {code: (name_en if lang == "en" and name_en else name) for code, name, name_en in rows}
    for seed in TAXONOMY:
        names.setdefault(seed.code, seed.name_en if lang == "en" else seed.name)
    return names


def _clip(q: str | None) -> str:
    return (q or "").strip()[:QUERY_MAX]


def matched_words(hit: Hit) -> list[str]:
    """The query's words that matched, without phrases already shown through their parts."""
    words = list(hit.matched)
    return [w for w in words if " " not in w or not any(o != w and o in w for o in words)]


# ---- portal ----------------------------------------------------------------------------------------


@portal_router.get("/faq")
def faq(request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    lang = language(request)
    with db.session() as session:
        names = _topic_names(session, lang)
        grouped: dict[str, list[ArticleRow]] = {}
        for article in queries.browse(session):
            grouped.setdefault(article.category, []).append(ArticleRow.of(article))
        order = [c.code for c in queries.categories(session)]
        popular = [ArticleRow.of(a) for a in queries.popular(session, POPULAR)]
    categories = [Category(code, names.get(code, code), grouped[code]) for code in order if code in grouped]
    context = {"categories": categories, "popular": popular, "names": names, "q": "", "settings": settings}
    return _portal(templates, request, "knowledge/faq.html", context)


@portal_router.get("/faq/search")
def faq_search(request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    q = _clip(request.query_params.get("q"))
    if not q:
        return RedirectResponse("/faq", status_code=303)
    lang = language(request)
    with db.session() as session:
        index = index_for(session)
        names = _topic_names(session, lang)
    result = queries.search_in(index, q, SEARCH_TOP)
    context = {
        "q": q,
        "hits": [(hit, matched_words(hit)) for hit in result.hits],
        "corrections": result.corrections,
        "names": names,
        "settings": settings,
    }
    return _portal(templates, request, "knowledge/faq_search.html", context)


def _voted(request: Request, settings: Settings) -> list[str]:
    value = signing.unsign(settings.resolved_secret_key(), VOTED_PURPOSE, request.cookies.get(VOTED_COOKIE))
    return [v for v in value.split(",") if v] if value else []


@portal_router.get("/faq/{slug}")
def faq_article(slug: str, request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    voted_now = request.query_params.get("voted")
    with db.transaction() as session:
        if not voted_now:  # the page shown right after a vote is not another visit
            actions.record_view(session, slug)
        article = queries.get_article(session, slug)
        names = _topic_names(session, language(request))
        row = ArticleRow.of(article)
        answer_html = render_html(article.answer)
    context = {
        "article": row,
        "answer_html": answer_html,
        "category_name": names.get(row.category, row.category),
        "voted": slug in _voted(request, settings),
        "voted_now": voted_now,
        "settings": settings,
    }
    return _portal(templates, request, "knowledge/faq_article.html", context)


@portal_router.post("/faq/{slug}/vote")
async def faq_vote(slug: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, str(form.get("csrf_token", "")))
    helpful = form.get("helpful")
    if helpful not in ("yes", "no"):
        raise InputError("helpful", "예 또는 아니오를 골라 주세요.", "Choose yes or no.")
    target = f"/faq/{quote(slug)}"
    voted = _voted(request, settings)
    if slug in voted:
        return RedirectResponse(f"{target}?voted=already", status_code=303)
    with db.transaction() as session:
        actions.vote(session, slug, helpful == "yes")
    voted = [*voted, slug][-VOTED_MAX:]
    response = RedirectResponse(f"{target}?voted={helpful}", status_code=303)
    token = signing.sign(settings.resolved_secret_key(), VOTED_PURPOSE, ",".join(voted), VOTED_TTL)
    response.set_cookie(
        VOTED_COOKIE, token, max_age=VOTED_TTL, httponly=True, secure=settings.cookie_secure, samesite="lax"
    )
    return response


# ---- console ---------------------------------------------------------------------------------------


def _may_view(ctx: AgentContext) -> None:
    if ctx.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden(
            "FAQ 관리 화면은 시스템 관리자와 관리자(슈퍼바이저)만 볼 수 있습니다.",
            "Only administrators and supervisors may open the FAQ editor.",
        )


def _may_edit(ctx: AgentContext) -> None:
    if ctx.role != Role.ADMIN:
        raise Forbidden("FAQ를 고칠 권한이 없습니다. 시스템 관리자에게 요청해 주세요.", "Only administrators may edit.")


def _actor(ctx: AgentContext, client: str) -> Actor:
    return Actor("agent", ctx.agent_id, client, ctx.role)


DONE = {
    "created": "글을 만들었습니다.",
    "saved": "저장했습니다. 검색에 바로 반영됩니다.",
    "published": "게시했습니다. 고객 화면에 보입니다.",
    "unpublished": "게시를 중단했습니다(초안).",
    "deleted": "글을 지웠습니다.",
    "synonym_added": "동의어를 추가했습니다. 검색에 바로 반영됩니다.",
    "synonym_removed": "동의어를 지웠습니다.",
}


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


M = TypeVar("M", bound=BaseModel)


def _validated(cls: type[M], **values: Any) -> M:
    """A form's values as an action's input; what the model refuses becomes a Korean message."""
    try:
        return cls(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error.get("loc") else ""
        label = {**FIELD_LABELS_KO, "id": "주소(id)", "term": "고객 표현", "canonical": "표준어"}.get(name, name)
        kind = error.get("type", "")
        if kind == "string_pattern_mismatch":
            message = f"{label}는 영문 소문자, 숫자, '-', '_'로 써 주세요(최대 100자)."
        elif kind in ("string_too_short", "missing"):
            message = f"{label}을(를) 입력해 주세요."
        elif kind in ("string_too_long", "too_long"):
            message = f"{label}이(가) 너무 깁니다."
        else:
            message = f"{label}: 입력값이 올바르지 않습니다."
        raise InputError(name or None, message, f"{name}: {error.get('msg')}") from exc


def _words(text: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", text) if w.strip()]


def _order(text: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError as exc:
        raise InputError("sort_order", "순서는 숫자로 입력해 주세요.", "The order must be a number.") from exc


async def _form(request: Request, ctx: AgentContext) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get("csrf_token"), ctx.csrf_token)
    return values


def _categories(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Topic.code, Topic.name).where(Topic.active.is_(True)).order_by(Topic.sort_order))
    return [(code, name) for code, name in rows] or [(t.code, t.name) for t in TAXONOMY]


@console_router.get("")
def console_list(request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep) -> Response:
    _may_view(ctx)
    q = _clip(request.query_params.get("q"))
    category = request.query_params.get("category") or None
    status = request.query_params.get("status") or "all"
    hits: dict[str, tuple[Hit, list[str]]] = {}
    with db.session() as session:
        names = _topic_names(session)
        if q:
            index = index_for(session)
            found = queries.search_in(index, q, CONSOLE_SEARCH_TOP, category=category, include_drafts=True)
            hits = {h.id: (h, matched_words(h)) for h in found.hits}
            by_id = {a.id: a for a in session.scalars(select(KbArticle).where(KbArticle.id.in_(list(hits))))}
            rows = [ArticleRow.of(by_id[i]) for i in hits if i in by_id]
        else:
            rows = [ArticleRow.of(a) for a in queries.browse(session, category, include_drafts=True)]
        stats = queries.deflection_stats(session)
        categories = _categories(session)
        synonym_count = len(queries.synonyms(session))
    if status in ("published", "draft"):
        rows = [r for r in rows if r.published == (status == "published")]
    context = {
        "me": ctx,
        "rows": rows,
        "hits": hits,
        "names": names,
        "categories": categories,
        "f": {"q": q, "category": category or "", "status": status},
        "stats": stats,
        "synonym_count": synonym_count,
        "done": _done(request),
    }
    return _console(templates, request, "knowledge/console_list.html", context)


def _editor_context(session: Session, ctx: AgentContext) -> dict[str, Any]:
    return {"me": ctx, "categories": _categories(session), "can_edit": ctx.role == Role.ADMIN}


@console_router.get("/new")
def console_new(request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep) -> Response:
    _may_edit(ctx)
    with db.session() as session:
        context = _editor_context(session, ctx)
    form = {"published": ""}
    return _console(
        templates, request, "knowledge/console_edit.html", {**context, "article": None, "form": form, "error": None}
    )


@console_router.post("/new")
async def console_create(
    request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep, client: ClientDep
) -> Response:
    _may_edit(ctx)
    values = await _form(request, ctx)
    try:
        data = _validated(
            ArticleCreate,
            id=values.get("id", "").strip().lower(),
            category=values.get("category", ""),
            question=values.get("question", ""),
            answer=values.get("answer", ""),
            keywords=_words(values.get("keywords", "")),
            synonyms=_words(values.get("synonyms", "")),
            published=values.get("published") == "on",
            sort_order=_order(values.get("sort_order", "")),
        )
        with db.transaction() as session:
            article_id = actions.create_article(session, data, _actor(ctx, client)).id
    except SangdamError as error:
        with db.session() as session:
            context = _editor_context(session, ctx)
        context.update(article=None, form=values, error=error)
        status = 400 if error.status_code == 422 else error.status_code
        return _console(templates, request, "knowledge/console_edit.html", context, status)
    return RedirectResponse(f"/console/kb/articles/{quote(article_id)}?done=created", status_code=303)


def _article_context(article: KbArticle) -> dict[str, Any]:
    return {
        "article": ArticleRow.of(article),
        "answer_html": render_html(article.answer),
        "created_at": article.created_at,
    }


def _article_form(article: KbArticle) -> dict[str, str]:
    return {
        "id": article.id,
        "category": article.category,
        "question": article.question,
        "answer": article.answer,
        "keywords": ", ".join(article.keywords or []),
        "synonyms": "\n".join(article.synonyms or []),
        "sort_order": str(article.sort_order),
        "published": "on" if article.published else "",
    }


@console_router.get("/articles/{article_id}")
def console_article(
    article_id: str, request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep
) -> Response:
    _may_view(ctx)
    with db.session() as session:
        article = queries.get_article(session, article_id, include_drafts=True)
        context = {**_editor_context(session, ctx), **_article_context(article)}
        context.update(form=_article_form(article), error=None, done=_done(request))
    return _console(templates, request, "knowledge/console_edit.html", context)


@console_router.post("/articles/{article_id}")
async def console_update(
    article_id: str, request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep, client: ClientDep
) -> Response:
    _may_edit(ctx)
    values = await _form(request, ctx)
    try:
        data = _validated(
            ArticleUpdate,
            category=values.get("category", ""),
            question=values.get("question", ""),
            answer=values.get("answer", ""),
            keywords=_words(values.get("keywords", "")),
            synonyms=_words(values.get("synonyms", "")),
            sort_order=_order(values.get("sort_order", "")),
        )
        with db.transaction() as session:
            actions.update_article(session, article_id, data, _actor(ctx, client))
    except SangdamError as error:
        if error.status_code == 404:
            raise
        with db.session() as session:
            article = queries.get_article(session, article_id, include_drafts=True)
            context = {**_editor_context(session, ctx), **_article_context(article)}
        context.update(form={**values, "id": article_id}, error=error, done=None)
        status = 400 if error.status_code == 422 else error.status_code
        return _console(templates, request, "knowledge/console_edit.html", context, status)
    return RedirectResponse(f"/console/kb/articles/{quote(article_id)}?done=saved", status_code=303)


async def _set_published(
    article_id: str, published: bool, request: Request, ctx: AgentContext, db: Database, client: str
) -> Response:
    _may_edit(ctx)
    await _form(request, ctx)
    with db.transaction() as session:
        actions.set_published(session, article_id, published, _actor(ctx, client))
    done = "published" if published else "unpublished"
    return RedirectResponse(f"/console/kb/articles/{quote(article_id)}?done={done}", status_code=303)


@console_router.post("/articles/{article_id}/publish")
async def console_publish(
    article_id: str, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep
) -> Response:
    return await _set_published(article_id, True, request, ctx, db, client)


@console_router.post("/articles/{article_id}/unpublish")
async def console_unpublish(
    article_id: str, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep
) -> Response:
    return await _set_published(article_id, False, request, ctx, db, client)


@console_router.post("/articles/{article_id}/delete")
async def console_delete(
    article_id: str, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep
) -> Response:
    _may_edit(ctx)
    values = await _form(request, ctx)
    if values.get("confirm") != "on":
        raise InputError("confirm", "삭제를 확인해 주세요.", "Please confirm the deletion.")
    with db.transaction() as session:
        actions.delete_article(session, article_id, _actor(ctx, client))
    return RedirectResponse("/console/kb?done=deleted", status_code=303)


def _synonyms_page(
    request: Request,
    ctx: AgentContext,
    templates: Jinja2Templates,
    db: Database,
    *,
    form: dict[str, str],
    error: SangdamError | None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        entries = [(s.id, s.term, s.canonical) for s in queries.synonyms(session)]
    context = {
        "me": ctx,
        "entries": entries,
        "builtin": builtin_entries(),
        "can_edit": ctx.role == Role.ADMIN,
        "form": form,
        "error": error,
        "done": _done(request),
    }
    return _console(templates, request, "knowledge/console_synonyms.html", context, status_code)


@console_router.get("/synonyms")
def console_synonyms(request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep) -> Response:
    _may_view(ctx)
    return _synonyms_page(request, ctx, templates, db, form={}, error=None)


@console_router.post("/synonyms")
async def console_add_synonym(
    request: Request, ctx: ConsoleAgent, templates: TemplatesDep, db: DbDep, client: ClientDep
) -> Response:
    _may_edit(ctx)
    values = await _form(request, ctx)
    try:
        data = _validated(SynonymCreate, term=values.get("term", ""), canonical=values.get("canonical", ""))
        with db.transaction() as session:
            actions.add_synonym(session, data, _actor(ctx, client))
    except SangdamError as error:
        status = 400 if error.status_code == 422 else error.status_code
        return _synonyms_page(request, ctx, templates, db, form=values, error=error, status_code=status)
    return RedirectResponse("/console/kb/synonyms?done=synonym_added", status_code=303)


@console_router.post("/synonyms/{synonym_id}/delete")
async def console_delete_synonym(
    synonym_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep
) -> Response:
    _may_edit(ctx)
    await _form(request, ctx)
    with db.transaction() as session:
        actions.delete_synonym(session, synonym_id, _actor(ctx, client))
    return RedirectResponse("/console/kb/synonyms?done=synonym_removed", status_code=303)
