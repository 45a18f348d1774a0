"""The privacy guard: find and mask sensitive data in free text typed by customers and agents.

``detect_sensitive`` returns the spans; ``mask_sensitive`` returns the masked text with them;
``customer_notice`` tells the customer what was hidden.  Every rule works on a normalized copy of
the text (full-width ``０-９``/ASCII, full-width space, Unicode dashes folded one character for one
character), so spans always refer to the original text.

Rules
-----
card_number
    13–19 digits, contiguous or in groups joined by one kind of single separator (space, ``-``,
    ``.``): 4-4-4-4 (and 4-4-4-x / 4-4-4-4-x), Amex 4-6-5, Diners 4-6-4; Luhn-valid.  A number
    never matches inside a longer digit run, nor as part of a longer ``-``/``.`` chain (receipt
    numbers, dates), except that a trailing 3–4 digit group (``4111-…-1111-123``) is read as the
    CVC.  Masked as ``****-****-****-1234``: only the last four digits and the separators remain.
cvc
    A 3–4 digit code within about 25 characters after a card number (gap may hold only spaces,
    ``/``, ``,``, ``:``, an expiry date such as ``12/27`` and words like "cvc", "뒤 3자리",
    "보안코드"), or after a keyword anywhere (CVC, CVV, CVC2, CSC, 씨브이씨, 보안코드,
    카드 뒷면 3자리).  Masked with one ``*`` per character.
rrn
    Resident (and foreigner) registration numbers ``YYMMDD-GNNNNNN`` where YYMMDD is a real date in
    the century given by G (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s).  Numbers issued since October
    2020 carry no checksum, so a real date plus gender digit is enough when the two parts are
    separated (hyphen or space) or a keyword (주민번호, 주민등록번호, 외국인등록번호, 생년월일 ...)
    comes shortly before.  *Choice for a bare 13-digit run without keyword*: it is an RRN when the
    date and gender digit are valid AND (the pre-2020 checksum is valid OR the run is not
    Luhn-valid).  The only 13-digit runs left out are Luhn-valid ones with a wrong RRN checksum:
    those are read as 13-digit card numbers, so they are masked either way.  Also masked: the back
    part alone after "주민번호 뒷자리" / "생년월일 뒤", and half-masked forms like ``900101-1******``.
    Masked as ``******-*******`` (nothing kept: birth date plus gender identifies a person).
password
    A keyword (비밀번호, 비번, 결제비밀번호, 패스워드, 암호, 핀번호, password, passwd, pwd, pw, PIN)
    then optional particles/punctuation (은/는/이/가/을/를/요/은요/:/=/"4자리는" ...) then a value: a
    run of printable ASCII (any length from 4; a Korean word right after the keyword is never a
    value, so "비밀번호를 잊어버렸어요" stays).  The value must hold a digit or ASCII letter, must
    not be a common English word ("password reset") and must not look already masked.  "앞 두자리"
    (the first two PIN digits) takes a two-digit value.  Always replaced by ``****`` (the length is
    not leaked).  Trailing sentence punctuation (``.,?)``) is left in place.
account_number
    A keyword (계좌, 계좌번호, 입금계좌, 통장, 은행 or a bank name: 국민, 신한, 우리, 하나, 농협,
    기업, 카카오뱅크, 토스뱅크, 케이뱅크, 새마을, 우체국, SC제일 ...) followed within 15 characters
    by 10–16 digits in hyphenated groups (``110-123-456789``, ``123456-01-234567``) or contiguous
    (space-separated groups only after 계좌/통장: 우리/하나 are ordinary words too).  Phone numbers
    (``010-1234-5678``, ``02-123-4567``) and amounts (``…원``) are not accounts.  A bare 13-digit run
    after an account keyword is the account, not an RRN.  Masked like a card: last four digits and
    hyphens kept.

Overlaps are resolved longest span first (hiding more is the safer mistake), then by kind
(rrn, card_number, account_number, cvc, password).  A candidate inside a chosen span is dropped;
one that only partly overlaps is merged into it, so no fragment of a number is left in clear.

Idempotence: masking masked text changes nothing.  Masks leave stars, at most four digits after
them, and ``****`` for passwords; a group of at most four digits glued after ``*`` (``**6789``,
``****-1234``) is treated as the remains of a mask and never starts a card, keyword gaps may not
cross ``*``, and ``***``-tokens are never password values.  The price: a card number typed in
groups right after a ``*`` (``*4111 1111 1111 1111``) is taken for an already masked one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

Kind = Literal["card_number", "cvc", "rrn", "password", "account_number"]

KIND_LABELS_KO: dict[str, str] = {
    "card_number": "카드번호",
    "cvc": "CVC",
    "rrn": "주민등록번호",
    "password": "비밀번호",
    "account_number": "계좌번호",
}

KIND_LABELS_EN: dict[str, str] = {
    "card_number": "card number",
    "cvc": "CVC",
    "rrn": "resident registration number",
    "password": "password",
    "account_number": "account number",
}

PASSWORD_MASK = "****"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of sensitive data: its kind and its span ``text[start:end]`` in the original text."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MaskResult:
    """The masked text and what was found in the original."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.findings)

    @property
    def masked(self) -> bool:
        return bool(self.findings)


