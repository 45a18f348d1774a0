"""Korean morphological analysis for search, on kiwipiepy (its model ships in the package).

The analyzer turns text into *morphs*: content morphemes with their offsets in the (normalised)
text — nouns, verb and adjective stems (lemmas: 잃어버렸어요 and 잃어버린 both give 잃어버리),
adverbs, numbers, Latin words (lower-cased: CVC → cvc), serials such as 1577-1940 — and drops
particles, endings and punctuation. Prefixes and suffixes (재, 무, 화 …) are kept, marked as affixes,
so the index can join them to their noun. Query text may be analysed with Kiwi's typo model.

One Kiwi instance is loaded per process, lazily, behind a lock (loading takes about two seconds;
analysing a sentence well under a millisecond). Analysis is serialised by the same lock.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Words of the card domain that Kiwi splits or reads differently depending on the context. Compounds
# Kiwi already splits well (분실신고, 해외결제) stay out: their parts must stay searchable.
# Changing this list changes ANALYZER_VERSION, which re-analyses articles.
USER_WORDS: tuple[tuple[str, str], ...] = (
    ("비번", "NNG"),
    ("카드값", "NNG"),
    ("캐시백", "NNG"),
    ("캐쉬백", "NNG"),
    ("캐시빽", "NNG"),
    ("캐쉬빽", "NNG"),
    ("페이백", "NNG"),
    ("카톡", "NNP"),
    ("스미싱", "NNG"),
    ("리볼빙", "NNG"),
    ("챗봇", "NNG"),
    ("어플", "NNG"),
    ("폰", "NNG"),
    ("한도", "NNG"),  # else "한도 올리고" reads as 한(MM) + 도(JX)
    ("사기", "NNG"),  # else "문자 사기" reads as the verb 사다
    ("연회비", "NNG"),
    ("카드론", "NNG"),
    ("명세서", "NNG"),
)

_ANALYZER_REVISION = 2


def _version() -> str:
    try:
        kiwi = version("kiwipiepy")
    except PackageNotFoundError:
        kiwi = "unknown"
    words = ",".join(f"{w}/{t}" for w, t in USER_WORDS)
    digest = hashlib.sha1(words.encode()).hexdigest()[:8]
    return f"kiwi{kiwi}-{digest}-r{_ANALYZER_REVISION}"


ANALYZER_VERSION = _version()

# Kiwi tags kept as content (after stripping an irregular-conjugation suffix such as VA-I → VA).
CONTENT_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "NP", "MM", "MAG", "VV", "VA", "XR", "SL", "SN", "SH"})
# Verb-forming suffixes (분실-하다, 결제-되다) are kept as verbs: the dictionary has phrases such as
# 결제 안 되다; the stop list drops them everywhere else.
VERB_SUFFIX_TAGS = {"XSV": "VV", "XSA": "VA"}
AFFIX_TAGS = frozenset({"XPN", "XSN"})
NOUN_TAGS = frozenset({"NNG", "NNP", "XR", "SL", "SN", "SH", "W"})

_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def normalize_text(text: str) -> str:
    """NFC, full-width ASCII to ASCII, and no control characters (offsets stay one char to one char)."""
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH)
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)


@dataclass(frozen=True, slots=True)
class Morph:
    """One content morpheme: its search form, a simplified tag and its span in the analysed text."""

    form: str
    tag: str
    start: int
    end: int
    oov: bool = False  # a noun Kiwi does not know (queries only; not stored)

    @property
    def is_affix(self) -> bool:
        return self.tag in AFFIX_TAGS

    @property
    def is_noun(self) -> bool:
        return self.tag in NOUN_TAGS

    def to_list(self) -> list[Any]:
        return [self.form, self.tag, self.start, self.end]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Morph:
        return cls(str(raw[0]), str(raw[1]), int(raw[2]), int(raw[3]))


def _is_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


class Analyzer:
    """A lazily loaded, lock-protected Kiwi with the card-domain user words."""

    version = ANALYZER_VERSION

    def __init__(self) -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._kiwi is None:
            import warnings

            from kiwipiepy import Kiwi

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                kiwi = Kiwi()
            for word, tag in USER_WORDS:
                kiwi.add_user_word(word, tag, 0.0)
            kiwi.tokenize("카드")  # finish Kiwi's lazy initialisation now, not on the first query
            kiwi.tokenize("카드", typos="basic")
            self._kiwi = kiwi
        return self._kiwi

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def analyze(self, text: str, *, typos: bool = False) -> list[Morph]:
        """Content morphs of ``text`` (normalise it with :func:`normalize_text` first for offsets)."""
        if not text.strip():
            return []
        with self._lock:
            kiwi = self._load()
            tokens = kiwi.tokenize(text, typos="basic" if typos else None, normalize_coda=typos)
        return _morphs(tokens)

    def analyze_many(self, texts: list[str]) -> list[list[Morph]]:
        """Content morphs of several texts at once (Kiwi batches them, about twice as fast)."""
        if not texts:
            return []
        with self._lock:
            kiwi = self._load()
            results = list(kiwi.tokenize([t if t.strip() else " " for t in texts]))
        return [_morphs(tokens) for tokens in results]


# Kiwi gives a word missing from its dictionary the placeholder morpheme of its tag: id 2 for a
# common noun (NNG), 3 for a proper noun (NNP). Typos usually end up there (분싷신고, 스미씽).
_OOV_IDS = {"NNG": 2, "NNP": 3}


def _morphs(tokens: list[Any]) -> list[Morph]:
    out: list[Morph] = []
    for token in tokens:
        tag = str(token.tag).split("-", 1)[0]
        form = str(token.form)
        start = int(token.start)
        end = start + int(token.len)
        if tag.startswith("W_"):
            out.append(Morph(form.lower(), "W", start, end))
        elif tag in VERB_SUFFIX_TAGS:
            out.append(Morph(form, VERB_SUFFIX_TAGS[tag], start, end))
        elif tag in CONTENT_TAGS or tag in AFFIX_TAGS:
            if tag == "SL" or (tag in ("NNG", "NNP") and form.isascii() and not _is_hangul(form)):
                form = form.lower()
            out.append(Morph(form, tag, start, end, _OOV_IDS.get(tag) == int(token.id)))
    return out


_analyzer: Analyzer | None = None
_analyzer_lock = threading.Lock()


def get_analyzer() -> Analyzer:
    """The process's analyzer (created on first use; Kiwi itself loads on the first analysis)."""
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                _analyzer = Analyzer()
    return _analyzer
