"""The privacy guard: table-driven Korean cases plus Hypothesis properties."""

from __future__ import annotations

import itertools
import re
import string
from datetime import date

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sangdam.privacy.detect import (
    KIND_LABELS_KO,
    Finding,
    MaskResult,
    customer_notice,
    detect_sensitive,
    luhn_valid,
    mask_sensitive,
    rrn_checksum_valid,
)

# --- helpers ----------------------------------------------------------------------------------


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the one check digit that makes it Luhn-valid."""
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError("unreachable: exactly one check digit exists")


def rrn_complete(prefix12: str) -> str:
    s = sum(w * int(c) for w, c in zip((2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), prefix12, strict=True))
    return prefix12 + str((11 - s % 11) % 10)


def grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i : i + size])
        i += size
    return sep.join(parts)


def to_fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else ("－" if c == "-" else c) for c in text)


CARD = luhn_complete("943012345678123")  # a BC-style domestic card number, Luhn-valid
CARD_H = grouped(CARD, (4, 4, 4, 4), "-")
CARD_S = grouped(CARD, (4, 4, 4, 4), " ")
CARD_D = grouped(CARD, (4, 4, 4, 4), ".")
LAST4 = CARD[-4:]
MASKED_H = f"****-****-****-{LAST4}"
AMEX = "378282246310005"  # the classic Amex test number, 4-6-5
VISA13 = luhn_complete("422222222222")
RRN_OLD = rrn_complete("900101123456")  # issued before 2020: checksum valid
assert luhn_valid(CARD) and luhn_valid(AMEX) and luhn_valid(VISA13)
assert rrn_checksum_valid(RRN_OLD)


def masked(text: str) -> str:
    return mask_sensitive(text).text


def kinds(text: str) -> set[str]:
    return set(mask_sensitive(text).kinds)


# --- checksums --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        (CARD, True),
        (AMEX, True),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("0", True),
        ("", False),
        ("4111-1111-1111-1111", False),
        ("４１１１１１１１１１１１１１１１", False),
        ("abc", False),
    ],
)
def test_luhn_valid(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_rrn_checksum_valid() -> None:
    assert rrn_checksum_valid(RRN_OLD)
    bad = RRN_OLD[:-1] + str((int(RRN_OLD[-1]) + 1) % 10)
    assert not rrn_checksum_valid(bad)
    assert not rrn_checksum_valid(RRN_OLD[:6] + "-" + RRN_OLD[6:])
    assert not rrn_checksum_valid(RRN_OLD[:12])
    # foreigner registration numbers (gender digit 5-8) use the (13 - s % 11) % 10 variant
    prefix = "900101512345"
    s = sum(w * int(c) for w, c in zip((2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), prefix, strict=True))
    assert rrn_checksum_valid(prefix + str((13 - s % 11) % 10))


# --- card numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"카드번호 {CARD_H} 입니다", f"카드번호 {MASKED_H} 입니다"),
        (f"카드번호는 {CARD_H}이에요", f"카드번호는 {MASKED_H}이에요"),
        (f"카드번호{CARD}입니다", f"카드번호************{LAST4}입니다"),
        (f"{CARD_S} 로 결제했어요", f"**** **** **** {LAST4} 로 결제했어요"),
        (f"번호: {CARD_D}.", f"번호: ****.****.****.{LAST4}."),
        (f"아멕스 {grouped(AMEX, (4, 6, 5), '-')} 요", "아멕스 ****-******-*0005 요"),
        (f"아멕스 {grouped(AMEX, (4, 6, 5), ' ')}", "아멕스 **** ****** *0005"),
        (f"예전 카드 {VISA13}", f"예전 카드 *********{VISA13[-4:]}"),
        (f"카드 {to_fullwidth(CARD_H)} 분실", f"카드 ****－****－****－{to_fullwidth(LAST4)} 분실"),
        (f"(card:{CARD})", f"(card:************{LAST4})"),
    ],
)
def test_card_numbers_are_masked_keeping_last_four(text: str, expected: str) -> None:
    result = mask_sensitive(text)
    assert result.text == expected
    assert "card_number" in result.kinds


@pytest.mark.parametrize(
    "text",
    [
        "010-1234-5678로 연락 주세요",
        "고객센터 1588-0000 맞나요?",
        "결제일은 2026-11-22, 2026.11.22 이에요",
        "1,200,000원 결제됐어요",
        "접수번호 20261122-123456 확인 부탁드려요",
        "주문번호 1234567890123456 입니다",  # not Luhn-valid
        "1234-5678-9012-3456",  # not Luhn-valid
        "1234 5678 9012 3456 입니다",
        "2026년 11월 22일 오후 3시 15분",
    ],
)
def test_non_card_numbers_are_left_alone(text: str) -> None:
    assert masked(text) == text


def test_card_inside_longer_digit_run_is_not_a_card() -> None:
    suffixed = next(CARD + d for d in "0123456789" if not luhn_valid(CARD + d))
    prefixed = next(d + CARD for d in "123456789" if not luhn_valid(d + CARD))
    assert masked(f"주문번호 {suffixed}") == f"주문번호 {suffixed}"
    assert masked(f"주문번호 {prefixed}") == f"주문번호 {prefixed}"
    # a hyphenated receipt chain that merely contains four Luhn-valid groups
    receipt = f"2026-{CARD_H}-77"
    assert masked(receipt) == receipt


def test_overlapping_card_chains_are_merged_not_half_masked() -> None:
    first = grouped(CARD, (4, 4, 4, 4), ".")
    second = luhn_complete(CARD[-4:] + "12345678901")
    text = f"번호 {first}-{grouped(second[4:], (4, 4, 4), '-')} 입니다"
    result = mask_sensitive(text)
    assert result.text == f"번호 ****.****.****.****-****-****-{second[-4:]} 입니다"
    assert len(result.findings) == 1
    assert mask_sensitive(result.text).text == result.text


def test_already_masked_numbers_are_left_alone() -> None:
    for text in [
        f"고객님 카드 {MASKED_H} 확인됐습니다",
        "카드 **** **** **** 1234 / cvc ***",
        "계좌 ***-***-**6789",
        "주민번호 ******-*******",
        "비밀번호 ****",
    ]:
        assert masked(text) == text
    # digits glued behind a star-only group are a fresh number when there are more than four
    assert masked(f"카드**{CARD}") == f"카드**************{LAST4}"
    assert masked(f"{CARD}* 입니다") == f"************{LAST4}* 입니다"


def test_card_finding_span_points_into_original_text() -> None:
    text = f"제 카드는 {to_fullwidth(CARD_S)} 입니다"
    (finding,) = detect_sensitive(text)
    assert finding == Finding("card_number", 6, 6 + len(CARD_S))
    assert text[finding.start : finding.end] == to_fullwidth(CARD_S)


# --- CVC --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{CARD_H} 123", f"{MASKED_H} ***"),
        (f"{CARD_H} / 123", f"{MASKED_H} / ***"),
        (f"{CARD_H} cvc 456", f"{MASKED_H} cvc ***"),
        (f"{CARD_H} 12/27 789", f"{MASKED_H} 12/27 ***"),
        (f"{CARD_H} 유효기간 12/27 씨브이씨 789", f"{MASKED_H} 유효기간 12/27 씨브이씨 ***"),
        (f"{CARD_H} 뒤 3자리 321", f"{MASKED_H} 뒤 3자리 ***"),
        (f"{CARD_H}-123", f"{MASKED_H}-***"),
        (f"{CARD}/789", f"************{LAST4}/***"),
        (f"{CARD_S} 1234", f"**** **** **** {LAST4} ****"),
        (f"{CARD_S} 123 입니다", f"**** **** **** {LAST4} *** 입니다"),  # 16 + CVC, not a 19-digit card
        ("CVC는 123이에요", "CVC는 ***이에요"),
        ("cvc: 123", "cvc: ***"),
        ("CVV2 321 입력했어요", "CVV2 *** 입력했어요"),
        ("씨브이씨는 555요", "씨브이씨는 ***요"),
        ("보안코드: 4567", "보안코드: ****"),
        ("카드 뒷면 3자리 321", "카드 뒷면 3자리 ***"),
        ("카드 뒷면 세 자리는 321입니다", "카드 뒷면 세 자리는 ***입니다"),
        ("CVC 3자리는 987", "CVC 3자리는 ***"),
        ("CVC 번호 알려드릴게요 246", "CVC 번호 알려드릴게요 ***"),
    ],
)
def test_cvc_is_masked(text: str, expected: str) -> None:
    result = mask_sensitive(text)
    assert result.text == expected
    assert "cvc" in result.kinds


@pytest.mark.parametrize(
    "text",
    [
        "CVC가 뭐예요?",
        "CVC 입력 3번 틀렸어요",
        "cvc 오류로 1,000원 결제가 안 됐어요",
        "CVC 2024년에 바뀌나요",
        "카드 뒷면 서명란이 지워졌어요",
        "보안코드 1588-0000으로 문의",
        "123번 창구로 오세요",
        "cvc123abc",
        f"{CARD_H} 2027/12 만료",
        f"{CARD_H} 010-1234-5678",
        f"{CARD_H} 3000원",
    ],
)
def test_non_cvc_numbers_are_left_alone(text: str) -> None:
    assert mask_sensitive(text).kinds <= {"card_number"}


# --- resident registration numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("주민번호 900101-1234567", "주민번호 ******-*******"),
        ("주민등록번호는 900101-2234567이에요", "주민등록번호는 ******-*******이에요"),
        ("900101-1234567", "******-*******"),
        ("051231-4234567 입니다", "******-******* 입니다"),  # born 2005, issued after 2020: no checksum
        ("외국인등록번호 900101-5234567", "외국인등록번호 ******-*******"),
        ("주민번호 900101 1234567", "주민번호 ****** *******"),
        ("주민등록번호는 9001011234567", "주민등록번호는 *************"),
        (f"본인확인 {RRN_OLD}", "본인확인 *************"),  # bare 13 digits, checksum valid
        ("주민번호 뒷자리 1234567", "주민번호 뒷자리 *******"),
        ("생년월일 뒤 7자리는 2234567이요", "생년월일 뒤 7자리는 *******이요"),
        ("주민번호 900101-1******", "주민번호 ******-*******"),
        ("주민번호 ９００１０１－１２３４５６７", "주민번호 ******－*******"),
        ("200229-3234567", "******-*******"),  # 2000 was a leap year
    ],
)
def test_rrn_is_fully_masked(text: str, expected: str) -> None:
    result = mask_sensitive(text)
    assert result.text == expected
    assert result.kinds == {"rrn"}


@pytest.mark.parametrize(
    "text",
    [
        "901301-1234567",  # month 13
        "900230-1234567",  # 30 February
        "000229-1234567",  # 1900 was not a leap year
        "900101-9234567",  # gender digit 9
        "900101-0234567",  # gender digit 0
        "접수번호 20261122-123456",
        "900101-123456",  # back part too short
        "900101-12345678",  # back part too long
    ],
)
def test_non_rrn_numbers_are_left_alone(text: str) -> None:
    assert masked(text) == text


def test_bare_thirteen_digits_rule() -> None:
    """Date + gender valid: RRN unless Luhn-valid with a bad checksum (then it is a 13-digit card)."""
    bad_checksum = next(
        p for p in (RRN_OLD[:12] + d for d in "0123456789") if not rrn_checksum_valid(p) and not luhn_valid(p)
    )
    assert kinds(f"번호 {bad_checksum}") == {"rrn"}
    luhn_only = next(p for p in (RRN_OLD[:12] + d for d in "0123456789") if luhn_valid(p))
    if not rrn_checksum_valid(luhn_only):
        assert kinds(f"번호 {luhn_only}") == {"card_number"}
        assert kinds(f"주민번호 {luhn_only}") == {"rrn"}
    assert masked("번호 9013011234567") == "번호 9013011234567"  # no such date


# --- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("비밀번호는 1234예요", "비밀번호는 ****예요"),
        ("비밀번호 1234", "비밀번호 ****"),
        ("비번 0000", "비번 ****"),
        ("비번은요 5678", "비번은요 ****"),
        ("비번: abcd1234!", "비번: ****"),
        ("비밀번호가 qwer1234인데 안 돼요", "비밀번호가 ****인데 안 돼요"),
        ("비밀번호를 1234로 바꿨어요", "비밀번호를 ****로 바꿨어요"),
        ("비번 1234일 거예요", "비번 ****일 거예요"),
        ("결제비밀번호 123456", "결제비밀번호 ****"),
        ("간편 비밀번호는 135790", "간편 비밀번호는 ****"),
        ("비밀번호 4자리는 5678", "비밀번호 4자리는 ****"),
        ("비밀번호 앞 두자리 12", "비밀번호 앞 두자리 ****"),
        ("앞2자리는 34요", "앞2자리는 ****요"),
        ("핀번호는 9876", "핀번호는 ****"),
        ("PIN 0000", "PIN ****"),
        ("PIN번호 4321", "PIN번호 ****"),
        ("pin code 4321", "pin code ****"),
        ("password: hunter22.", "password: ****."),
        ("my password is Sup3rSecret", "my password is ****"),
        ("pw=qwer1234", "pw=****"),
        ("패스워드 : hanbit2024", "패스워드 : ****"),
        ('암호는 "abcd12"', '암호는 "****"'),
        ("비번 abcdefghijklmnopqrstuvwxyz0123456789", "비번 ****"),  # length never leaks
    ],
)
def test_password_values_are_masked(text: str, expected: str) -> None:
    result = mask_sensitive(text)
    assert result.text == expected
    assert result.kinds == {"password"}


@pytest.mark.parametrize(
    "text",
    [
        "비밀번호를 잊어버렸어요",
        "비밀번호 변경하고 싶어요",
        "비밀번호 5회 오류로 잠겼어요",
        "비밀번호 초기화는 어떻게 하나요?",
        "비번 6자리 맞죠?",
        "비밀번호 OTP 인증이 안 돼요",
        "비밀번호 2024년에 바꿨어요",
        "암호화 방식이 궁금해요",
        "password reset please",
        "forgot my PIN again",
        "spinning 1234 times",
        "카드 비밀번호는 절대 알려주지 마세요.",
        "비밀번호 ****",
    ],
)
def test_non_password_text_is_left_alone(text: str) -> None:
    assert masked(text) == text


# --- account numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("환불 계좌는 국민 123456-01-234567입니다", "환불 계좌는 국민 ******-**-**4567입니다"),
        ("신한 110-123-456789", "신한 ***-***-**6789"),
        ("신한은행 110-123-456789로 보내주세요", "신한은행 ***-***-**6789로 보내주세요"),
        ("카카오뱅크 3333-01-1234567 (예금주 홍길동)", "카카오뱅크 ****-**-***4567 (예금주 홍길동)"),
        ("입금계좌: 우리은행 1002-123-456789", "입금계좌: 우리은행 ****-***-**6789"),
        ("계좌번호 1002123456789", "계좌번호 *********6789"),
        ("토스뱅크로 1000-1234-5678 입금", "토스뱅크로 ****-****-5678 입금"),
        ("SC제일 123-45-678901", "SC제일 ***-**-**8901"),
        ("농협 302-1234-5678-21", "농협 ***-****-**78-21"),
        ("기업 123-456789-01-012", "기업 ***-******-*1-012"),
        ("환불 계좌 110 123 456789 홍길동", "환불 계좌 *** *** **6789 홍길동"),
        ("국민은행 통장 123456 01 234567", "국민은행 통장 ****** ** **4567"),
        ("계좌 110-123-456789 1234원도 보냈어요", "계좌 ***-***-**6789 1234원도 보냈어요"),
    ],
)
def test_account_numbers_keep_last_four(text: str, expected: str) -> None:
    result = mask_sensitive(text)
    assert result.text == expected
    assert result.kinds == {"account_number"}


@pytest.mark.parametrize(
    "text",
    [
        "우리 010-1234-5678로 연락 주세요",
        "하나 더 물어볼게요",
        "계좌로 1,200,000원 보냈어요",
        "계좌로 1200000000원 보냈어요",
        "국민카드 고객센터 1588-1688",
        "계좌이체 2026-11-22에 했어요",
        "은행 02-123-4567 지점",
        "주문번호 110-123-456789",  # no account keyword
        "신한 110 123 456789",  # spaced groups need 계좌/통장
        "계좌는 010 1234 5678",
    ],
)
def test_non_account_numbers_are_left_alone(text: str) -> None:
    assert masked(text) == text


# --- a whole conversation ---------------------------------------------------------------------


def test_mixed_message() -> None:
    text = (
        f"안녕하세요. 카드번호 {CARD_H} 유효기간 12/27 CVC 123 이고요, "
        "비밀번호는 4321이에요. 주민번호 900101-1234567, 환불은 신한 110-123-456789로 부탁드려요. "
        "연락처는 010-1234-5678, 결제금액 1,200,000원, 접수번호 20261122-123456입니다."
    )
    result = mask_sensitive(text)
    assert result.text == (
        f"안녕하세요. 카드번호 {MASKED_H} 유효기간 12/27 CVC *** 이고요, "
        "비밀번호는 ****이에요. 주민번호 ******-*******, 환불은 신한 ***-***-**6789로 부탁드려요. "
        "연락처는 010-1234-5678, 결제금액 1,200,000원, 접수번호 20261122-123456입니다."
    )
    assert result.kinds == {"card_number", "cvc", "password", "rrn", "account_number"}
    assert result.masked
    assert [f.kind for f in result.findings] == ["card_number", "cvc", "password", "rrn", "account_number"]
    assert text[result.findings[0].start : result.findings[0].end] == CARD_H
    assert mask_sensitive(result.text) == MaskResult(result.text, ())


def test_plain_text_is_untouched() -> None:
    text = "카드 분실 신고하려고요. 결제일 변경도 가능한가요? 1588-0000"
    result = mask_sensitive(text)
    assert result == MaskResult(text, ())
    assert not result.masked
    assert result.kinds == frozenset()
    assert mask_sensitive("") == MaskResult("", ())


# --- customer notice --------------------------------------------------------------------------


def test_customer_notice_korean() -> None:
    assert customer_notice(["cvc", "card_number"]) == (
        "개인정보 보호를 위해 보내주신 내용 중 카드번호, CVC는 가려서 저장했습니다. "
        "카드번호·CVC·비밀번호·주민등록번호는 상담 채널로 보내지 마세요. "
        "한빛카드는 CVC와 비밀번호를 절대 묻지 않습니다."
    )
    notice = customer_notice(frozenset({"rrn", "account_number"}), "ko-KR")
    assert "주민등록번호, 계좌번호는 가려서 저장했습니다" in notice
    assert customer_notice({"password"}, company="한빛은행").endswith("한빛은행은 CVC와 비밀번호를 절대 묻지 않습니다.")


def test_customer_notice_english_and_edge_cases() -> None:
    notice = customer_notice({"card_number", "cvc", "password"}, "en")
    assert "we hid the card number, CVC and password in your message" in notice
    assert notice.endswith("Hanbit Card will never ask for your CVC or password.")
    assert "the resident registration number in" in customer_notice(["rrn"], "en_US")
    assert customer_notice([]) == ""
    assert set(KIND_LABELS_KO) == {"card_number", "cvc", "rrn", "password", "account_number"}
    with pytest.raises(ValueError):
        customer_notice(["email"])
    with pytest.raises(ValueError):
        customer_notice(["cvc"], "ja")


def test_notice_from_mask_result() -> None:
    result = mask_sensitive(f"{CARD_H} cvc 123")
    assert "카드번호, CVC는" in customer_notice(result.kinds)


# --- properties -------------------------------------------------------------------------------

HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
KOREAN_TEXT = st.text(alphabet=st.one_of(HANGUL, st.sampled_from(" ,.?!~()\n")), max_size=30)
KEYWORDS = [
    "비번", "비밀번호", "비밀번호는 ", "pw ", "PIN", "cvc", "CVC ", "보안코드", "계좌", "신한 ", "국민",
    "주민번호 ", "생년월일 뒤 ", "앞 두자리 ", "카드번호 ", "유효기간 ", "뒤 3자리 ",
]  # fmt: skip
SAFE_PIECES = st.one_of(KOREAN_TEXT, st.sampled_from(KEYWORDS), st.text(alphabet="abcXYZ", max_size=4))


@st.composite
def luhn_cards(draw: st.DrawFn) -> tuple[str, str]:
    body = draw(st.text(alphabet="0123456789", min_size=15, max_size=15))
    digits = luhn_complete(body)
    sep = draw(st.sampled_from(["", "-", " ", "."]))
    formatted = digits if not sep else grouped(digits, (4, 4, 4, 4), sep)
    return digits, formatted


@settings(max_examples=300, deadline=None)
@given(card=luhn_cards(), before=st.lists(SAFE_PIECES, max_size=3), after=st.lists(SAFE_PIECES, max_size=3))
def test_luhn_valid_card_in_korean_text_never_leaks(card: tuple[str, str], before: list[str], after: list[str]) -> None:
    digits, formatted = card
    text = "".join(before) + formatted + "".join(after)
    out = mask_sensitive(text).text
    assert formatted not in out
    assert digits not in re.sub(r"[^0-9]", "", out)


@settings(max_examples=300, deadline=None)
@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    female=st.booleans(),
    foreigner=st.booleans(),
    serial=st.text(alphabet="0123456789", min_size=6, max_size=6),
    sep=st.sampled_from(["-", " ", "－"]),
    before=st.lists(SAFE_PIECES, max_size=3),
    after=st.lists(SAFE_PIECES, max_size=3),
)
def test_rrn_in_korean_text_never_leaks(
    born: date, female: bool, foreigner: bool, serial: str, sep: str, before: list[str], after: list[str]
) -> None:
    gender = (1 if born.year < 2000 else 3) + int(female) + (4 if foreigner else 0)
    front = born.strftime("%y%m%d")
    text = "".join(before) + front + sep + str(gender) + serial + "".join(after)
    out = mask_sensitive(text).text
    assert front not in out
    assert str(gender) + serial not in out


FUZZ_PIECES = st.one_of(
    KOREAN_TEXT,
    st.sampled_from(KEYWORDS),
    st.text(alphabet="0123456789", min_size=1, max_size=17),
    st.sampled_from([" ", "-", ".", "/", ":", "*", "**", ",", "12/27", "원", "년", "=", "abc", "\n"]),
    luhn_cards().map(lambda c: c[1]),
    st.sampled_from(["900101-1234567", "9001011234567", "051231-4234567", RRN_OLD, "110-123-456789"]),
    st.sampled_from(["3333-01-1234567", "010-1234-5678", "20261122-123456", "1,200,000", "378282246310005"]),
    st.sampled_from([MASKED_H, "************1234", "***-***-**6789", "******-*******", "****"]),
)
FUZZ_TEXT = st.lists(FUZZ_PIECES, max_size=12).map("".join)


@settings(max_examples=600, deadline=None)
@given(FUZZ_TEXT)
@example(f"비번 {CARD_H}")
@example(f"pw x{CARD}abc")
@example(f"계좌 비번 {CARD_S} 123 4567")
@example(f"신한 110-123-456789 {CARD_S[5:]}")
def test_masking_is_idempotent(text: str) -> None:
    once = mask_sensitive(text).text
    twice = mask_sensitive(once)
    assert twice.text == once
    assert not twice.masked


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(HANGUL, st.sampled_from(" ,.?!~()-:=\n*" + string.ascii_letters))))
def test_text_without_digits_or_keywords_is_unchanged(text: str) -> None:
    assume(not re.search(r"pw|pin|pass|pwd|비번|비밀|암호|패스|핀|앞", text, re.IGNORECASE))
    result = mask_sensitive(text)
    assert result.text == text
    assert result.findings == ()


@settings(max_examples=600, deadline=None)
@given(FUZZ_TEXT)
def test_findings_are_sorted_and_disjoint(text: str) -> None:
    findings = detect_sensitive(text)
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
        assert f.kind in KIND_LABELS_KO
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start
    assert mask_sensitive(text).findings == findings
