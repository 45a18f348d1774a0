"""web.portal: filing an inquiry, looking it up, following up — and every refusal, in Korean."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sangdam.core.db import Database
from sangdam.models import AuditEvent, Conversation, Message
from tests.web.helpers import PNG, csrf_of, file_inquiry


def conversations(db: Database) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(Conversation)).scalar_one()


def lookup(client: TestClient, receipt: str, phone: str) -> tuple[int, str]:
    page = client.get("/lookup")
    r = client.post(
        "/lookup",
        data={"csrf_token": csrf_of(page.text), "receipt_number": receipt, "phone": phone},
        follow_redirects=False,
    )
    if r.status_code == 303:
        return 303, client.get(r.headers["location"]).text
    match = re.search(r'id="form-error">([^<]+)', r.text)
    return r.status_code, match.group(1).strip() if match else r.text


def test_home_and_form_are_korean_with_english_available(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200 and "무엇을 도와드릴까요?" in home.text and 'lang="ko"' in home.text
    form = client.get("/inquiry")
    assert "개인정보 수집·이용 동의" in form.text and "분실/도난" in form.text
    english = client.get("/inquiry?lang=en")
    assert "Submit an inquiry" in english.text and "Lost or stolen card" in english.text
    assert client.get("/").text.count("English") == 0  # the choice is remembered


def test_file_then_look_up_with_receipt_and_phone(client: TestClient, db: Database) -> None:
    status, receipt = file_inquiry(client)
    assert status == 303
    done = client.get(f"/inquiry/done?r={receipt}")
    assert receipt in done.text and "접수번호" in done.text
    fresh = TestClient(client.app)
    status, page = lookup(fresh, receipt, "01023456789")
    assert status == 200 or status == 303
    assert receipt in page and "같은 결제가 두 번 청구됐어요." in page and "receipt.png" in page
    assert "대기" in page and "아직 답변이 없습니다" in page
    attachment = re.search(r'href="(/lookup/attachments/\d+)"', page)
    assert attachment and fresh.get(attachment.group(1)).content == PNG
    with db.transaction() as s:
        actions = set(s.execute(select(AuditEvent.action)).scalars())
    assert {"conversation.create", "conversation.lookup", "conversation.customer_view"} <= actions


def test_follow_up_from_the_lookup_page(client: TestClient, db: Database) -> None:
    file_inquiry(client)
    view = client.get("/lookup/view")
    r = client.post(
        "/lookup/reply",
        data={"csrf_token": csrf_of(view.text), "body": "추가로 영수증 보내드립니다."},
        files=[("attachments", ("more.png", PNG, "image/png"))],
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/lookup/view").text
    assert "추가로 영수증 보내드립니다." in page and "more.png" in page
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Message)).scalar_one() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent": None}, "개인정보 수집·이용에 동의해 주셔야"),
        ({"phone": "02-123"}, "휴대폰 번호 형식이 올바르지 않습니다"),
        ({"topic": ""}, "문의 유형을 선택해 주세요"),
        ({"files": [("attachments", ("big.png", PNG + b"\0" * (10 * 1024 * 1024), "image/png"))]}, "너무 큽니다"),
        ({"files": [("attachments", ("run.sh", b"#!/bin/sh\nrm -rf /\n", "image/png"))]}, "올릴 수 없는 형식"),
        ({"files": [("attachments", (f"{i}.png", PNG, "image/png")) for i in range(6)]}, "최대 5개"),
        ({"csrf_token": "forged"}, "보안 토큰이 올바르지 않습니다"),
    ],
)
def test_refusals_keep_what_was_typed_and_write_nothing(
    client: TestClient, db: Database, overrides: dict[str, object], message: str
) -> None:
    status, error = file_inquiry(client, body="입력한 내용은 그대로 남아야 합니다", **overrides)
    assert status in (400, 403)
    assert message in error
    assert conversations(db) == 0


def test_the_form_is_rerendered_with_the_values(client: TestClient) -> None:
    page = client.get("/inquiry")
    r = client.post(
        "/inquiry",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "김영희",
            "phone": "010-3456-7890",
            "topic": "points_benefits",
            "body": "포인트 현금화 문의입니다",
        },
    )
    assert r.status_code == 400
    assert 'value="김영희"' in r.text and "포인트 현금화 문의입니다" in r.text
    assert 'value="points_benefits" selected' in r.text


def test_too_many_inquiries_are_refused_on_the_form_keeping_what_was_typed(
    client: TestClient, db: Database, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.inquiries_per_phone_per_hour = 1
    assert file_inquiry(client)[0] == 303
    status, error = file_inquiry(client, body="두 번째 문의도 남아 있어야 합니다")
    assert status == 429
    assert "한 시간에 접수할 수 있는 문의 수를 넘었습니다" in error and "1588-0000" in error
    page = client.post(
        "/inquiry",
        data={
            "csrf_token": csrf_of(client.get("/inquiry").text),
            "name": "홍길동",
            "phone": "010-2345-6789",
            "topic": "payment_billing",
            "body": "두 번째 문의도 남아 있어야 합니다",
            "consent": "on",
        },
    )
    assert page.status_code == 429 and "두 번째 문의도 남아 있어야 합니다" in page.text
    assert conversations(db) == 1


def test_unknown_receipt_and_wrong_phone_give_one_message(client: TestClient) -> None:
    _, receipt = file_inquiry(client)
    other = TestClient(client.app)
    status, error = lookup(other, "20990101-000000", "010-2345-6789")
    assert status == 404 and "접수번호를 찾을 수 없거나 휴대폰 번호가 일치하지 않습니다" in error
    status, error2 = lookup(other, receipt, "010-9999-9999")
    assert status == 404 and error2 == error
    assert other.get("/lookup/view", follow_redirects=False).headers["location"].startswith("/lookup")


def test_lookups_are_rate_limited_against_guessing(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    _, receipt = file_inquiry(client)
    guesser = TestClient(client.app)
    for _ in range(settings.lookup_attempts_per_window):
        assert lookup(guesser, receipt, "010-0000-0000")[0] == 404
    status, error = lookup(guesser, receipt, "010-2345-6789")  # even the right phone, now
    assert status == 429 and "조회 시도가 너무 많습니다" in error


def test_a_forged_lookup_cookie_shows_nothing(client: TestClient) -> None:
    file_inquiry(client)
    client.cookies.set("sangdam_lookup", "forged.123.abc")
    assert client.get("/lookup/view", follow_redirects=False).status_code == 303
