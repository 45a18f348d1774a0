"""Normalising contact points: Korean phone numbers to E.164, e-mail addresses to lower case."""

from __future__ import annotations

import re

import phonenumbers

from sangdam.core.errors import InputError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def normalize_phone(raw: str, region: str = "KR") -> str:
    """``010-1234-5678`` → ``+821012345678``; refuses what is not a valid number."""
    text = (raw or "").strip()
    if not text:
        raise InputError("phone", "휴대폰 번호를 입력해 주세요.", "Please enter a phone number.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InputError(
            "phone", "휴대폰 번호 형식이 올바르지 않습니다. 예: 010-1234-5678", "The phone number is not valid."
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InputError(
            "phone", "휴대폰 번호 형식이 올바르지 않습니다. 예: 010-1234-5678", "The phone number is not valid."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    """``+821012345678`` → ``010-1234-5678`` for Korean numbers, international format otherwise."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 82:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str | None) -> str:
    """``010-1234-5678`` → ``010-****-5678``: what an agent sees until they need more."""
    shown = display_phone(e164)
    parts = shown.split("-")
    if len(parts) == 3:
        return f"{parts[0]}-{'*' * len(parts[1])}-{parts[2]}"
    return shown[:-4].translate(str.maketrans("0123456789", "**********")) + shown[-4:] if shown else ""


def normalize_email(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > 254 or not _EMAIL.match(text):
        raise InputError("email", "이메일 주소 형식이 올바르지 않습니다.", "The e-mail address is not valid.")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"
