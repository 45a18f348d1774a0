"""Inputs and outputs of the knowledge base: API bodies, import lines, search results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
QUESTION_MAX = 300
ANSWER_MAX = 20_000
WORD_MAX = 100
WORDS_MAX = 50


class ArticleLine(BaseModel):
    """One line of a JSON Lines import/export: the whole article, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    id: StrictStr = Field(pattern=SLUG_PATTERN, description="stable slug, e.g. lost-card-report")
    category: StrictStr = Field(min_length=1, max_length=64, description="topic code, e.g. lost_card")
    question: StrictStr = Field(min_length=1, max_length=QUESTION_MAX)
    answer: StrictStr = Field(min_length=1, max_length=ANSWER_MAX)
    keywords: list[StrictStr] = Field(max_length=WORDS_MAX)
    synonyms: list[StrictStr] = Field(max_length=WORDS_MAX)
    published: StrictBool = True


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=SLUG_PATTERN, description="stable slug (영문 소문자, 숫자, -, _)")
    category: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    answer: str = Field(min_length=1, max_length=ANSWER_MAX, description="rich text: paragraphs, '- ' lists, **bold**")
    keywords: list[str] = Field(default_factory=list, max_length=WORDS_MAX)
    synonyms: list[str] = Field(default_factory=list, max_length=WORDS_MAX)
    published: bool = False
    sort_order: int = 0


class ArticleUpdate(BaseModel):
    """A partial change: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str | None = Field(default=None, min_length=1, max_length=64)
    question: str | None = Field(default=None, min_length=1, max_length=QUESTION_MAX)
    answer: str | None = Field(default=None, min_length=1, max_length=ANSWER_MAX)
    keywords: list[str] | None = Field(default=None, max_length=WORDS_MAX)
    synonyms: list[str] | None = Field(default=None, max_length=WORDS_MAX)
    published: bool | None = None
    sort_order: int | None = None


class ArticlePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    category: str
    question: str
    answer: str
    answer_html: str
    keywords: list[str]
    synonyms: list[str]
    published: bool
    sort_order: int
    views: int
    helpful_yes: int
    helpful_no: int
    created_at: datetime
    updated_at: datetime


class ArticleSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    category: str
    question: str
    published: bool
    views: int
    helpful_yes: int
    helpful_no: int


class CategorySummary(BaseModel):
    code: str
    name: str
    articles: int


class SearchHitPublic(BaseModel):
    id: str
    score: float
    category: str
    question: str
    matched: list[str] = Field(description="the query's words that matched, as typed")
    question_html: str = Field(description="the question, escaped, matched words in <mark>")
    snippet_html: str = Field(description="part of the answer, escaped, matched words in <mark>")


class SearchResponse(BaseModel):
    query: str
    corrections: dict[str, str] = Field(description="typed word → word searched for (typo tolerance)")
    hits: list[SearchHitPublic]


class TopicGuessPublic(BaseModel):
    category: str | None = Field(description="topic code, or null when not confident enough")
    confidence: float
    article_id: str | None


class TopicQuery(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class VoteIn(BaseModel):
    helpful: bool


class VoteResult(BaseModel):
    helpful_yes: int
    helpful_no: int


class DeflectionCreate(BaseModel):
    """Suggestions were shown to a customer typing an inquiry."""

    query: str = Field(min_length=1, max_length=500)
    article_ids: list[str] = Field(default_factory=list, max_length=20)
    channel: str = Field(default="form", max_length=16)


class DeflectionUpdate(BaseModel):
    opened_article_id: str | None = None
    submitted: bool | None = None
    conversation_id: int | None = None


class DeflectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    query: str
    channel: str
    shown_article_ids: list[str]
    opened_article_id: str | None
    submitted: bool
    conversation_id: int | None
    created_at: datetime


class DeflectionStats(BaseModel):
    searches: int
    opened: int
    submitted: int
    deflected: int = Field(description="searches after which no inquiry was submitted")
    deflection_rate: float


class SynonymCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    term: str = Field(min_length=1, max_length=WORD_MAX, description="what customers write, e.g. 비번")
    canonical: str = Field(min_length=1, max_length=WORD_MAX, description="the word articles use, e.g. 비밀번호")


class SynonymPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    term: str
    canonical: str


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged
