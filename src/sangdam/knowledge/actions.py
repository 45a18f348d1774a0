"""Every change to the knowledge base: one function per action, in the caller's transaction.

Each change that search can see (an article created, edited, published, deleted or imported; a
synonym added or removed) bumps the knowledge-base version and stamps the changed articles with it,
so every worker's index refreshes itself before its next search (:mod:`sangdam.knowledge.sync`).
Events are queued and published only after the transaction commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sangdam.conversations.taxonomy import TOPIC_CODES
from sangdam.core.clock import now
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.events import Event
from sangdam.knowledge.analyzer import Analyzer, get_analyzer, normalize_text
from sangdam.knowledge.schemas import (
    ArticleCreate,
    ArticleLine,
    ArticleUpdate,
    DeflectionCreate,
    ImportResult,
    SynonymCreate,
)
from sangdam.knowledge.sync import analyse, bump_version
from sangdam.models import Topic
from sangdam.models.base import Channel
from sangdam.models.knowledge import KbArticle, KbDeflection, KbSynonym
from sangdam.privacy.audit import Actor, record
from sangdam.privacy.detect import mask_sensitive

MAX_IMPORT_ERRORS = 20
CHANNELS = frozenset(c.value for c in Channel)
_CONTENT_FIELDS = ("category", "question", "answer", "keywords", "synonyms", "published")

FIELD_LABELS_KO = {
    "id": "id",
    "category": "분류(category)",
    "question": "질문(question)",
    "answer": "답변(answer)",
    "keywords": "키워드(keywords)",
    "synonyms": "동의어(synonyms)",
    "published": "게시 여부(published)",
}


# ---- helpers ---------------------------------------------------------------------------------------


def known_categories(session: Session) -> set[str]:
    """Topic codes an article may belong to: the active topics, or the built-in taxonomy if none."""
    codes = set(session.execute(select(Topic.code).where(Topic.active.is_(True))).scalars())
    return codes or set(TOPIC_CODES)


def _check_category(session: Session, category: str) -> None:
    if category not in known_categories(session):
        raise InputError(
            "category",
            f"분류 '{category}'는 등록된 상담 유형이 아닙니다.",
            f"Category '{category}' is not a known topic code.",
        )


def _clean_words(words: Iterable[str]) -> list[str]:
    """Trimmed, without blanks or repeats, in the order given."""
    seen: dict[str, None] = {}
    for word in words:
        cleaned = normalize_text(word).strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _clean_text(text: str) -> str:
    return normalize_text(text).strip()


def _get(session: Session, article_id: str) -> KbArticle:
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound("글을 찾을 수 없습니다.", f"No article {article_id!r}.")
    return article


def _changed(session: Session, articles: list[KbArticle], kind: str, actor: Actor, analyzer: Analyzer | None) -> int:
    """Stamp changed articles with a new version, refresh their cached analysis, queue the event."""
    version = bump_version(session)
    if articles:
        analyse(analyzer or get_analyzer(), articles)
    stamp = now()
    for article in articles:
        article.revision = version
        article.updated_at = stamp
        if actor.kind in ("agent", "api") and actor.id is not None:
            article.updated_by_id = actor.id
    queue_event(session, Event(kind, {"article_ids": [a.id for a in articles], "version": version}))
    return version


# ---- articles --------------------------------------------------------------------------------------


def create_article(
    session: Session, data: ArticleCreate, actor: Actor, *, analyzer: Analyzer | None = None
) -> KbArticle:
    if session.get(KbArticle, data.id) is not None:
        raise Conflict("같은 id의 글이 이미 있습니다.", f"An article {data.id!r} already exists.", field="id")
    _check_category(session, data.category)
    article = KbArticle(
        id=data.id,
        category=data.category,
        question=_clean_text(data.question),
        answer=_clean_text(data.answer),
        keywords=_clean_words(data.keywords),
        synonyms=_clean_words(data.synonyms),
        published=data.published,
        sort_order=data.sort_order,
        created_at=now(),
    )
    session.add(article)
    _changed(session, [article], "kb.article.created", actor, analyzer)
    session.flush()
    record(session, actor, "kb.article.create", "kb_article", article.id)
    return article


def update_article(
    session: Session, article_id: str, data: ArticleUpdate, actor: Actor, *, analyzer: Analyzer | None = None
) -> KbArticle:
    article = _get(session, article_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("category") is not None:
        _check_category(session, changes["category"])
    for name in ("question", "answer"):
        if changes.get(name) is not None:
            changes[name] = _clean_text(changes[name])
    for name in ("keywords", "synonyms"):
        if changes.get(name) is not None:
            changes[name] = _clean_words(changes[name])
    changed = [name for name, value in changes.items() if value is not None and getattr(article, name) != value]
    if not changed:
        return article
    for name in changed:
        setattr(article, name, changes[name])
    if set(changed) & set(_CONTENT_FIELDS):
        _changed(session, [article], "kb.article.updated", actor, analyzer)
    else:  # only the order of browsing changed: search is unaffected
        article.updated_at = now()
        queue_event(session, Event("kb.article.updated", {"article_ids": [article.id]}))
    record(session, actor, "kb.article.update", "kb_article", article.id, fields=sorted(changed))
    return article


def set_published(session: Session, article_id: str, published: bool, actor: Actor) -> KbArticle:
    return update_article(session, article_id, ArticleUpdate(published=published), actor)


def delete_article(session: Session, article_id: str, actor: Actor) -> None:
    article = _get(session, article_id)
    session.delete(article)
    bump_version(session)
    queue_event(session, Event("kb.article.deleted", {"article_ids": [article_id]}))
    record(session, actor, "kb.article.delete", "kb_article", article_id, question=article.question)


def record_view(session: Session, article_id: str) -> None:
    """Count one view of a published article (no version bump: search does not depend on it)."""
    updated = session.execute(
        update(KbArticle)
        .where(KbArticle.id == article_id, KbArticle.published.is_(True))
        .values(views=KbArticle.views + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("글을 찾을 수 없습니다.", f"No published article {article_id!r}.")


def vote(session: Session, article_id: str, helpful: bool) -> tuple[int, int]:
    """'도움이 되었나요?': add one yes or no; returns the new (yes, no) counts."""
    column = KbArticle.helpful_yes if helpful else KbArticle.helpful_no
    updated = session.execute(
        update(KbArticle)
        .where(KbArticle.id == article_id, KbArticle.published.is_(True))
        .values({column: column + 1})
        .returning(KbArticle.helpful_yes, KbArticle.helpful_no)
    ).first()
    if updated is None:
        raise NotFound("글을 찾을 수 없습니다.", f"No published article {article_id!r}.")
    return int(updated[0]), int(updated[1])


# ---- synonyms --------------------------------------------------------------------------------------


def add_synonym(session: Session, data: SynonymCreate, actor: Actor) -> KbSynonym:
    """Add (or change) a dictionary entry; every worker rebuilds its index before its next search."""
    term, canonical = _clean_text(data.term), _clean_text(data.canonical)
    if term == canonical:
        raise InputError("canonical", "같은 말을 동의어로 등록할 수 없습니다.", "A term cannot be its own synonym.")
    entry = session.execute(select(KbSynonym).where(KbSynonym.term == term)).scalar_one_or_none()
    if entry is None:
        by = actor.id if actor.kind in ("agent", "api") else None
        entry = KbSynonym(term=term, canonical=canonical, created_by_id=by)
        session.add(entry)
    else:
        entry.canonical = canonical
    bump_version(session, synonyms=True)
    session.flush()
    queue_event(session, Event("kb.synonyms.changed", {"term": term, "canonical": canonical}))
    record(session, actor, "kb.synonym.set", "kb_synonym", entry.id, term=term, canonical=canonical)
    return entry


def delete_synonym(session: Session, synonym_id: int, actor: Actor) -> None:
    entry = session.get(KbSynonym, synonym_id)
    if entry is None:
        raise NotFound("동의어를 찾을 수 없습니다.", f"No synonym {synonym_id}.")
    session.delete(entry)
    bump_version(session, synonyms=True)
    queue_event(session, Event("kb.synonyms.changed", {"term": entry.term, "canonical": None}))
    record(session, actor, "kb.synonym.delete", "kb_synonym", synonym_id, term=entry.term)


# ---- deflection ------------------------------------------------------------------------------------


def record_deflection(session: Session, data: DeflectionCreate) -> KbDeflection:
    """Suggestions were shown while a customer typed; the query is stored masked (card numbers …)."""
    if data.channel not in CHANNELS:
        raise InputError("channel", "알 수 없는 상담 채널입니다.", f"Unknown channel {data.channel!r}.")
    row = KbDeflection(
        query=mask_sensitive(_clean_text(data.query)).text[:500],
        channel=data.channel,
        shown_article_ids=_clean_words(data.article_ids),
        created_at=now(),
        updated_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def _deflection(session: Session, deflection_id: int) -> KbDeflection:
    row = session.get(KbDeflection, deflection_id)
    if row is None:
        raise NotFound("검색 기록을 찾을 수 없습니다.", f"No deflection {deflection_id}.")
    return row


def mark_deflection_opened(session: Session, deflection_id: int, article_id: str) -> KbDeflection:
    """The customer opened one of the suggested articles."""
    row = _deflection(session, deflection_id)
    if session.get(KbArticle, article_id) is None:
        raise NotFound("글을 찾을 수 없습니다.", f"No article {article_id!r}.")
    row.opened_article_id = article_id
    row.updated_at = now()
    return row


def mark_deflection_submitted(session: Session, deflection_id: int, conversation_id: int | None = None) -> KbDeflection:
    """The customer submitted the inquiry anyway (the suggestions did not deflect it)."""
    row = _deflection(session, deflection_id)
    row.submitted = True
    if conversation_id is not None:
        row.conversation_id = conversation_id
    row.updated_at = now()
    return row


# ---- import / export -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    message: str
    message_en: str


class ImportRefused(InputError):
    """The file has malformed lines: nothing was imported. ``errors`` lists them with line numbers."""

    def __init__(self, errors: list[LineError], more: int = 0) -> None:
        first = errors[0]
        extra = f" 외 {len(errors) - 1 + more}건" if len(errors) + more > 1 else ""
        extra_en = f" (and {len(errors) - 1 + more} more)" if len(errors) + more > 1 else ""
        super().__init__(
            "file",
            f"가져오지 않았습니다. {first.message}{extra}",
            f"Nothing imported. {first.message_en}{extra_en}",
            code="import_refused",
        )
        self.errors = errors
        self.more = more


def _pydantic_error(line: int, error: ErrorDetails) -> LineError:
    loc = [str(p) for p in error.get("loc", ())]
    name = loc[0] if loc else ""
    label = FIELD_LABELS_KO.get(name, name)
    where = f"{label}[{loc[1]}]" if len(loc) > 1 else label
    kind = error.get("type", "")
    if kind == "missing":
        ko = f"필수 항목 {label}이(가) 없습니다."
    elif kind == "extra_forbidden":
        ko = f"알 수 없는 항목 '{name}'이(가) 있습니다."
    elif kind == "string_pattern_mismatch":
        ko = "id는 영문 소문자, 숫자, '-', '_'로 써야 합니다(최대 100자)."
    elif kind == "string_too_short":
        ko = f"{where}이(가) 비어 있습니다."
    elif kind in ("string_too_long", "too_long"):
        ko = f"{where}이(가) 너무 깁니다."
    elif kind == "list_type":
        ko = f"{where}은(는) 문자열 목록이어야 합니다."
    elif kind == "bool_type":
        ko = f"{where}은(는) true 또는 false여야 합니다."
    else:
        ko = f"{where}의 형식이 올바르지 않습니다."
    return LineError(line, f"{line}번째 줄: {ko}", f"line {line}: {'.'.join(loc) or 'value'}: {error.get('msg')}")


def parse_jsonl(session: Session, lines: Iterable[str]) -> list[tuple[int, ArticleLine]]:
    """Validate a whole JSON Lines file; raise :class:`ImportRefused` listing every bad line."""
    categories = known_categories(session)
    errors: list[LineError] = []
    more = 0
    parsed: list[tuple[int, ArticleLine]] = []
    first_seen: dict[str, int] = {}

    def fail(error: LineError) -> None:
        nonlocal more
        if len(errors) < MAX_IMPORT_ERRORS:
            errors.append(error)
        else:
            more += 1

    for number, raw in enumerate(lines, start=1):
        text = raw.lstrip("\ufeff").strip() if number == 1 else raw.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(
                LineError(
                    number,
                    f"{number}번째 줄: JSON 형식이 올바르지 않습니다 ({exc.msg}, {exc.colno}번째 글자).",
                    f"line {number}: invalid JSON: {exc.msg} at column {exc.colno}",
                )
            )
            continue
        if not isinstance(value, dict):
            fail(
                LineError(
                    number,
                    f"{number}번째 줄: 한 줄에 JSON 객체 하나가 있어야 합니다.",
                    f"line {number}: expected one JSON object",
                )
            )
            continue
        try:
            item = ArticleLine.model_validate(value)
        except ValidationError as exc:
            fail(_pydantic_error(number, exc.errors()[0]))
            continue
        if item.category not in categories:
            fail(
                LineError(
                    number,
                    f"{number}번째 줄: 분류 '{item.category}'는 등록된 상담 유형이 아닙니다.",
                    f"line {number}: unknown category {item.category!r}",
                )
            )
            continue
        if item.id in first_seen:
            fail(
                LineError(
                    number,
                    f"{number}번째 줄: id '{item.id}'가 {first_seen[item.id]}번째 줄과 중복됩니다.",
                    f"line {number}: duplicate id {item.id!r} (first on line {first_seen[item.id]})",
                )
            )
            continue
        first_seen[item.id] = number
        parsed.append((number, item))
    if errors:
        raise ImportRefused(errors, more)
    return parsed


def import_jsonl(
    session: Session, lines: Iterable[str], actor: Actor, *, analyzer: Analyzer | None = None
) -> ImportResult:
    """Upsert every article of a JSON Lines file by id — all of them, or none if any line is bad."""
    parsed = parse_jsonl(session, lines)
    existing: dict[str, KbArticle] = {}
    ids = [item.id for _, item in parsed]
    for start in range(0, len(ids), 500):
        for article in session.execute(select(KbArticle).where(KbArticle.id.in_(ids[start : start + 500]))).scalars():
            existing[article.id] = article
    next_order = (session.execute(select(func.max(KbArticle.sort_order))).scalar_one_or_none() or 0) + 1
    created = updated = unchanged = 0
    touched: list[KbArticle] = []
    for position, (_, item) in enumerate(parsed):
        values = {
            "category": item.category,
            "question": _clean_text(item.question),
            "answer": _clean_text(item.answer),
            "keywords": _clean_words(item.keywords),
            "synonyms": _clean_words(item.synonyms),
            "published": item.published,
        }
        found = existing.get(item.id)
        if found is None:
            article = KbArticle(id=item.id, sort_order=next_order + position, created_at=now(), **values)
            session.add(article)
            created += 1
            touched.append(article)
        elif any(getattr(found, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(found, name, value)
            updated += 1
            touched.append(found)
        else:
            unchanged += 1
    if touched:
        _changed(session, touched, "kb.articles.imported", actor, analyzer)
    session.flush()
    record(session, actor, "kb.import", "kb_article", None, created=created, updated=updated, unchanged=unchanged)
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def export_lines(session: Session) -> Iterator[str]:
    """The whole base as JSON Lines (drafts included, marked ``"published": false``), grouped by category."""
    articles = session.execute(
        select(KbArticle).order_by(KbArticle.category, KbArticle.sort_order, KbArticle.id)
    ).scalars()
    for article in articles:
        line = {
            "id": article.id,
            "category": article.category,
            "question": article.question,
            "answer": article.answer,
            "keywords": list(article.keywords or []),
            "synonyms": list(article.synonyms or []),
            "published": article.published,
        }
        yield json.dumps(line, ensure_ascii=False) + "\n"


def export_jsonl(session: Session, out: TextIO) -> int:
    count = 0
    for line in export_lines(session):
        out.write(line)
        count += 1
    return count


def reindex(session: Session, *, analyzer: Analyzer | None = None) -> int:
    """Re-analyse every article (after an analyzer upgrade) so workers need not do it themselves."""
    articles = list(session.execute(select(KbArticle)).scalars())
    if articles:
        analyse(analyzer or get_analyzer(), articles)
    bump_version(session, synonyms=True)
    return len(articles)
