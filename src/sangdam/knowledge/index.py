"""The in-memory search index: BM25F over analysed Korean terms, with field boosts and typo fallback.

Each article has three fields — question, keywords (its keywords and synonyms) and answer — scored
together with BM25F: a term's frequency in each field is length-normalised, weighted by the field's
boost (question 3 > keywords 2 > answer 1), summed, then saturated once. Postings are NumPy arrays
per term (article slots, sorted, and the three field frequencies), so a query over 10,000 articles
costs a few vector operations per query term. Changing an article rewrites only the postings of its
own terms, so the index follows edits without being rebuilt.

Query words the index does not know are corrected within one jamo edit (:mod:`fuzzy`), also after
splitting a word in two (분싷신고 → 분실 + 신고); corrected and compound terms count less than exact
single words. Hits say which query words matched and carry the question and an answer snippet with
those words marked.

Thread-safety: searches and changes take one lock; analysis (the slow part) happens outside it.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sangdam.knowledge.analyzer import Analyzer, Morph, get_analyzer, normalize_text
from sangdam.knowledge.fuzzy import FuzzyVocabulary, eligible
from sangdam.knowledge.richtext import mark, snippet
from sangdam.knowledge.synonyms import SynonymMap
from sangdam.knowledge.terms import DERIVED, Term, normalize, to_terms

FIELDS = ("question", "keywords", "answer")
FIELD_BOOSTS = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # question > keywords > answer
FIELD_B = np.array([0.5, 0.3, 0.75], dtype=np.float32)
K1 = 1.2
COMPOUND_WEIGHT = 0.5
TYPO_WEIGHT = 0.8
COORDINATION = 0.25  # score × (matched share of the query's words, by idf) ** COORDINATION
UNKNOWN_WEIGHT = 0.25  # an unknown noun of the query counts as this share of a rare word in coverage
MAX_QUERY_CHARS = 2000
_CACHE_LIMIT = 4096

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    """What the index needs of an article: its texts as analysed, and what filters it."""

    id: str
    category: str
    question: str  # normalised text (offsets of the question morphs refer to it)
    answer_text: str  # the answer as plain text, normalised (offsets of the answer morphs)
    keywords_text: str
    published: bool
    revision: int
    morphs: Mapping[str, list[Morph]]


def keywords_text(keywords: Iterable[str], synonyms: Iterable[str]) -> str:
    """The keywords field: entries separated so that no compound spans two of them."""
    return " , ".join(normalize_text(k).strip() for k in [*keywords, *synonyms] if k.strip())


def analyze_articles(analyzer: Analyzer, texts: list[tuple[str, str, str]]) -> list[dict[str, list[Morph]]]:
    """Analyse (question, answer_text, keywords_text) triples in one batch."""
    flat = [t for triple in texts for t in triple]
    results = analyzer.analyze_many(flat)
    return [
        dict(zip(FIELDS, (results[i], results[i + 2], results[i + 1]), strict=True)) for i in range(0, len(results), 3)
    ]


def dump_analysis(morphs: Mapping[str, list[Morph]], version: str) -> dict[str, Any]:
    return {"v": version, **{name: [m.to_list() for m in morphs[name]] for name in FIELDS}}


def load_analysis(raw: Mapping[str, Any] | None, version: str) -> dict[str, list[Morph]] | None:
    """The cached analysis, or None when it is missing or was made by another analyzer version."""
    if not raw or raw.get("v") != version:
        return None
    try:
        return {name: [Morph.from_list(x) for x in raw[name]] for name in FIELDS}
    except (KeyError, TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class QueryTerm:
    text: str
    weight: float
    start: int
    end: int
    compound: bool = False
    corrected: bool = False
    noun: bool = True


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str
    terms: tuple[QueryTerm, ...]

    @property
    def corrections(self) -> dict[str, str]:
        """Query words that were corrected for typos: what was typed → the word searched for."""
        found: dict[str, str] = {}
        for term in self.terms:
            typed = self.text[term.start : term.end]
            if term.corrected and not term.compound and typed != term.text:
                found.setdefault(typed, term.text)
        return found


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    category: str
    question: str
    score: float
    coverage: float  # share of the query's weight (by idf) that this article matches, 0–1
    focus: float  # like coverage, counting only words found in the question or keywords, 0–1
    published: bool
    matched: tuple[str, ...]  # the query's words that matched, as the customer wrote them
    question_html: str
    snippet_html: str


@dataclass(slots=True)
class _Doc:
    id: str
    category: str
    published: bool
    revision: int
    question: str
    answer_text: str
    term_ids: IntArray
    q_ids: IntArray
    q_spans: IntArray
    a_ids: IntArray
    a_spans: IntArray


@dataclass(slots=True)
class _Prepared:
    article: IndexedArticle
    counts: list[Counter[str]]
    lengths: tuple[float, float, float]
    q_terms: list[Term]
    a_terms: list[Term]
    words: dict[str, tuple[str, ...]]  # typo-correction targets: words, and compounds with their parts


@dataclass(slots=True)
class _Postings:
    docs: list[IntArray | None] = field(default_factory=list)
    tf: list[FloatArray | None] = field(default_factory=list)


def _is_hangul(text: str) -> bool:
    return bool(text) and all("\uac00" <= ch <= "\ud7a3" for ch in text)


def _is_hangul_noun(m: Morph) -> bool:
    return m.tag in ("NNG", "NNP", "XR") and _is_hangul(m.form)


def _eojeol_start(text: str, position: int) -> int:
    while position > 0 and not text[position - 1].isspace():
        position -= 1
    return position


def _by_eojeol(morphs: list[Morph], text: str) -> list[list[Morph]]:
    """Morphs grouped by the space-separated word (어절) they come from."""
    groups: list[list[Morph]] = []
    current = -1
    for m in morphs:
        start = _eojeol_start(text, m.start)
        if groups and start == current:
            groups[-1].append(m)
        else:
            groups.append([m])
            current = start
    return groups


class KnowledgeIndex:
    """Articles searchable by analysed terms. ``version`` is the knowledge-base version it reflects."""

    def __init__(self, analyzer: Analyzer | None = None, synonyms: SynonymMap | None = None) -> None:
        self.analyzer = analyzer or get_analyzer()
        self.synonyms = synonyms or SynonymMap.empty()
        self.version = -1
        self.synonyms_version = -1
        self._lock = threading.RLock()
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._postings = _Postings()
        self._fuzzy = FuzzyVocabulary()
        self._fuzzy.add_many(self.synonyms.single_words)
        self._parts: dict[str, tuple[str, ...]] = {}
        self._slots: dict[str, int] = {}
        self._docs: list[_Doc | None] = []
        self._free: list[int] = []
        self._lengths = np.zeros((0, 3), dtype=np.float32)
        self._published = np.zeros(0, dtype=bool)
        self._category = np.zeros(0, dtype=np.int32)
        self._categories: dict[str, int] = {}
        self._length_sum = np.zeros(3, dtype=np.float64)
        self._live = 0
        self._cache: dict[int, FloatArray] = {}

    # ---- contents -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._live

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slots

    def revisions(self) -> dict[str, int]:
        with self._lock:
            return {doc.id: doc.revision for doc in self._docs if doc is not None}

    def document_frequency(self, term: str) -> int:
        tid = self._vocab.get(term)
        if tid is None:
            return 0
        docs = self._postings.docs[tid]
        return 0 if docs is None else len(docs)

    def _prepare(self, article: IndexedArticle) -> _Prepared:
        texts = {"question": article.question, "answer": article.answer_text, "keywords": article.keywords_text}
        field_terms = [to_terms(normalize(article.morphs[name], self.synonyms), texts[name]) for name in FIELDS]
        counts = [Counter(t.text for t in terms) for terms in field_terms]
        lengths = (float(len(field_terms[0])), float(len(field_terms[1])), float(len(field_terms[2])))
        words: dict[str, tuple[str, ...]] = {}
        for position, terms in enumerate(field_terms):
            for t in terms:
                if t.compound:
                    if position < 2 and t.parts and eligible(t.text):  # compounds of question and keywords
                        words.setdefault(t.text, t.parts)
                elif t.tag != DERIVED and eligible(t.text):
                    words[t.text] = ()
        return _Prepared(article, counts, lengths, field_terms[0], field_terms[2], words)

    def update(self, articles: Iterable[IndexedArticle] = (), removed: Iterable[str] = ()) -> None:
        """Add or replace ``articles`` and drop the ``removed`` ids, touching only their terms."""
        prepared = [self._prepare(a) for a in articles]
        with self._lock:
            removes: dict[int, list[int]] = {}
            adds: dict[int, list[tuple[int, tuple[float, float, float]]]] = {}
            for article_id in removed:
                slot = self._slots.pop(article_id, None)
                if slot is not None:
                    self._drop_slot(slot, removes)
                    self._free.append(slot)
            for item in prepared:
                slot = self._slots.get(item.article.id)
                if slot is not None:
                    self._drop_slot(slot, removes)
                else:
                    slot = self._free.pop() if self._free else self._grow()
                    self._slots[item.article.id] = slot
                self._place(slot, item, adds)
            self._rewrite_postings(removes, adds)
            self._cache.clear()

    def replace_all(self, articles: Iterable[IndexedArticle], synonyms: SynonymMap | None = None) -> None:
        """Rebuild from scratch (used at start-up and when the synonym dictionary changes)."""
        with self._lock:
            if synonyms is not None:
                self.synonyms = synonyms
            self._vocab.clear()
            self._terms.clear()
            self._postings = _Postings()
            self._fuzzy = FuzzyVocabulary()
            self._fuzzy.add_many(self.synonyms.single_words)
            self._parts.clear()
            self._slots.clear()
            self._docs.clear()
            self._free.clear()
            self._lengths = np.zeros((0, 3), dtype=np.float32)
            self._published = np.zeros(0, dtype=bool)
            self._category = np.zeros(0, dtype=np.int32)
            self._length_sum[:] = 0
            self._live = 0
            self._cache.clear()
            self.update(articles)

    def _grow(self) -> int:
        slot = len(self._docs)
        self._docs.append(None)
        if slot >= len(self._published):
            capacity = max(64, 2 * len(self._published))
            lengths = np.zeros((capacity, 3), dtype=np.float32)
            lengths[: len(self._lengths)] = self._lengths
            published = np.zeros(capacity, dtype=bool)
            published[: len(self._published)] = self._published
            category = np.full(capacity, -1, dtype=np.int32)
            category[: len(self._category)] = self._category
            self._lengths, self._published, self._category = lengths, published, category
        return slot

    def _drop_slot(self, slot: int, removes: dict[int, list[int]]) -> None:
        doc = self._docs[slot]
        if doc is None:
            return
        for tid in doc.term_ids.tolist():
            removes.setdefault(tid, []).append(slot)
        self._length_sum -= self._lengths[slot]
        self._lengths[slot] = 0
        self._published[slot] = False
        self._category[slot] = -1
        self._docs[slot] = None
        self._live -= 1

    def _term_id(self, term: str) -> int:
        tid = self._vocab.get(term)
        if tid is None:
            tid = len(self._terms)
            self._vocab[term] = tid
            self._terms.append(term)
            self._postings.docs.append(None)
            self._postings.tf.append(None)
        return tid

    def _place(self, slot: int, item: _Prepared, adds: dict[int, list[tuple[int, tuple[float, float, float]]]]) -> None:
        article = item.article
        merged: dict[str, list[float]] = {}
        for position, counts in enumerate(item.counts):
            for term, n in counts.items():
                merged.setdefault(term, [0.0, 0.0, 0.0])[position] = float(n)
        term_ids = []
        for term, tf in merged.items():
            tid = self._term_id(term)
            term_ids.append(tid)
            adds.setdefault(tid, []).append((slot, (tf[0], tf[1], tf[2])))
        for word, parts in item.words.items():
            if word not in self._fuzzy:
                self._fuzzy.add(word)
                if parts:
                    self._parts[word] = parts
        category = self._categories.setdefault(article.category, len(self._categories))
        self._docs[slot] = _Doc(
            id=article.id,
            category=article.category,
            published=article.published,
            revision=article.revision,
            question=article.question,
            answer_text=article.answer_text,
            term_ids=np.array(term_ids, dtype=np.int32),
            q_ids=np.array([self._vocab[t.text] for t in item.q_terms], dtype=np.int32),
            q_spans=np.array([(t.start, t.end) for t in item.q_terms], dtype=np.int32).reshape(-1, 2),
            a_ids=np.array([self._vocab[t.text] for t in item.a_terms], dtype=np.int32),
            a_spans=np.array([(t.start, t.end) for t in item.a_terms], dtype=np.int32).reshape(-1, 2),
        )
        self._lengths[slot] = item.lengths
        self._length_sum += np.array(item.lengths)
        self._published[slot] = article.published
        self._category[slot] = category
        self._live += 1

    def _rewrite_postings(
        self,
        removes: dict[int, list[int]],
        adds: dict[int, list[tuple[int, tuple[float, float, float]]]],
    ) -> None:
        postings = self._postings
        for tid in set(removes) | set(adds):
            docs = postings.docs[tid]
            tf = postings.tf[tid]
            if docs is not None and tid in removes:
                keep = ~np.isin(docs, np.array(removes[tid], dtype=np.int32))
                docs, tf = docs[keep], tf[keep] if tf is not None else None
            if tid in adds:
                new_docs = np.array([slot for slot, _ in adds[tid]], dtype=np.int32)
                new_tf = np.array([v for _, v in adds[tid]], dtype=np.float32).reshape(-1, 3)
                if docs is not None and len(docs) and tf is not None:
                    new_docs = np.concatenate([docs, new_docs])
                    new_tf = np.concatenate([tf, new_tf])
                order = np.argsort(new_docs, kind="stable")
                docs, tf = new_docs[order], new_tf[order]
            if docs is None or not len(docs):
                postings.docs[tid], postings.tf[tid] = None, None
            else:
                postings.docs[tid], postings.tf[tid] = docs, tf

    # ---- queries --------------------------------------------------------------------------------

    def parse(self, text: str) -> ParsedQuery:
        """Analyse a query: typo model, unknown-word correction, synonyms, stop words, compounds."""
        query = normalize_text(text)[:MAX_QUERY_CHARS]
        raw = self.analyzer.analyze(query, typos=True)
        with self._lock:
            raw, corrected = self._correct(raw, query)
            morphs = normalize(raw, self.synonyms)
        weights: dict[str, QueryTerm] = {}
        for term in to_terms(morphs, query):
            weight = COMPOUND_WEIGHT if term.compound else 1.0
            fixed = any(s <= term.start and term.end <= e for s, e in corrected)
            if fixed:
                weight *= TYPO_WEIGHT
            held = weights.get(term.text)
            if held is None:
                noun = term.tag not in ("VV", "VA", "MAG")
                weights[term.text] = QueryTerm(term.text, weight, term.start, term.end, term.compound, fixed, noun)
            elif not term.compound:  # a repeated word counts a little more, not linearly
                weights[term.text] = QueryTerm(
                    held.text,
                    min(held.weight + 0.5 * weight, 2 * weight),
                    held.start,
                    held.end,
                    held.compound,
                    held.corrected,
                    held.noun,
                )
        return ParsedQuery(query, tuple(weights.values()))

    def _known(self, word: str) -> bool:
        """In the index, or a word of the synonym dictionary."""
        return self.document_frequency(word) > 0 or word in self.synonyms.lengths_by_first

    def _correct(self, morphs: list[Morph], text: str) -> tuple[list[Morph], list[tuple[int, int]]]:
        """Replace misspelt nouns by the nearest known words (one jamo edit), eojeol by eojeol.

        A noun is suspect when Kiwi does not know it (분싷신고, 스미씽) or when the index does not
        and it is glued to a word it does (비밀 + 번화). When Kiwi broke a misspelt word into
        short pieces (연채 → 연, 채), the eojeol's core is corrected as a whole. Words Kiwi knows,
        standing alone, are left alone: 날씨 is not a typo of 날짜.
        """
        out: list[Morph] = []
        corrected: list[tuple[int, int]] = []
        for group in _by_eojeol(morphs, text):
            anchored = any(len(m.form) >= 2 and self._known(m.form) for m in group)
            suspects = [
                m
                for m in group
                if _is_hangul_noun(m) and not self._known(m.form) and (m.oov or (anchored and len(group) > 1))
            ]
            broken = not anchored and len(group) > 1 and all(_is_hangul(m.form) for m in group)
            if not suspects and not broken:
                out.extend(group)
                continue
            fixed_group: list[Morph] = []
            spans: list[tuple[int, int]] = []
            unresolved = broken
            for m in group:
                fixed = self._fix_morph(m) if m in suspects else None
                if fixed is None:
                    unresolved = unresolved or m in suspects
                    fixed_group.append(m)
                else:
                    fixed_group.extend(fixed)
                    spans.append((m.start, m.end))
            if unresolved:
                start = _eojeol_start(text, group[0].start)
                end = max(m.end for m in group)
                whole = self._fix_morph(Morph(text[start:end], "NNG", start, end)) if end - start >= 2 else None
                if whole is not None:
                    out.extend(whole)
                    corrected.append((start, end))
                    continue
            out.extend(fixed_group)
            corrected.extend(spans)
        return out, corrected

    def _usable(self, word: str) -> bool:
        return word in self.synonyms.single_words or self.document_frequency(word) > 0

    def _nearest(self, word: str, start: int, end: int) -> list[Morph] | None:
        found = self._fuzzy.lookup(word, self._usable, self.document_frequency)
        if found is None:
            return None
        parts = self._parts.get(found, ())
        return [Morph(found, "NNG", start, end)] + [Morph(p, DERIVED, start, end) for p in parts]

    def _fix_morph(self, m: Morph) -> list[Morph] | None:
        return self._nearest(m.form, m.start, m.end) or self._split(m)

    def _split(self, m: Morph) -> list[Morph] | None:
        """Two words run together, one of them possibly misspelt: 분싷신고 → 분실 + 신고."""
        word = m.form
        if len(word) < 3 or len(word) != m.end - m.start:
            return None
        for cut in range(1, len(word)):
            left, right = word[:cut], word[cut:]
            middle = m.start + cut
            left_ok, right_ok = self._usable(left), self._usable(right)
            if left_ok and right_ok:
                return [Morph(left, "NNG", m.start, middle), Morph(right, "NNG", middle, m.end)]
            if left_ok and len(right) >= 2:
                fixed = self._nearest(right, middle, m.end)
                if fixed:
                    return [Morph(left, "NNG", m.start, middle), *fixed]
            if right_ok and len(left) >= 2:
                fixed = self._nearest(left, m.start, middle)
                if fixed:
                    return [*fixed, Morph(right, "NNG", middle, m.end)]
        return None

    def _contribution(self, tid: int) -> FloatArray | None:
        cached = self._cache.get(tid)
        if cached is not None:
            return cached
        docs = self._postings.docs[tid]
        tf = self._postings.tf[tid]
        if docs is None or tf is None:
            return None
        average = np.maximum(self._length_sum / max(self._live, 1), 1e-6).astype(np.float32)
        norm = 1.0 - FIELD_B + FIELD_B * (self._lengths[docs] / average)
        weighted = (tf / norm) @ FIELD_BOOSTS
        value = (self._idf(len(docs)) * weighted * (K1 + 1.0) / (weighted + K1)).astype(np.float32)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[tid] = value
        return value

    def _idf(self, df: int) -> float:
        return math.log(1.0 + (self._live - df + 0.5) / (df + 0.5))

    def search(
        self,
        query: str | ParsedQuery,
        top: int = 5,
        *,
        category: str | None = None,
        include_drafts: bool = False,
        highlight: bool = True,
    ) -> list[Hit]:
        parsed = query if isinstance(query, ParsedQuery) else self.parse(query)
        if not parsed.terms or top <= 0:
            return []
        with self._lock:
            if not self._live:
                return []
            scores = np.zeros(len(self._published), dtype=np.float32)
            covered = np.zeros(len(self._published), dtype=np.float32)
            total = 0.0
            unknown_idf = UNKNOWN_WEIGHT * math.log(1.0 + (self._live + 0.5) / 0.5)
            used: list[tuple[QueryTerm, int]] = []
            for term in parsed.terms:
                tid = self._vocab.get(term.text)
                contribution = self._contribution(tid) if tid is not None else None
                docs = self._postings.docs[tid] if tid is not None else None
                if contribution is None or docs is None or tid is None:
                    if not term.compound and term.noun:
                        total += term.weight * unknown_idf  # an unknown noun: the message is partly off-topic
                    continue
                scores[docs] += term.weight * contribution
                used.append((term, tid))
                if not term.compound:
                    mass = term.weight * self._idf(len(docs))
                    covered[docs] += mass
                    total += mass
            if not include_drafts:
                scores[~self._published] = 0
            if category is not None:
                code = self._categories.get(category)
                if code is None:
                    return []
                scores[self._category != code] = 0
            candidates = np.flatnonzero(scores > 0)
            if not len(candidates):
                return []
            coverage = covered[candidates] / total if total > 0 else np.zeros(len(candidates), dtype=np.float32)
            final = scores[candidates] * np.power(np.maximum(coverage, 1e-3), COORDINATION)
            pick = np.argpartition(-final, top - 1)[:top] if len(candidates) > top else np.arange(len(candidates))
            pick = pick[np.lexsort((candidates[pick], -final[pick]))]
            return [
                self._hit(int(candidates[i]), float(final[i]), float(coverage[i]), total, parsed, used, highlight)
                for i in pick
            ]

    def _hit(
        self,
        slot: int,
        score: float,
        coverage: float,
        total: float,
        parsed: ParsedQuery,
        used: list[tuple[QueryTerm, int]],
        highlight: bool,
    ) -> Hit:
        doc = self._docs[slot]
        assert doc is not None
        matched_ids: list[int] = []
        matched_words: dict[tuple[int, int], str] = {}
        focused = 0.0
        for term, tid in used:
            docs = self._postings.docs[tid]
            tf = self._postings.tf[tid]
            if docs is None or tf is None:
                continue
            at = int(np.searchsorted(docs, slot))
            if at < len(docs) and docs[at] == slot:
                matched_ids.append(tid)
                matched_words.setdefault((term.start, term.end), parsed.text[term.start : term.end])
                if not term.compound and (tf[at, 0] > 0 or tf[at, 1] > 0):
                    focused += term.weight * self._idf(len(docs))
        focus = focused / total if total > 0 else 0.0
        words = tuple(dict.fromkeys(matched_words[k] for k in sorted(matched_words)))
        if highlight and matched_ids:
            wanted = np.array(matched_ids, dtype=np.int32)
            q_spans = [tuple(s) for s in doc.q_spans[np.isin(doc.q_ids, wanted)].tolist()]
            a_spans = [tuple(s) for s in doc.a_spans[np.isin(doc.a_ids, wanted)].tolist()]
            question_html = mark(doc.question, q_spans)  # type: ignore[arg-type]
            snippet_html = snippet(doc.answer_text, a_spans)  # type: ignore[arg-type]
        else:
            question_html = mark(doc.question, [])
            snippet_html = snippet(doc.answer_text, [])
        return Hit(
            doc.id,
            doc.category,
            doc.question,
            score,
            min(coverage, 1.0),
            min(focus, 1.0),
            doc.published,
            words,
            question_html,
            snippet_html,
        )
