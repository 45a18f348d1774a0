"""Suggestions while a customer types an inquiry (deflection), logged as one row per typing session.

The portal's inquiry form asks for suggestions as the customer types (``GET /api/v1/kb/suggest``).
The first time articles are shown, a :class:`~sangdam.models.knowledge.KbDeflection` row is written
and its id comes back with a signed token; the page sends both with its next requests, so the same
row is refreshed (the latest query, every article shown so far) instead of a new row per keystroke,
which would make the deflection rate meaningless. The id goes into the form's hidden
``deflection_id``: if the customer submits anyway, the inquiry marks the row submitted.

"해결됐어요" (:func:`resolve`) records the article that answered the question on the row
(``opened_article_id``; the portal only reads a suggestion inline, which counts an article view, so
on rows from the portal this column means "resolved by") and counts it as a '도움이 되었나요? 예' vote
for that article. A row never submitted counts as deflected (``queries.deflection_stats``).

Writes happen in the caller's transaction, through :mod:`sangdam.knowledge.actions` where an action
exists; :func:`refresh_deflection` is the one write of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sangdam.core import signing
from sangdam.core.clock import now
from sangdam.knowledge import actions
from sangdam.knowledge.analyzer import normalize_text
from sangdam.knowledge.index import Hit, KnowledgeIndex
from sangdam.knowledge.queries import search_in
from sangdam.knowledge.schemas import DeflectionCreate, SearchHitPublic
from sangdam.models.knowledge import KbDeflection
from sangdam.privacy.detect import mask_sensitive

SUGGEST_TOP = 3
MIN_SCORE = 1.0  # one generic word ("카드") scores below this: not worth interrupting the customer
RELATIVE_SCORE = 0.35  # keep hits scoring at least this share of the best one
MAX_SHOWN = 20
TOKEN_PURPOSE = "kb-deflection"
TOKEN_TTL = 2 * 3600


class SuggestResponse(BaseModel):
    query: str
    corrections: dict[str, str] = Field(description="typed word → word searched for (typo tolerance)")
    hits: list[SearchHitPublic]
    deflection_id: int | None = Field(description="put in the inquiry's deflection_id; null until articles are shown")
    token: str | None = Field(description="send back with the next suggest request and with 해결됐어요")


class ResolveIn(BaseModel):
    article_id: str = Field(min_length=1, max_length=100)
    token: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True, slots=True)
class Suggestions:
    query: str
    corrections: dict[str, str]
    hits: list[Hit]


def suggest_in(index: KnowledgeIndex, query: str, top: int = SUGGEST_TOP) -> Suggestions:
    """The few published articles worth showing for an inquiry being typed (maybe none)."""
    result = search_in(index, query, top)
    hits = [h for h in result.hits if h.score >= MIN_SCORE and h.focus > 0]
    if hits:
        best = hits[0].score
        hits = [h for h in hits if h.score >= best * RELATIVE_SCORE]
    return Suggestions(result.query, result.corrections, hits)


def make_token(secret: str, deflection_id: int) -> str:
    return signing.sign(secret, TOKEN_PURPOSE, str(deflection_id), TOKEN_TTL)


def token_matches(secret: str, deflection_id: int | None, token: str | None) -> bool:
    """Whether ``token`` was issued for this deflection row (and has not expired)."""
    return deflection_id is not None and signing.unsign(secret, TOKEN_PURPOSE, token) == str(deflection_id)


def _merge(first: list[str], more: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))[:MAX_SHOWN]


def refresh_deflection(session: Session, row: KbDeflection, query: str, article_ids: list[str]) -> KbDeflection:
    """The customer typed on: keep the latest query (masked) and every article shown so far."""
    row.query = mask_sensitive(normalize_text(query).strip()).text[:500]
    row.shown_article_ids = _merge(list(row.shown_article_ids or []), article_ids)
    row.updated_at = now()
    return row


def log_shown(
    session: Session, query: str, hits: list[Hit], deflection_id: int | None, known: bool, channel: str = "form"
) -> int | None:
    """Record suggestions shown; returns the row's id (None when nothing was ever shown).

    ``known``: the caller checked the token for ``deflection_id``. Its row is refreshed unless it
    was already submitted (then a new typing session starts a new row).
    """
    ids = [h.id for h in hits]
    row = session.get(KbDeflection, deflection_id) if known and deflection_id is not None else None
    if row is not None and not row.submitted:
        if ids:
            refresh_deflection(session, row, query, ids)
        return row.id
    if not ids:
        return None
    created = actions.record_deflection(session, DeflectionCreate(query=query[:500], article_ids=ids, channel=channel))
    return created.id


def resolve(session: Session, deflection_id: int, article_id: str) -> KbDeflection:
    """'해결됐어요': this article answered the question (also a '도움이 되었나요? 예' vote, counted once)."""
    row = session.get(KbDeflection, deflection_id)
    if row is not None and row.opened_article_id == article_id:
        return row
    row = actions.mark_deflection_opened(session, deflection_id, article_id)
    row.shown_article_ids = _merge(list(row.shown_article_ids or []), [article_id])
    actions.vote(session, article_id, True)
    return row
