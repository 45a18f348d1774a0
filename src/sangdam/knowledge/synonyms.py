"""The synonym and colloquial-word dictionary of the card domain, and how it is applied.

Entries map what customers write to the word the articles use: 비번 → 비밀번호, 카드값 → 결제 대금,
캐쉬백 → 캐시백, 결제가 두 번 → 중복 결제. Both sides are analysed with the same analyzer, so an entry
matches whatever the particles and endings around it (카드값이, 카드값은 …), and it is applied to
articles and queries alike: both end up in the canonical words. Admins extend the dictionary
(``kb_synonyms``); their entries override the built-in ones for the same term.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sangdam.knowledge.analyzer import Analyzer, Morph, normalize_text

# canonical → what customers say instead. Verb entries are written as stems or phrases; the analyzer
# reduces them to the same lemmas as running text.
BUILTIN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "비밀번호": ("비번", "패스워드", "password", "pw", "비밀 번호"),
    "결제 대금": ("카드값", "카드 값", "카드대금", "카드 대금", "청구 금액", "청구금액", "이용 대금", "이용대금"),
    "캐시백": ("캐쉬백", "캐시빽", "캐쉬빽", "페이백", "cashback"),
    "분실": ("잃어버리다", "잃다", "분실되다", "잃어버림"),
    "도난": ("도둑맞다", "훔쳐 가다", "훔치다", "소매치기", "도둑"),
    "잊어버리다": ("까먹다", "잊다", "생각이 안 나다", "기억이 안 나다"),
    "휴대폰": ("핸드폰", "폰", "휴대전화", "스마트폰", "모바일폰"),
    "연락처": ("전화번호", "폰번호", "핸드폰 번호", "휴대폰 번호", "휴대전화 번호", "전번"),
    "상담원": ("상담사", "상담 직원", "상담 선생님", "직원", "담당자", "콜센터 직원"),
    "앱": ("어플", "어플리케이션", "애플리케이션", "app"),
    "카카오톡": ("카톡", "카카오", "kakao", "kakaotalk"),
    "결제": ("결재", "긁다"),
    "승인 거절": (
        "결제 거절",
        "결제 안 되다",
        "결제 실패",
        "승인 실패",
        "승인 안 되다",
        "승인 안 나다",
        "결제 거부",
        "승인 거부",
        "decline",
        "declined",
        "긁었는데 안 되다",
    ),
    "중복 결제": (
        "이중 결제",
        "이중결제",
        "두 번 결제",
        "2번 결제",
        "결제 두 번",
        "중복 청구",
        "이중 청구",
        "두 번 청구",
        "청구 두 번",
        "두 번 빠져나가다",
        "두 번 출금",
        "두 번 나가다",
        "두 번 승인",
        "이중 승인",
    ),
    "할부 전환": ("분할 납부", "분할납부", "할부로 바꾸다", "할부로 돌리다", "할부로 변경"),
    "결제일": (
        "결제 날짜",
        "결제 날",
        "납부일",
        "납부 날짜",
        "출금일",
        "출금 날짜",
        "결제 일자",
        "빠져나가는 날",
        "빠져나가는 날짜",
        "나가는 날",
        "나가는 날짜",
        "언제 빠져나가다",
        "언제 나가다",
        "언제 출금",
    ),
    "명세서": ("청구서", "이용 내역서", "대금 명세서", "이용대금명세서"),
    "연체": ("밀리다", "미납", "체납", "못 내다", "연체되다"),
    "포인트": ("적립금", "point"),
    "현금화": ("현금 전환", "현금으로 바꾸다", "현금으로 전환", "돈으로 바꾸다", "캐시아웃", "현금으로 받다"),
    "유효기간": ("유효 기간", "만료일", "만료 일자", "유효기한", "만기", "만료"),
    "연회비": ("연간 회비", "년회비", "연 회비", "회비"),
    "해지": ("탈회", "해약", "없애다", "카드 정리"),
    "재발급": ("재발행", "다시 발급", "다시 만들다", "재 발급"),
    "신규 발급": ("새로 만들다", "새로 발급", "처음 만들다", "새 카드 만들다", "카드 만들다", "신규 가입"),
    "훼손": ("손상", "파손", "부러지다", "깨지다", "구부러지다", "휘다", "금이 가다", "찢어지다", "망가지다"),
    "배송": ("택배", "배달", "우편 발송", "등기"),
    "부정 사용": (
        "도용",
        "부정사용",
        "모르는 결제",
        "모르는 가맹점",
        "안 쓴 결제",
        "안 한 결제",
        "결제 안 했다",
        "해킹",
        "무단 사용",
        "몰래 결제",
    ),
    "피싱": ("보이스피싱", "보이스 피싱", "사기 전화", "전화 사기"),
    "스미싱": ("문자 사기", "사기 문자", "문자 피싱", "피싱 문자", "스미씽"),
    "cvc": ("cvv", "씨브이씨", "시브이시", "보안 코드", "보안코드", "뒷면 세 자리", "뒷면 3자리", "카드 뒷면 번호"),
    "착오 송금": ("잘못 송금", "잘못 보내다", "송금 잘못", "잘못 이체", "잘못 입금", "착오송금", "엉뚱한 계좌"),
    "환불": ("돌려받다", "환급", "돌려주다", "돈 돌려받다"),
    "취소": ("cancel",),
    "운영 시간": (
        "영업시간",
        "영업 시간",
        "운영시간",
        "상담 시간",
        "상담시간",
        "업무 시간",
        "근무 시간",
        "몇 시까지",
        "몇 시",
    ),
    "방문": ("찾아가다", "창구", "지점", "영업점"),
    "민원": ("불만", "컴플레인", "항의", "불편 신고"),
    "대기": ("기다리다", "대기 시간"),
    "챗봇": ("봇", "chatbot", "자동 응답"),
    "이메일": ("메일", "email", "e메일", "전자 우편"),
    "선결제": ("미리 결제", "미리 내다", "먼저 결제", "즉시 결제", "중도 결제", "미리 갚다"),
    "현금서비스": ("단기카드대출", "단기 카드 대출"),
    "카드론": ("장기카드대출", "장기 카드 대출"),
    "간편결제": (
        "삼성페이",
        "애플페이",
        "카카오페이",
        "네이버페이",
        "간편 결제",
        "삼페",
        "삼성 페이",
        "애플 페이",
        "카카오 페이",
        "네이버 페이",
        "samsung pay",
        "apple pay",
    ),
    "변경": ("바꾸다", "바뀌다", "수정"),
    "확인": ("조회", "알아보다"),
    "해외": ("외국", "국외", "해외여행"),
    "차단": ("막다", "잠그다", "잠금"),
    "해제": ("풀다", "풀리다", "재개"),
    "로그인": ("login", "로그 인", "접속"),
    "문자": ("sms", "메시지", "메세지"),
    "계좌": ("통장", "은행 계좌"),
    "소멸": ("사라지다", "없어지다", "날아가다"),
    "미배송": ("먹튀", "물건 안 오다", "상품 안 오다"),
    "칩": ("chip",),
    "주말": ("토요일", "일요일", "토일"),
    "이벤트": ("프로모션", "행사"),
    "한도 상향": ("한도 올리다", "한도 늘리다", "한도 높이다", "한도 증액"),
    "한도 하향": ("한도 낮추다", "한도 줄이다", "한도 감액"),
    "상담원 연결": ("사람이랑 통화", "사람하고 통화", "사람과 통화", "사람 연결"),
}


# general word → specific words that also mean it. The specific word is kept and the general one added
# (카카오페이 → 카카오페이 + 간편결제), so a search for the brand still prefers the page naming it.
BUILTIN_EXPANSIONS: Mapping[str, tuple[str, ...]] = {
    "간편결제": (
        "삼성페이",
        "삼성 페이",
        "삼페",
        "samsung pay",
        "애플페이",
        "애플 페이",
        "apple pay",
        "카카오페이",
        "카카오 페이",
        "네이버페이",
        "네이버 페이",
    ),
    "피싱": ("검찰 사칭", "경찰 사칭", "금감원 사칭"),
    "해외 결제": ("해외직구", "해외 직구", "직구"),
}


def builtin_entries() -> list[tuple[str, str]]:
    """The built-in replacements as (term, canonical) pairs."""
    return [(variant, canonical) for canonical, variants in BUILTIN_SYNONYMS.items() for variant in variants]


def builtin_expansions() -> list[tuple[str, str]]:
    """The built-in expansions as (specific term, general word added beside it) pairs."""
    return [(variant, general) for general, variants in BUILTIN_EXPANSIONS.items() for variant in variants]


_VERB_TAGS = frozenset({"VV", "VA"})


def word_class(tag: str) -> str:
    """A coarse part of speech, so a one-word entry 막다 (to block) does not catch the adverb 막 (just)."""
    if tag in _VERB_TAGS:
        return "V"
    if tag in ("MAG", "MM"):
        return "M"
    if tag in ("XPN", "XSN"):
        return "A"
    return "N"


def _entry_texts(text: str) -> tuple[str, ...]:
    """Ways to analyse an entry: a verb in dictionary form (막다) reads better as 막고 to Kiwi."""
    if len(text) > 1 and text.endswith("다"):
        return (text, text[:-1] + "고")
    return (text,)


def _analyse_entries(analyzer: Analyzer, texts: list[str]) -> dict[str, list[Morph]]:
    variants = sorted({v for t in texts for v in _entry_texts(t)})
    analysed = dict(zip(variants, analyzer.analyze_many(variants), strict=True))
    out: dict[str, list[Morph]] = {}
    for text in texts:
        options = _entry_texts(text)
        chosen = analysed[options[0]]
        if len(options) == 2:
            as_verb = analysed[options[1]]
            if as_verb and as_verb[-1].tag in _VERB_TAGS:
                chosen = as_verb
        out[text] = chosen
    return out


@dataclass(frozen=True, slots=True)
class _Entry:
    target: tuple[Morph, ...]
    keep: bool  # an expansion keeps the words it matched and adds the target after them


@dataclass(frozen=True, slots=True)
class SynonymMap:
    """Analysed entries: a sequence of morph forms → the canonical morphs that replace it.

    One-morph entries are keyed by form and word class (``막/V``); longer ones by their forms. A
    one-word entry is also keyed as written (애플페이), since Kiwi may read it whole in a sentence
    and in pieces on its own.
    """

    table: dict[tuple[str, ...], _Entry]
    lengths_by_first: dict[str, tuple[int, ...]]
    single_words: dict[str, tuple[str, ...]]  # one-word variants, for typo correction: 캐쉬백 → (캐시백,)

    @classmethod
    def empty(cls) -> SynonymMap:
        return cls({}, {}, {})

    @classmethod
    def build(
        cls,
        analyzer: Analyzer,
        entries: Iterable[tuple[str, str]],
        expansions: Iterable[tuple[str, str]] = (),
    ) -> SynonymMap:
        """Analyse every entry; later entries override earlier ones with the same term."""
        pairs = [(normalize_text(t).strip(), normalize_text(c).strip(), False) for t, c in entries]
        pairs += [(normalize_text(t).strip(), normalize_text(c).strip(), True) for t, c in expansions]
        pairs = [(t, c, keep) for t, c, keep in pairs if t and c]
        analysed = _analyse_entries(analyzer, sorted({t for t, _, _ in pairs} | {c for _, c, _ in pairs}))
        raw: dict[tuple[str, ...], _Entry] = {}
        for term, canonical, keep in pairs:
            morphs = analysed[term]
            target = tuple(analysed[canonical])
            if not morphs or not target or [m.form for m in morphs] == [m.form for m in target]:
                continue
            raw[_key(morphs)] = _Entry(target, keep)
            if " " not in term and len(morphs) > 1:
                raw.setdefault((f"{term}/N",), _Entry(target, keep))
        draft = cls._index(raw)
        # A canonical that itself contains a variant is resolved once, so articles and queries agree.
        table = {key: _Entry(tuple(draft.apply(list(e.target))), e.keep) for key, e in raw.items()}
        return cls._index(table)

    @classmethod
    def _index(cls, table: dict[tuple[str, ...], _Entry]) -> SynonymMap:
        lengths: dict[str, set[int]] = {}
        singles: dict[str, tuple[str, ...]] = {}
        for key, entry in table.items():
            if len(key) == 1:
                form, cls_ = key[0].rsplit("/", 1)
                lengths.setdefault(form, set()).add(1)
                if cls_ == "N" and not entry.keep:
                    singles[form] = tuple(m.form for m in entry.target)
            else:
                lengths.setdefault(key[0], set()).add(len(key))
        return cls(table, {f: tuple(sorted(ls, reverse=True)) for f, ls in lengths.items()}, singles)

    def __len__(self) -> int:
        return len(self.table)

    def apply(self, morphs: list[Morph]) -> list[Morph]:
        """Replace (or expand) every longest match, left to right; added words take the matched span."""
        if not self.table:
            return morphs
        out: list[Morph] = []
        i = 0
        n = len(morphs)
        lengths_by_first = self.lengths_by_first
        table = self.table
        while i < n:
            entry = None
            length = 0
            candidates = lengths_by_first.get(morphs[i].form, ())
            if candidates and i and morphs[i - 1].tag == "XPN" and morphs[i - 1].end == morphs[i].start:
                candidates = ()  # a prefix changes the word: 재 + 발급 is not 발급
            for length in candidates:
                if i + length <= n:
                    entry = table.get(_key(morphs[i : i + length]))
                    if entry is not None:
                        break
            if entry is None:
                out.append(morphs[i])
                i += 1
                continue
            start, end = morphs[i].start, morphs[i + length - 1].end
            if entry.keep:
                out.extend(morphs[i : i + length])
            out.extend(Morph(m.form, m.tag, start, end) for m in entry.target)
            i += length
        return out


def _key(morphs: list[Morph]) -> tuple[str, ...]:
    if len(morphs) == 1:
        return (f"{morphs[0].form}/{word_class(morphs[0].tag)}",)
    return tuple(m.form for m in morphs)
