from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sangdam.core.errors import InputError
from sangdam.customers.contact import display_phone, mask_phone, normalize_email, normalize_phone


@pytest.mark.parametrize(
    "raw", ["010-2345-6789", "01023456789", "010 2345 6789", "+82 10-2345-6789", "+821023456789", "(010)2345-6789"]
)
def test_korean_mobile_numbers_normalise_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+821023456789"


def test_landlines_and_display() -> None:
    assert normalize_phone("02-312-3456") == "+8223123456"
    assert display_phone("+821023456789") == "010-2345-6789"
    assert display_phone("+8223123456") == "02-312-3456"
    assert mask_phone("+821023456789") == "010-****-6789"
    assert display_phone(None) == "" and mask_phone(None) == ""


@pytest.mark.parametrize("raw", ["", "   ", "12345", "010-1234", "abc", "010-2345-678901234"])
def test_bad_phone_numbers_are_refused_in_korean(raw: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_phone(raw)
    assert info.value.field == "phone" and "휴대폰 번호" in info.value.message


def test_email() -> None:
    assert normalize_email(" Kim@Hanbit.CO.KR ") == "Kim@hanbit.co.kr"
    assert normalize_email("") is None and normalize_email(None) is None
    for bad in ["kim", "kim@", "@hanbit.co.kr", "kim@hanbit", "a b@c.kr"]:
        with pytest.raises(InputError):
            normalize_email(bad)


@given(st.text(max_size=40))
def test_normalize_phone_never_crashes(raw: str) -> None:
    with contextlib.suppress(InputError):
        assert normalize_phone(raw).startswith("+")