# --- checksums --------------------------------------------------------------------------------

_ASCII_DIGITS = frozenset("0123456789")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of ASCII digits; anything else (or nothing) is not valid."""
    if not digits or not set(digits) <= _ASCII_DIGITS:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def rrn_checksum_valid(digits13: str) -> bool:
    """The pre-October-2020 check digit of a registration number (13 ASCII digits, no hyphen).

    Citizens: ``(11 - s % 11) % 10``; foreigners (gender digit 5–8) also accept the foreigner
    variant ``(13 - s % 11) % 10``, where ``s`` is the weighted sum of the first twelve digits.
    """
    if len(digits13) != 13 or not set(digits13) <= _ASCII_DIGITS:
        return False
    s = sum(w * (ord(c) - 48) for w, c in zip(_RRN_WEIGHTS, digits13, strict=False))
    check = ord(digits13[12]) - 48
    if check == (11 - s % 11) % 10:
        return True
    return digits13[6] in "5678" and check == (13 - s % 11) % 10


_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}


def _birth_date_ok(front6: str, gender: str) -> bool:
    century = _CENTURY.get(gender)
    if century is None:
        return False
    try:
        date(century + int(front6[:2]), int(front6[2:4]), int(front6[4:6]))
    except ValueError:
        return False
    return True


# --- normalization ----------------------------------------------------------------------------

_NORMALIZE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
_NORMALIZE.update({0x3000: 0x20, 0x00A0: 0x20, 0x2007: 0x20, 0x202F: 0x20})
_NORMALIZE.update({cp: 0x2D for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212)})


def _normalize(text: str) -> str:
    """Fold full-width characters and dashes; one character for one character (spans stay valid)."""
    return text.translate(_NORMALIZE)


# --- shared pieces ----------------------------------------------------------------------------

_FLAGS = re.IGNORECASE | re.ASCII
# Numbers followed by these are amounts, dates or counts, not codes.
_UNITS = r"(?!\s*(?:원|만|천|억|년|개월|회|번째|건|명|%|퍼센트|달러|불))"
# Tokens the masks leave behind (``****-****-1234``, ``**6789``): never a password.
_MASK_SHAPE = re.compile(r"[*\-. ]*\*[*\-. ]*[0-9]{0,4}")
# Plain English words that follow "password"/"PIN" in sentences, never values.
# fmt: off
_ENGLISH_WORDS = frozenset({
    "again", "also", "and", "app", "apps", "bank", "card", "change", "changed", "changing", "check",
    "code", "correct", "does", "email", "enter", "entered", "error", "expired", "find", "forgot",
    "forgotten", "from", "have", "help", "here", "hint", "incorrect", "input", "invalid", "issue",
    "kakao", "link", "lock", "locked", "login", "mine", "mobile", "must", "naver", "need", "needs",
    "new", "number", "old", "online", "only", "otp", "pass", "payco", "please", "policy", "problem",
    "reset", "rule", "rules", "same", "setting", "settings", "should", "sms", "still", "thanks",
    "that", "the", "this", "toss", "type", "update", "used", "what", "when", "where", "which",
    "will", "with", "wrong", "your",
})
# fmt: on


# --- card numbers -----------------------------------------------------------------------------

# A chain of digit groups joined by single separators.  Masks leave groups of stars, optionally
# followed by at most four digits (``****``, ``**6789``); such groups keep their place in the chain,
# so a masked text has the chain shape it had before masking, but can never be part of a card.
_CHAIN = re.compile(r"(?<![0-9*])[0-9*]+(?:[ .\-][0-9*]+)*+")
_GROUP = re.compile(r"\**[0-9]+|\*+")  # "123**4567" is two groups, glued (not joined)


def _card_shape(sizes: list[int]) -> bool:
    if not 13 <= sum(sizes) <= 19:
        return False
    if len(sizes) == 1:
        return True
    if tuple(sizes) in ((4, 6, 5), (4, 6, 4)):
        return True
    return len(sizes) >= 4 and all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _is_card(norm: str, groups: list[tuple[int, int]]) -> bool:
    if not _card_shape([b - a for a, b in groups]):
        return False
    return luhn_valid("".join(norm[a:b] for a, b in groups))  # a '*' makes it invalid


def _is_mask_tail(norm: str, groups: list[tuple[int, int]], seps: list[str], i: int) -> bool:
    """Whether group ``i`` ends an already masked card (``**** **** **** 1234``): not a new start."""
    clear = 0
    for k in range(i, max(-1, i - 5), -1):
        if k < i and seps[k] != " ":
            return False
        part = norm[groups[k][0] : groups[k][1]]
        clear += sum(c != "*" for c in part)
        if clear > 4:
            return False
        if k < i and set(part) == {"*"} and _card_shape([b - a for a, b in groups[k : i + 1]]):
            return True
    return False


def _card_spans(norm: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for chain in _CHAIN.finditer(norm):
        groups: list[tuple[int, int]] = []
        seps: list[str] = []  # seps[i] joins groups i and i+1; "" means not joined
        for g in _GROUP.finditer(norm, chain.start(), chain.end()):
            a, b = g.span()
            if groups:
                seps.append(norm[groups[-1][1]] if groups[-1][1] < a else "")
            stars = len(g.group()) - len(g.group().lstrip("*"))
            if stars and b - a - stars > 4:  # too many digits for a mask's remains: a fresh number
                a += stars
                if seps:
                    seps[-1] = ""
            groups.append((a, b))
        n = len(groups)
        in_hard_run = [False] * n
        i = 0
        while i < n - 1:
            if seps[i] not in ("-", "."):
                i += 1
                continue
            j = i
            while j < n - 1 and seps[j] == seps[i]:
                j += 1
            run = groups[i : j + 1]
            for k in range(i, j + 1):
                in_hard_run[k] = True
            # A hyphen/dot run is a card only as a whole, or as a whole minus a trailing CVC group.
            last = run[-1][1] - run[-1][0]
            if 3 <= last <= 4 and _is_card(norm, run[:-1]):
                spans.append((run[0][0], run[-2][1]))
            elif _is_card(norm, run):
                spans.append((run[0][0], run[-1][1]))
            i = j
        # Space-joined (or lone) groups outside hyphen/dot runs: the shortest valid window wins.
        i = 0
        while i < n:
            if in_hard_run[i] or _is_mask_tail(norm, groups, seps, i):
                i += 1
                continue
            j = i
            found = -1
            width = 0
            while j < n and not in_hard_run[j] and (j == i or seps[j - 1] == " "):
                width += groups[j][1] - groups[j][0]
                if width > 19:
                    break
                if width >= 13 and _is_card(norm, groups[i : j + 1]):
                    found = j
                    break
                j += 1
            if found >= 0:
                spans.append((groups[i][0], groups[found][1]))
                i = found + 1
            else:
                i += 1
    return spans


# --- CVC --------------------------------------------------------------------------------------

_CODE = r"(?<![0-9A-Za-z*])(?P<code>[0-9]{3,4})(?![0-9A-Za-z]|[-.,/][0-9*])" + _UNITS
_CVC_WORD = (
    r"(?<![A-Za-z])(?:cvc2?|cvv2?|csc)(?![A-Za-z])|씨\s*브이\s*씨|시\s*브이\s*시|보안\s*코드"
    r"|(?:카드\s*)?뒷\s*면\s*(?:의\s*)?(?:번호\s*)?(?:[34]|세|네)\s*자리|뒷\s*면\s*번호"
)
_CVC_AFTER_KEYWORD = re.compile(rf"(?:{_CVC_WORD})(?:[34]\s*자리|[^0-9*\n.?!]){{0,20}}?(?<![0-9*][-.,]){_CODE}", _FLAGS)
_EXPIRY = r"(?:[0-9]{2}\s*/\s*[0-9]{2}(?:[0-9]{2})?|(?:0[1-9]|1[0-2])[0-9]{2}(?=[\s/,]+[0-9]{3,4}(?![0-9])))"
_AFTER_CARD_ITEM = (
    rf"\s++|[/,:;()\[\]=|~_\-]|{_CVC_WORD}|(?:카드\s*)?(?:뒷\s*면|뒷|뒤)\s*(?:번호\s*)?(?:[34]|세|네)?\s*자리"
    rf"|뒷\s*면|뒤에?|번호|유효\s*기간|만료일?|exp(?:iry)?|valid(?:\s*thru)?|이고요?|이구요?|이며|그리고|and"
    rf"|[은는이가요]|{_EXPIRY}"
)
_CVC_AFTER_CARD = re.compile(rf"(?:{_AFTER_CARD_ITEM}){{0,10}}?{_CODE}", _FLAGS)
_AFTER_CARD_REACH = 30


def _cvc_spans(norm: str, card_spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans = [m.span("code") for m in _CVC_AFTER_KEYWORD.finditer(norm)]
    for _, end in card_spans:
        m = _CVC_AFTER_CARD.match(norm, end)
        if m and m.start("code") - end <= _AFTER_CARD_REACH:
            spans.append(m.span("code"))
    return spans


# --- resident registration numbers ------------------------------------------------------------

_RRN = re.compile(
    r"(?<![0-9])(?<![0-9*][-.])(?P<front>[0-9]{6})(?P<sep>[ \-]?)"
    r"(?P<back>[1-8](?:[0-9]{6}|\*{6}(?!\*)))(?![0-9]|[-.][0-9*])"
)
_RRN_KEYWORD_BEFORE = re.compile(
    r"(?:주민|외국인\s*등록|거소\s*신고|생년\s*월일|(?<![A-Za-z])rrn(?![A-Za-z])|resident)[^0-9*\n]{0,15}$",
    _FLAGS,
)
_RRN_BACK_ONLY = re.compile(
    r"(?:주민|외국인\s*등록|생년\s*월일)[^*\n]{0,20}?(?:뒷\s*자리|뒷\s*번호|뒤\s*(?:7|일곱)?\s*자리|뒤에?)"
    r"[^0-9*\n]{0,10}?(?<![0-9])(?P<back>[1-8][0-9]{6})(?![0-9]|[-.][0-9*])",
    _FLAGS,
)


def _rrn_spans(norm: str) -> tuple[list[tuple[int, int]], set[tuple[int, int]]]:
    """RRN spans, and the subset found only by shape (bare 13 digits, no keyword): "weak" ones."""
    spans: list[tuple[int, int]] = []
    weak: set[tuple[int, int]] = set()
    for m in _RRN.finditer(norm):
        front, sep, back = m.group("front", "sep", "back")
        if not _birth_date_ok(front, back[0]):
            continue
        if "*" in back:  # "900101-1******": birth date and gender still shown
            if sep == "-":
                spans.append(m.span())
            continue
        keyword = _RRN_KEYWORD_BEFORE.search(norm, max(0, m.start() - 40), m.start()) is not None
        digits = front + back
        if sep or keyword:
            spans.append(m.span())
        elif rrn_checksum_valid(digits) or not luhn_valid(digits):
            spans.append(m.span())
            weak.add(m.span())
    spans.extend(m.span("back") for m in _RRN_BACK_ONLY.finditer(norm))
    return spans, weak


# --- passwords --------------------------------------------------------------------------------

_PW_WORD = (
    r"결제\s*비밀\s*번호|간편\s*비밀\s*번호|비밀\s*번호|비번|패스\s*워드|암호|핀\s*번호"
    r"|(?<![A-Za-z])(?:password|passwd|passcode|pwd|pw|pin)(?![A-Za-z])"
)
_PW_SEP = r"[\s:=\-~>\"'(\[<]"
_PW_PARTICLE = r"(?:은요|는요|이요|이에요|예요|은|는|이|가|을|를|도|요|(?:is|was)(?![A-Za-z]))"
_PW_NOUN = r"(?:번호|넘버|(?:code|number|num|no\.?)(?![A-Za-z]))"
_PW_LENGTH = r"(?:[0-9]{1,2}|네|여섯|여덟)\s*자리(?:\s*숫자)?"
_PW_CONNECTOR = (
    rf"{_PW_SEP}*(?:{_PW_NOUN}{_PW_SEP}*)?(?:{_PW_PARTICLE}{_PW_SEP}*)?"
    rf"(?:{_PW_LENGTH}{_PW_SEP}*(?:{_PW_PARTICLE}{_PW_SEP}*)?)?"
)
_PASSWORD = re.compile(rf"(?:{_PW_WORD}){_PW_CONNECTOR}(?P<value>[!-~]+)", _FLAGS)
_PIN_FIRST_TWO = re.compile(
    rf"앞\s*(?:두|2)\s*자리{_PW_CONNECTOR}(?<![0-9*])(?P<value>[0-9]{{2}})(?![0-9A-Za-z])", _FLAGS
)
_LEAD_PUNCT = ":=-~>\"'([<"
_TRAIL_PUNCT = ".,?)]>\"'~"
_PW_UNITS = re.compile(r"\s*(?:년|원|회|개월|시간|자리)")


def _password_spans(norm: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _PASSWORD.finditer(norm):
        start, end = m.span("value")
        while start < end and norm[start] in _LEAD_PUNCT:
            start += 1
        while end > start and norm[end - 1] in _TRAIL_PUNCT:
            end -= 1
        value = norm[start:end]
        if len(value) < 4 or not any(c.isalnum() for c in value):
            continue
        if "***" in value or _MASK_SHAPE.fullmatch(value):
            continue
        if value.isalpha() and value.lower() in _ENGLISH_WORDS:
            continue
        if value.isdigit() and _PW_UNITS.match(norm, end):
            continue
        spans.append((start, end))
    spans.extend(m.span("value") for m in _PIN_FIRST_TWO.finditer(norm))
    return spans


# --- account numbers --------------------------------------------------------------------------

_BANK = (
    r"국민|신한|우리|하나|농협|기업|카카오\s*뱅크|카뱅|토스\s*뱅크|케이\s*뱅크|새마을(?:\s*금고)?|우체국"
    r"|SC\s*제일|제일|씨티|수협|신협|산업|부산|대구|경남|광주|전북|제주|아이엠\s*뱅크"
    r"|(?<![A-Za-z])(?:KB|NH|IBK|SC|iM)(?![A-Za-z])"
)
_ACCOUNT = re.compile(
    rf"(?:계좌|통장|은행|{_BANK})[^0-9*\n]{{0,15}}?(?<![0-9*])(?<![0-9*][-.])(?P<num>"
    r"[0-9]{2,6}(?:-[0-9]{1,7}){1,4}(?![0-9]|[-.][0-9*])"
    r"|[0-9]{2,6}(?: [0-9]{1,7}){1,4}(?![0-9]|[-. ][0-9*])"
    rf"|[0-9]{{10,16}}(?![0-9]|[-.][0-9*])){_UNITS}",
    _FLAGS,
)
_PHONE = re.compile(r"0[0-9]{1,2}([- ])[0-9]{3,4}\1[0-9]{4}|0[0-9]{9,10}")


def _account_spans(norm: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _ACCOUNT.finditer(norm):
        num = m.group("num")
        if not 10 <= sum(c.isdigit() for c in num) <= 16 or _PHONE.fullmatch(num):
            continue
        lead = norm[m.start() : m.start("num")]
        if " " in num and "계좌" not in lead and "통장" not in lead:
            continue  # space-separated groups need 계좌/통장 (a bank name like 우리/하나 is too weak)
        spans.append(m.span("num"))
    return spans


# --- public API -------------------------------------------------------------------------------

_PRIORITY: dict[str, int] = {"rrn": 0, "card_number": 1, "account_number": 2, "cvc": 3, "password": 4}
# How a span is hidden; when spans merge, the stronger style (higher number) applies to the union.
_KEEP_LAST_FOUR, _STARS, _ALL_DIGITS, _FIXED = 0, 1, 2, 3
_STYLE: dict[str, int] = {
    "card_number": _KEEP_LAST_FOUR,
    "account_number": _KEEP_LAST_FOUR,
    "cvc": _STARS,
    "rrn": _ALL_DIGITS,
    "password": _FIXED,
}


@dataclass(frozen=True, slots=True)
class _Hit:
    finding: Finding
    style: int


def _hits(text: str) -> list[_Hit]:
    norm = _normalize(text)
    cards = _card_spans(norm)
    accounts = _account_spans(norm)
    rrns, weak_rrns = _rrn_spans(norm)
    candidates = [Finding("card_number", a, b) for a, b in cards]
    # A bare 13-digit run right after an account keyword is the account the customer meant.
    candidates += [Finding("rrn", a, b) for a, b in rrns if (a, b) not in weak_rrns or (a, b) not in accounts]
    candidates += [Finding("account_number", a, b) for a, b in accounts]
    candidates += [Finding("cvc", a, b) for a, b in _cvc_spans(norm, cards)]
    candidates += [Finding("password", a, b) for a, b in _password_spans(norm)]
    # Longest first, then by kind.  A candidate inside a chosen span is dropped; one that only
    # partly overlaps is merged into it (the union keeps the chosen kind and the stronger style),
    # so no fragment of a number is ever left in clear.
    candidates.sort(key=lambda f: (f.start - f.end, _PRIORITY[f.kind], f.start))
    chosen: list[_Hit] = []  # disjoint, sorted by position
    starts: list[int] = []
    ends: list[int] = []
    for cand in candidates:
        lo, hi = bisect_right(ends, cand.start), bisect_left(starts, cand.end)
        touching = chosen[lo:hi]
        if any(h.finding.start <= cand.start and cand.end <= h.finding.end for h in touching):
            continue
        if touching:
            winner = max(touching, key=lambda h: (h.finding.end - h.finding.start, -_PRIORITY[h.finding.kind]))
            start = min(cand.start, touching[0].finding.start)
            end = max(cand.end, touching[-1].finding.end)
            parts = [cand.kind, *(h.finding.kind for h in touching)]
            style = max(_STYLE[k] for k in parts)
            if style == _STARS and any(k != "cvc" for k in parts):
                style = _ALL_DIGITS
            hit = _Hit(Finding(winner.finding.kind, start, end), style)
        else:
            hit = _Hit(cand, _STYLE[cand.kind])
        chosen[lo:hi] = [hit]
        starts[lo:hi] = [hit.finding.start]
        ends[lo:hi] = [hit.finding.end]
    return chosen


def detect_sensitive(text: str) -> tuple[Finding, ...]:
    """All sensitive spans in ``text``, sorted by position and never overlapping."""
    return tuple(h.finding for h in _hits(text))


def _mask_digits(original: str, norm: str, keep_last: int) -> str:
    positions = [i for i, c in enumerate(norm) if c in _ASCII_DIGITS]
    kept = set(positions[len(positions) - keep_last :]) if keep_last else set()
    return "".join("*" if (c in _ASCII_DIGITS and i not in kept) else original[i] for i, c in enumerate(norm))


def _replacement(style: int, original: str, norm: str) -> str:
    if style == _FIXED:
        return PASSWORD_MASK
    if style == _STARS:
        return "*" * len(original)
    if style == _ALL_DIGITS:
        return _mask_digits(original, norm, 0)
    return _mask_digits(original, norm, 4)


def mask_sensitive(text: str) -> MaskResult:
    """Mask every finding of ``detect_sensitive``; masking the result again changes nothing."""
    hits = _hits(text)
    if not hits:
        return MaskResult(text, ())
    norm = _normalize(text)
    out: list[str] = []
    pos = 0
    for hit in hits:
        f = hit.finding
        out.append(text[pos : f.start])
        out.append(_replacement(hit.style, text[f.start : f.end], norm[f.start : f.end]))
        pos = f.end
    out.append(text[pos:])
    return MaskResult("".join(out), tuple(h.finding for h in hits))


# --- customer notice --------------------------------------------------------------------------


def _topic_particle(word: str) -> str:
    """은 after a final consonant, 는 after a vowel (ASCII words: read as Korean letter names)."""
    last = word[-1]
    if "가" <= last <= "힣":
        return "은" if (ord(last) - 0xAC00) % 28 else "는"
    return "은" if last.lower() in "lmnr" else "는"


def _english_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def customer_notice(kinds: Iterable[str], language: str = "ko", *, company: str | None = None) -> str:
    """Tell the customer which kinds of data were hidden, in Korean (default) or English.

    ``kinds`` are ``Kind`` values (e.g. ``MaskResult.kinds``); an empty set gives ``""``.
    ``language`` is ``"ko"`` or ``"en"`` (a region suffix such as ``ko-KR`` is accepted).
    ``company`` defaults to 한빛카드 / Hanbit Card.
    """
    wanted = set(kinds)
    unknown = wanted - KIND_LABELS_KO.keys()
    if unknown:
        raise ValueError(f"unknown sensitive-data kinds: {sorted(unknown)}")
    ordered = [k for k in KIND_LABELS_KO if k in wanted]
    lang = language.replace("_", "-").split("-")[0].lower()
    if lang not in ("ko", "en"):
        raise ValueError(f"unsupported language: {language!r}")
    if not ordered:
        return ""
    if lang == "ko":
        name = company or "한빛카드"
        labels = ", ".join(KIND_LABELS_KO[k] for k in ordered)
        return (
            f"개인정보 보호를 위해 보내주신 내용 중 {labels}{_topic_particle(labels)} 가려서 저장했습니다. "
            "카드번호·CVC·비밀번호·주민등록번호는 상담 채널로 보내지 마세요. "
            f"{name}{_topic_particle(name)} CVC와 비밀번호를 절대 묻지 않습니다."
        )
    name = company or "Hanbit Card"
    labels = _english_list([KIND_LABELS_EN[k] for k in ordered])
    return (
        f"To protect your personal information, we hid the {labels} in your message before saving it. "
        "Please do not send card numbers, CVCs, passwords or resident registration numbers through this "
        f"channel. {name} will never ask for your CVC or password."
    )
