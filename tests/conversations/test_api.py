"""The conversations REST API: public inquiries and lookup, the inbox, messages, notes, topics."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update
from starlette.requests import Request

from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.core.settings import Settings
from sangdam.models import ApiToken, AuditEvent, Conversation, RateLimitHit, Skill, Topic
from sangdam.routing.agents import token_digest
from sangdam.web.auth import CSRF_COOKIE, SESSION_COOKIE, start_session
from tests.conftest import auth

API = "/api/v1"
PHONE = "010-1234-5678"
CARD = "4111 1111 1111 1111"  # Luhn-valid test number
DENIED_KO = "이 상담건을 볼 권한이 없습니다."
LOOKUP_REFUSED_KO = "접수번호를 찾을 수 없거나 휴대폰 번호가 일치하지 않습니다. 다시 확인해 주세요."


def inquiry(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "홍길동",
        "phone": PHONE,
        "email": "hong@example.com",
        "topic": "payment_billing",
        "subject": "이중 결제",
        "body": "어제 결제한 금액이 두 번 청구되었어요. 확인 부탁드립니다.",
        "consent": True,
    }
    body.update(overrides)
    return body


def file_inquiry(client: TestClient, **overrides: object) -> str:
    response = client.post(f"{API}/inquiries", json=inquiry(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["receipt_number"])


def conversation_id(db: Database, receipt: str) -> int:
    with db.transaction() as session:
        return session.execute(select(Conversation.id).where(Conversation.receipt_number == receipt)).scalar_one()


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def assert_error(response: Response, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "message_en", "field"}
    assert re.search(r"[가-힣]", error["message"]), "the message is Korean first"
    if message is not None:
        assert error["message"] == message
    return error


# --- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_lists_every_path(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    expected = {
        "/api/v1/inquiries": {"post"},
        "/api/v1/inquiries/lookup": {"post"},
        "/api/v1/conversations": {"get"},
        "/api/v1/conversations/{conversation_id}": {"get", "patch"},
        "/api/v1/conversations/{conversation_id}/messages": {"get", "post"},
        "/api/v1/conversations/{conversation_id}/notes": {"get", "post"},
        "/api/v1/conversations/{conversation_id}/activities": {"get"},
        "/api/v1/topics": {"get", "post"},
        "/api/v1/topics/{code}": {"patch"},
        "/api/v1/customers": {"get"},
        "/api/v1/customers/{customer_id}": {"get"},
        "/api/v1/customers/{customer_id}/conversations": {"get"},
        "/api/v1/agents": {"get", "post"},
        "/api/v1/agents/me": {"get"},
        "/api/v1/agents/{agent_id}": {"get", "patch"},
        "/api/v1/agents/{agent_id}/tokens": {"post"},
    }
    for path, methods in expected.items():
        assert path in doc["paths"], path
        assert methods <= set(doc["paths"][path]), path
    # Errors are documented with the one consistent body, not FastAPI's default.
    patch = doc["paths"]["/api/v1/conversations/{conversation_id}"]["patch"]["responses"]
    assert patch["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    filing = doc["paths"]["/api/v1/inquiries"]["post"]["responses"]
    assert {"201", "422", "429"} <= set(filing)


# --- public inquiries --------------------------------------------------------------------------


def test_file_inquiry_is_public_and_hides_ids(client: TestClient, db: Database) -> None:
    response = client.post(f"{API}/inquiries", json=inquiry())
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"receipt_number", "status", "status_label", "created_at"}
    assert re.fullmatch(r"\d{8}-\d{6}", body["receipt_number"])
    assert body["status"] == "queued"
    assert body["status_label"] == "대기"
    assert len(audit_rows(db, "conversation.create")) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"consent": False}, "consent", "개인정보 수집·이용에 동의해 주셔야 문의를 접수할 수 있습니다."),
        ({"phone": "12"}, "phone", None),
        ({"topic": "no_such_topic"}, "topic", "문의 유형을 선택해 주세요."),
        ({"body": "짧음"}, "body", None),
        ({"email": "not-an-email"}, "email", "이메일 주소 형식이 올바르지 않습니다."),
    ],
)
def test_file_inquiry_refuses_bad_input(
    client: TestClient, overrides: dict[str, object], field: str, message: str | None
) -> None:
    error = assert_error(client.post(f"{API}/inquiries", json=inquiry(**overrides)), 422, "invalid_input", message)
    assert error["field"] == field


def test_missing_field_gives_the_consistent_validation_body(client: TestClient) -> None:
    body = inquiry()
    del body["consent"]
    error = assert_error(client.post(f"{API}/inquiries", json=body), 422, "invalid_input")
    assert error["field"] == "consent"
    assert error["message"].startswith("개인정보 수집·이용 동의")
    assert error["details"][0]["loc"] == ["body", "consent"]


def test_lookup_shows_status_and_public_replies_only(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    receipt = file_inquiry(client)
    cid = conversation_id(db, receipt)
    reply = client.post(
        f"{API}/conversations/{cid}/messages",
        json={"body": "확인 후 취소 처리해 드렸습니다."},
        headers=auth(tokens["pay"]),
    )
    assert reply.status_code == 201, reply.text
    note = client.post(
        f"{API}/conversations/{cid}/notes",
        json={"body": "가맹점 확인 완료, 내부 메모"},
        headers=auth(tokens["pay"]),
    )
    assert note.status_code == 201, note.text

    response = client.post(f"{API}/inquiries/lookup", json={"receipt_number": receipt, "phone": "01012345678"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["receipt_number"] == receipt
    assert body["status"] == "waiting_customer"
    assert body["topic"] == "결제/청구"
    assert [m["sender_kind"] for m in body["messages"]] == ["customer", "agent"]
    assert body["messages"][1]["body"] == "확인 후 취소 처리해 드렸습니다."
    text = response.text
    assert "내부 메모" not in text
    assert "pay" not in text and "이상담" not in text  # no agent login or name
    assert "agent_id" not in text and '"id"' not in text
    rows = audit_rows(db, "conversation.lookup")
    assert len(rows) == 1 and rows[0].actor_kind == "customer"


def test_lookup_refuses_unknown_receipt_and_wrong_phone_alike(client: TestClient) -> None:
    receipt = file_inquiry(client)
    unknown = client.post(f"{API}/inquiries/lookup", json={"receipt_number": "20000101-000000", "phone": PHONE})
    wrong = client.post(f"{API}/inquiries/lookup", json={"receipt_number": receipt, "phone": "010-9999-8888"})
    first = assert_error(unknown, 404, "lookup_failed", LOOKUP_REFUSED_KO)
    second = assert_error(wrong, 404, "lookup_failed", LOOKUP_REFUSED_KO)
    assert first == second


def test_lookup_is_rate_limited_even_with_the_right_phone(client: TestClient, db: Database, settings: Settings) -> None:
    receipt = file_inquiry(client)
    for _ in range(settings.lookup_attempts_per_window):
        wrong = client.post(f"{API}/inquiries/lookup", json={"receipt_number": receipt, "phone": "010-9999-8888"})
        assert wrong.status_code == 404
    right = client.post(f"{API}/inquiries/lookup", json={"receipt_number": receipt, "phone": PHONE})
    error = assert_error(right, 429, "too_many_requests")
    assert "조회 시도가 너무 많습니다" in error["message"]
    assert right.headers["retry-after"] == str(settings.lookup_window_seconds)
    assert audit_rows(db, "conversation.lookup") == []


def test_inquiries_are_limited_per_phone_and_per_address_within_an_hour(
    client: TestClient, db: Database, settings: Settings
) -> None:
    """A flood of inquiries would bury real ones: per phone number and per address, an hour at a time.
    A refused inquiry writes nothing and does not count; the answer says when to try again."""
    settings.inquiries_per_phone_per_hour = 2
    settings.inquiries_per_address_per_hour = 3
    for _ in range(2):
        file_inquiry(client)
    refused = client.post(f"{API}/inquiries", json=inquiry(body="세 번째 같은 번호 문의입니다."))
    error = assert_error(refused, 429, "too_many_requests")
    assert error["message"].startswith("한 시간에 접수할 수 있는 문의 수를 넘었습니다. 60분 후에")
    assert "1588-0000" in error["message"] and "분실·도난 신고 1588-0001" in error["message"]
    assert 3590 <= int(refused.headers["retry-after"]) <= 3601
    file_inquiry(client, phone="010-2222-3333")  # another phone: the address has one left
    assert_error(client.post(f"{API}/inquiries", json=inquiry(phone="010-4444-5555")), 429, "too_many_requests")
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Conversation)).scalar_one() == 3
        # an hour on, the counts start again
        session.execute(update(RateLimitHit).values(at=now() - timedelta(hours=1, seconds=1)))
    file_inquiry(client)
    settings.inquiries_per_phone_per_hour = settings.inquiries_per_address_per_hour = 0  # 0: no limit
    for _ in range(4):
        file_inquiry(client)


# --- authentication ----------------------------------------------------------------------------


def test_routes_need_a_token(client: TestClient) -> None:
    assert_error(client.get(f"{API}/conversations"), 401, "unauthorized", "로그인이 필요합니다.")
    bad = client.get(f"{API}/conversations", headers=auth("sgd_not-a-real-token"))
    assert_error(bad, 401, "unauthorized", "인증 토큰이 올바르지 않습니다.")


def test_revoked_token_and_inactive_agent_are_refused(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    assert client.get(f"{API}/conversations", headers=auth(tokens["pay"])).status_code == 200
    with db.transaction() as session:
        row = session.execute(select(ApiToken).where(ApiToken.token_hash == token_digest(tokens["pay"]))).scalar_one()
        row.revoked_at = now()
    assert_error(client.get(f"{API}/conversations", headers=auth(tokens["pay"])), 401, "unauthorized")

    deactivate = client.patch(f"{API}/agents/{agents['lost']}", json={"active": False}, headers=auth(tokens["admin"]))
    assert deactivate.status_code == 200, deactivate.text
    assert_error(client.get(f"{API}/conversations", headers=auth(tokens["lost"])), 401, "unauthorized")


def test_console_session_cookie_needs_csrf_for_writes(
    client: TestClient, db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    from sangdam.models import Agent

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("127.0.0.1", 1)})
    with db.transaction() as session:
        pay = session.get(Agent, agents["pay"])
        assert pay is not None
        cookie, csrf = start_session(session, settings, pay, request)
    client.cookies.set(SESSION_COOKIE, cookie)
    client.cookies.set(CSRF_COOKIE, csrf)
    receipt = file_inquiry(client)
    cid = conversation_id(db, receipt)
    assert client.get(f"{API}/conversations/{cid}").status_code == 200
    refused = client.post(f"{API}/conversations/{cid}/notes", json={"body": "메모"})
    assert_error(refused, 403, "csrf_failed")
    accepted = client.post(f"{API}/conversations/{cid}/notes", json={"body": "메모"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201, accepted.text
    assert audit_rows(db, "note.create")[0].actor_kind == "agent"


# --- the inbox ---------------------------------------------------------------------------------


def test_list_shows_what_each_agent_may_see(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    payment = file_inquiry(client)
    lost = file_inquiry(
        client, topic="lost_card", phone="010-2222-3333", body="지갑을 잃어버려서 카드 정지 부탁드려요."
    )

    def receipts(token: str, **params: object) -> list[str]:
        response = client.get(f"{API}/conversations", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] >= len(body["items"])
        return [item["receipt_number"] for item in body["items"]]

    assert receipts(tokens["pay"]) == [payment]
    assert receipts(tokens["lost"]) == [lost]
    assert receipts(tokens["super"]) == [lost, payment]  # lost card first: higher priority
    assert receipts(tokens["super"], topic="payment_billing") == [payment]
    assert receipts(tokens["super"], q=lost) == [lost]
    assert receipts(tokens["super"], q="홍길동") == [lost, payment]
    assert receipts(tokens["super"], assignee="me") == []
    assert receipts(tokens["super"], status="resolved") == []
    assert receipts(tokens["super"], limit=1) == [lost]
    page = client.get(f"{API}/conversations", params={"limit": 1, "offset": 1}, headers=auth(tokens["super"])).json()
    assert page["total"] == 2 and [i["receipt_number"] for i in page["items"]] == [payment]
    item = client.get(f"{API}/conversations", headers=auth(tokens["pay"])).json()["items"][0]
    assert item["topic"] == "payment_billing" and item["customer_name"] == "홍길동"
    assert audit_rows(db, "conversation.list")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "bogus"}, "status"), ({"limit": 0}, "limit"), ({"assignee": "x"}, "assignee")],
)
def test_list_refuses_bad_filters(
    client: TestClient, tokens: dict[str, str], params: dict[str, object], field: str
) -> None:
    error = assert_error(
        client.get(f"{API}/conversations", params=params, headers=auth(tokens["pay"])), 422, "invalid_input"
    )
    assert error["field"] == field


def test_open_conversation_with_masked_customer_and_audit(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    response = client.get(f"{API}/conversations/{cid}", headers=auth(tokens["pay"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["name"] == "홍길동"
    assert body["customer"]["phone_masked"] == "010-****-5678"
    assert "1234" not in response.text
    assert body["topic"] == {"code": "payment_billing", "name": "결제/청구"}
    assert body["status_label"] == "대기"
    views = audit_rows(db, "conversation.view")
    assert [(v.actor_kind, v.actor_id, v.object_id) for v in views] == [("api", agents["pay"], str(cid))]
    assert views[0].customer_id == body["customer"]["id"]
    assert views[0].ip == "testclient"


def test_unskilled_agent_is_refused_in_korean_and_audited(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    for path in ("", "/messages", "/notes", "/activities"):
        response = client.get(f"{API}/conversations/{cid}{path}", headers=auth(tokens["lost"]))
        assert_error(response, 403, "forbidden", DENIED_KO)
    denied = audit_rows(db, "conversation.view_denied")
    assert len(denied) == 4 and {d.actor_id for d in denied} == {agents["lost"]}
    reply = client.post(
        f"{API}/conversations/{cid}/messages", json={"body": "안녕하세요"}, headers=auth(tokens["lost"])
    )
    assert_error(reply, 403, "forbidden", DENIED_KO)
    note = client.post(f"{API}/conversations/{cid}/notes", json={"body": "메모"}, headers=auth(tokens["lost"]))
    assert_error(note, 403, "forbidden", DENIED_KO)
    patch = client.patch(f"{API}/conversations/{cid}", json={"status": "resolved"}, headers=auth(tokens["lost"]))
    assert_error(patch, 403, "forbidden", DENIED_KO)


def test_another_agents_conversation_is_refused(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    moved = client.patch(
        f"{API}/conversations/{cid}", json={"assignee_id": agents["lost"]}, headers=auth(tokens["super"])
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee"]["id"] == agents["lost"]
    assert_error(client.get(f"{API}/conversations/{cid}", headers=auth(tokens["pay"])), 403, "forbidden", DENIED_KO)
    assert client.get(f"{API}/conversations/{cid}", headers=auth(tokens["lost"])).status_code == 200


def test_unknown_conversation_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    for response in (
        client.get(f"{API}/conversations/999999", headers=auth(tokens["super"])),
        client.patch(f"{API}/conversations/999999", json={"status": "resolved"}, headers=auth(tokens["super"])),
        client.post(f"{API}/conversations/999999/messages", json={"body": "답변"}, headers=auth(tokens["super"])),
    ):
        assert_error(response, 404, "not_found", "상담건을 찾을 수 없습니다.")


def test_patch_assigns_transfers_changes_topic_and_status(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    url = f"{API}/conversations/{cid}"
    pay = auth(tokens["pay"])

    taken = client.patch(url, json={"assignee_id": agents["pay"]}, headers=pay)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "assigned" and taken.json()["assignee"]["name"] == "이상담"

    topic = client.patch(url, json={"topic": "other"}, headers=pay)
    assert topic.status_code == 200 and topic.json()["topic"]["code"] == "other"

    resolved = client.patch(url, json={"status": "resolved"}, headers=pay)
    assert resolved.status_code == 200 and resolved.json()["resolved_at"] is not None

    closed = client.patch(url, json={"status": "closed"}, headers=pay)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    # Closed: a reply is refused until it is reopened; reopening and handing over in one request works.
    assert_error(client.post(f"{url}/messages", json={"body": "추가 안내"}, headers=pay), 409, "conflict")
    reopened = client.patch(url, json={"status": "assigned", "assignee_id": agents["super"]}, headers=pay)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "assigned" and reopened.json()["assignee"]["id"] == agents["super"]

    # Now someone else's: the agent may neither see nor move it.
    assert_error(client.patch(url, json={"unassign": True}, headers=pay), 403, "forbidden")
    back = client.patch(url, json={"unassign": True}, headers=auth(tokens["super"]))
    assert back.status_code == 200 and back.json()["assignee"] is None and back.json()["status"] == "queued"

    kinds = [a["kind"] for a in client.get(f"{url}/activities", headers=auth(tokens["super"])).json()]
    assert kinds == [
        "created",
        "queued",
        "assigned",
        "topic_changed",
        "status",
        "status",
        "reopened",
        "transferred",
        "unassigned",
    ]
    assert audit_rows(db, "conversation.transferred")[0].actor_kind == "api"


def test_patch_refuses_bad_changes(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    url = f"{API}/conversations/{cid}"
    pay = auth(tokens["pay"])
    both = client.patch(url, json={"assignee_id": agents["pay"], "unassign": True}, headers=pay)
    assert assert_error(both, 422, "invalid_input")["field"] == "assignee_id"
    unknown_status = client.patch(url, json={"status": "nonsense"}, headers=pay)
    assert assert_error(unknown_status, 422, "invalid_input", "알 수 없는 상태입니다.")["field"] == "status"
    unknown_topic = client.patch(url, json={"topic": "nonsense"}, headers=pay)
    assert assert_error(unknown_topic, 422, "invalid_input")["field"] == "topic"
    nobody = client.patch(url, json={"assignee_id": 999999}, headers=pay)
    assert assert_error(nobody, 422, "invalid_input", "담당자를 찾을 수 없습니다.")["field"] == "assignee_id"
    not_json = client.patch(url, content=b"{", headers={**pay, "content-type": "application/json"})
    assert_error(not_json, 422, "invalid_input")
    client.patch(url, json={"status": "resolved"}, headers=pay)
    assert_error(client.patch(url, json={"status": "waiting_customer"}, headers=pay), 409, "conflict")
    nothing = client.patch(url, json={}, headers=pay)
    assert nothing.status_code == 200 and nothing.json()["status"] == "resolved"
    assert len(audit_rows(db, "conversation.view")) == 1


# --- messages and notes ------------------------------------------------------------------------


def test_reply_and_read_messages(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    cid = conversation_id(db, file_inquiry(client))
    url = f"{API}/conversations/{cid}/messages"
    sent = client.post(url, json={"body": "  확인해 드리겠습니다.  "}, headers=auth(tokens["pay"]))
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["sender_kind"] == "agent" and message["agent_id"] == agents["pay"]
    assert message["body"] == "확인해 드리겠습니다."
    listed = client.get(url, headers=auth(tokens["pay"])).json()
    assert [m["sender_kind"] for m in listed] == ["customer", "agent"]
    newer = client.get(url, params={"after_id": listed[0]["id"]}, headers=auth(tokens["pay"])).json()
    assert [m["id"] for m in newer] == [message["id"]]
    detail = client.get(f"{API}/conversations/{cid}", headers=auth(tokens["pay"])).json()
    assert detail["status"] == "waiting_customer" and detail["assignee"]["id"] == agents["pay"]
    assert detail["first_response_at"] is not None
    assert len(audit_rows(db, "message.create")) == 1


def test_empty_reply_is_refused(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    cid = conversation_id(db, file_inquiry(client))
    url = f"{API}/conversations/{cid}/messages"
    empty = assert_error(client.post(url, json={"body": ""}, headers=auth(tokens["pay"])), 422, "invalid_input")
    assert empty["details"][0]["loc"] == ["body", "body"]
    blank = client.post(url, json={"body": "   "}, headers=auth(tokens["pay"]))
    assert assert_error(blank, 422, "invalid_input", "답변 내용을 입력해 주세요.")["field"] == "body"


def test_validation_error_names_a_field_called_body(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    cid = conversation_id(db, file_inquiry(client))
    response = client.post(f"{API}/conversations/{cid}/messages", json={"body": ""}, headers=auth(tokens["pay"]))
    error = assert_error(response, 422, "invalid_input")
    assert error["field"] == "body"
    assert error["message"].startswith("내용")


def test_card_number_is_masked_in_replies_and_inquiries(
    client: TestClient, db: Database, tokens: dict[str, str]
) -> None:
    receipt = file_inquiry(client, body=f"카드번호 {CARD} 로 결제한 건이 두 번 청구되었어요.")
    cid = conversation_id(db, receipt)
    url = f"{API}/conversations/{cid}/messages"
    sent = client.post(url, json={"body": f"고객님 카드 {CARD} 확인했습니다."}, headers=auth(tokens["pay"]))
    assert sent.status_code == 201, sent.text
    assert CARD not in sent.text and "4111" not in sent.json()["body"]
    assert sent.json()["body"].endswith("1111 확인했습니다.")
    assert "card_number" in sent.json()["masked_kinds"]

    listed = client.get(url, headers=auth(tokens["super"]))
    assert CARD not in listed.text
    kinds = [m["sender_kind"] for m in listed.json()]
    assert kinds == ["customer", "system", "agent"]  # the guard told the customer what it hid
    assert "카드번호" in listed.json()[1]["body"]

    note = client.post(f"{API}/conversations/{cid}/notes", json={"body": f"메모 {CARD}"}, headers=auth(tokens["pay"]))
    assert note.status_code == 201 and CARD not in note.text

    lookup = client.post(f"{API}/inquiries/lookup", json={"receipt_number": receipt, "phone": PHONE})
    assert lookup.status_code == 200 and CARD not in lookup.text


def test_notes_are_internal(client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]) -> None:
    cid = conversation_id(db, file_inquiry(client))
    url = f"{API}/conversations/{cid}/notes"
    created = client.post(url, json={"body": "VIP 고객, 친절히 응대"}, headers=auth(tokens["pay"]))
    assert created.status_code == 201, created.text
    assert created.json()["agent_id"] == agents["pay"]
    notes = client.get(url, headers=auth(tokens["super"])).json()
    assert [n["body"] for n in notes] == ["VIP 고객, 친절히 응대"]
    messages = client.get(f"{API}/conversations/{cid}/messages", headers=auth(tokens["super"])).text
    assert "VIP" not in messages
    assert_error(client.post(url, json={"body": " "}, headers=auth(tokens["pay"])), 422, "invalid_input")


# --- topics ------------------------------------------------------------------------------------


def test_topics_are_public(client: TestClient) -> None:
    response = client.get(f"{API}/topics")
    assert response.status_code == 200
    topics = response.json()
    assert topics[0] == {
        "code": "lost_card",
        "name": "분실/도난",
        "name_en": "Lost or stolen card",
        "description": "카드 분실·도난 신고, 해제, 해외 분실",
        "priority": 100,
        "sensitive": True,
        "active": True,
        "sort_order": 0,
    }
    assert len(topics) == 11


def test_admin_adds_and_changes_topics(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    created = client.post(
        f"{API}/topics",
        json={"code": "insurance", "name": "보험", "name_en": "Insurance", "priority": 40},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "insurance" and created.json()["active"] is True
    with db.transaction() as session:
        topic = session.execute(select(Topic).where(Topic.code == "insurance")).scalar_one()
        skill = session.execute(select(Skill).where(Skill.code == "insurance")).scalar_one()
        assert topic.skill_id == skill.id
    assert "insurance" in [t["code"] for t in client.get(f"{API}/topics").json()]
    file_inquiry(client, topic="insurance")

    dup = client.post(f"{API}/topics", json={"code": "insurance", "name": "보험2"}, headers=admin)
    assert assert_error(dup, 409, "conflict")["field"] == "code"
    bad_code = client.post(f"{API}/topics", json={"code": "Bad Code", "name": "x"}, headers=admin)
    assert assert_error(bad_code, 422, "invalid_input")["field"] == "code"

    changed = client.patch(
        f"{API}/topics/insurance", json={"name": "보험/제휴", "priority": 45, "active": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "보험/제휴" and changed.json()["active"] is False
    assert "insurance" not in [t["code"] for t in client.get(f"{API}/topics").json()]
    refused = client.post(f"{API}/inquiries", json=inquiry(topic="insurance"))
    assert assert_error(refused, 422, "invalid_input")["field"] == "topic"
    reactivated = client.patch(f"{API}/topics/insurance", json={"active": True}, headers=admin)
    assert reactivated.json()["active"] is True
    assert_error(client.patch(f"{API}/topics/nope", json={"active": True}, headers=admin), 404, "not_found")
    assert audit_rows(db, "topic.create") and audit_rows(db, "topic.update")


@pytest.mark.parametrize("who", ["pay", "super"])
def test_topics_are_admin_only(client: TestClient, tokens: dict[str, str], who: str) -> None:
    created = client.post(f"{API}/topics", json={"code": "insurance", "name": "보험"}, headers=auth(tokens[who]))
    assert_error(created, 403, "forbidden", "이 기능을 사용할 권한이 없습니다.")
    changed = client.patch(f"{API}/topics/other", json={"active": False}, headers=auth(tokens[who]))
    assert_error(changed, 403, "forbidden", "이 기능을 사용할 권한이 없습니다.")
    assert_error(client.post(f"{API}/topics", json={"code": "x1", "name": "x"}), 401, "unauthorized")
