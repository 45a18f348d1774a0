"""From analysed morphs to index terms: synonyms, stop words, compound parts and compounds.

The pipeline, the same for articles and queries (queries add typo correction before compounds):

1. drop fillers (좀, 혹시, 진짜 …) so they do not break a dictionary phrase (한도 좀 올려 → 한도 올리);
2. apply the synonym dictionary (카드값 → 결제 대금);
3. drop stop words (하다, 되다, 것, 수 …) and pronouns, determiners and most bound nouns;
4. split known suffixes off long nouns Kiwi keeps whole (결제일 → also 결제, 상담원 → also 상담);
5. join neighbouring nouns written together or one space apart into a compound term
   (분실 신고 and 분실신고 both give 분실, 신고 and 분실신고; 재 + 발급 gives 재발급, IC칩 gives ic칩).

Compounds reward the right word order and spacing-insensitive phrases, while the single words keep
reversed or separated phrasings findable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sangdam.knowledge.analyzer import Morph
from sangdam.knowledge.synonyms import SynonymMap

FILLERS = frozenset(
    {
        "좀",
        "그냥",
        "혹시",
        "너무",
        "진짜",
        "정말",
        "막",
        "꼭",
        "제발",
        "빨리",
        "지금",
        "또",
        "많이",
        "계속",
        "이미",
        "벌써",
        "자꾸",
        "되게",
        "엄청",
        "완전",
        "그럼",
        "그래서",
        "근데",
        "그런데",
        "일단",
        "아까",
        "방금",
        "어케",
        "어떻게",
        "대체",
        "도대체",
        "한번",
        "혹시나",
    }
)

STOP_VERBS = frozenset(
    {
        "하",
        "되",
        "있",
        "없",
        "이",
        "아니",
        "같",
        "보",
        "주",
        "싶",
        "알",
        "드리",
        "않",
        "말",
        "그렇",
        "어떻",
        "그러",
        "이러",
        "저러",
        "받",
        "오",
        "가",
        "나",
        "해주",
        "당하",
        "모르",
        "어떠",
        "이렇",
        "시키",
        "어떡하",
        "되어지",
        "지",
    }
)
STOP_NOUNS = frozenset(
    {
        "것",
        "거",
        "수",
        "때",
        "등",
        "및",
        "데",
        "뭐",
        "무엇",
        "이것",
        "그것",
        "저것",
        "여기",
        "거기",
        "저기",
        "저",
        "제",
        "나",
        "저희",
        "우리",
        "당신",
        "님",
        "분",
        "요",
        "관련",
        "경우",
        "문의",
        "질문",
        "궁금",
        "답변",
        "가능",
        "방법",
        "여부",
    }
)
KEPT_BOUND_NOUNS = frozenset({"원", "개월", "달", "일", "년", "시", "시간", "회", "개", "장", "자리", "주", "일자"})
DROPPED_TAGS = frozenset({"NP", "NR", "MM"})

# Long nouns Kiwi keeps whole whose first part is worth finding on its own: 결제일 → 결제, 상담원 → 상담.
NOUN_SUFFIXES = frozenset({"일", "비", "료", "금", "액", "율", "률", "서", "권", "증", "원", "사", "점", "처", "자"})
NOUN_PREFIXES = frozenset({"재", "무"})

DERIVED = "D"  # a part split off a longer noun: searchable, never joined into a compound


@dataclass(frozen=True, slots=True)
class Term:
    """One index term: its text, its span in the analysed text; compounds name their word parts."""

    text: str
    start: int
    end: int
    compound: bool = False
    parts: tuple[str, ...] = ()
    tag: str = ""


_CLASS = {"VV": "V", "VA": "V", "MAG": "M", "MM": "M", "XPN": "A", "XSN": "A"}
_STOP_PAIRS = frozenset({(f, "V") for f in STOP_VERBS} | {(f, "N") for f in STOP_NOUNS} | {(f, "M") for f in FILLERS})
_FILLER_PAIRS = frozenset((f, "M") for f in FILLERS)
_JOIN_LEFT = frozenset({"NNG", "NNP", "XR", "SL", "SN", "SH", "W", "NNB", "XPN"})
_JOIN_RIGHT = frozenset({"NNG", "NNP", "XR", "SL", "SN", "SH", "W", "NNB", "XSN"})


def _all_hangul(form: str) -> bool:
    return all("\uac00" <= ch <= "\ud7a3" for ch in form)


def without_fillers(morphs: list[Morph]) -> list[Morph]:
    return [m for m in morphs if m.tag != "NP" and (m.form, _CLASS.get(m.tag, "N")) not in _FILLER_PAIRS]


def is_stop(m: Morph) -> bool:
    tag = m.tag
    if tag in DROPPED_TAGS:
        return True
    if tag == "NNB":
        return m.form not in KEPT_BOUND_NOUNS
    return (m.form, _CLASS.get(tag, "N")) in _STOP_PAIRS


def normalize(morphs: list[Morph], synonyms: SynonymMap) -> list[Morph]:
    """Steps 1–4: the content morphs in canonical words, with suffix-split parts (tag ``D``) added."""
    out: list[Morph] = []
    append = out.append
    for m in synonyms.apply(without_fillers(morphs)):
        tag = m.tag
        if tag in DROPPED_TAGS:
            continue
        form = m.form
        if tag == "NNB":
            if form not in KEPT_BOUND_NOUNS:
                continue
        elif (form, _CLASS.get(tag, "N")) in _STOP_PAIRS:
            continue
        append(m)
        if (tag == "NNG" or tag == "NNP") and len(form) >= 3 and _all_hangul(form):
            if form[-1] in NOUN_SUFFIXES:
                append(Morph(form[:-1], DERIVED, m.start, m.end))
            if form[0] in NOUN_PREFIXES:
                append(Morph(form[1:], DERIVED, m.start, m.end))
    return out


def to_terms(morphs: list[Morph], text: str | None = None) -> list[Term]:
    """Step 5: single-word terms (affixes excluded) and the compounds of adjacent nouns."""
    terms: list[Term] = []
    append = terms.append
    previous: Morph | None = None
    for m in morphs:
        tag = m.tag
        if tag == DERIVED:
            append(Term(m.form, m.start, m.end, tag=tag))
            continue
        affix = tag == "XPN" or tag == "XSN"
        if not affix:
            append(Term(m.form, m.start, m.end, tag=tag))
        if previous is not None and previous.tag in _JOIN_LEFT and tag in _JOIN_RIGHT:
            p_tag = previous.tag
            if not (p_tag == "XPN" and tag == "XSN"):
                gap = m.start - previous.end
                same = m.start == previous.start and m.end == previous.end
                if same or gap <= 0 or (gap == 1 and (text is None or text[previous.end].isspace())):
                    parts = tuple(x.form for x in (previous, m) if x.tag != "XPN" and x.tag != "XSN")
                    append(
                        Term(
                            previous.form + m.form,
                            min(previous.start, m.start),
                            max(previous.end, m.end),
                            True,
                            parts,
                            "NNG",
                        )
                    )
        previous = m
    return terms
