"""The customers REST API: who may read a customer, masking of contact points, the audit trail."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sangdam.core.db import Database
from sangdam.customers.api import mask_email, mask_other
from sangdam.models import AuditEvent, Conversation
from tests.conftest import auth

API = "/api/v1"


def file_inquiry(client: TestClient, *, phone: str, topic: str, name: str = "홍길동", email: str | None = None) -> None:
    response = client.post(
        f"{API}/inquiries",
        json={
            "name": name,
            "phone": phone,
            "email": email,
            "topic": topic,
            "subject": f"{topic} 문의",
            "body": "확인 부탁드립니다. 감사합니다.",
            "consent": True,
        },
    )
    assert response.status_code == 201, response.text


def customer_of(db: Database, phone_e164: str) -> int:
    with db.transaction() as session:
        return session.execute(
            select(Conversation.customer_id).where(Conversation.contact_phone == phone_e164).limit(1)
        ).scalar_one()


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


@pytest.fixture
def customers(client: TestClient, db: Database) -> dict[str, int]:
    """``hong`` asked about payments (and once about a lost card); ``kim`` only about a lost card."""
    file_inquiry(client, phone="010-1234-5678", topic="payment_billing", email="hong.gildong@example.com")
    file_inquiry(client, phone="010-1234-5678", topic="lost_card")
    file_inquiry(client, phone="010-2222-3333", topic="lost_card", name="김철수", email="kim@example.com")
    return {"hong": customer_of(db, "+821012345678"), "kim": customer_of(db, "+821022223333")}


def test_agent_sees_contact_points_masked(
    client: TestClient,
    db: Database,
    tokens: dict[str, str],
    customers: dict[str, int],
    agents: dict[str, int],
) -> None:
    response = client.get(f"{API}/customers/{customers['hong']}", headers=auth(tokens["pay"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "홍길동" and body["masked"] is True
    points = {p["kind"]: p["value"] for p in body["contact_points"]}
    assert points == {"phone": "010-****-5678", "email": "ho**********@example.com"}
    assert "1234" not in response.text and "hong.gildong" not in response.text
    views = audit_rows(db, "customer.view")
    assert [(v.actor_kind, v.actor_id, v.customer_id) for v in views] == [("api", agents["pay"], customers["hong"])]
    assert views[0].detail == {"masked": True}


@pytest.mark.parametrize("who", ["super", "admin"])
def test_leads_see_contact_points_in_full(
    client: TestClient, tokens: dict[str, str], customers: dict[str, int], who: str
) -> None:
    body = client.get(f"{API}/customers/{customers['hong']}", headers=auth(tokens[who])).json()
    assert body["masked"] is False
    points = {p["kind"]: p["value"] for p in body["contact_points"]}
    assert points == {"phone": "+821012345678", "email": "hong.gildong@example.com"}


def test_agent_may_not_read_a_customer_without_a_visible_conversation(
    client: TestClient,
    db: Database,
    tokens: dict[str, str],
    customers: dict[str, int],
    agents: dict[str, int],
) -> None:
    for path in ("", "/conversations"):
        response = client.get(f"{API}/customers/{customers['kim']}{path}", headers=auth(tokens["pay"]))
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert error["message"] == "이 고객 정보를 볼 권한이 없습니다."
    denied = audit_rows(db, "customer.view_denied")
    assert len(denied) == 2
    assert {(d.actor_id, d.customer_id) for d in denied} == {(agents["pay"], customers["kim"])}
    assert client.get(f"{API}/customers/{customers['kim']}", headers=auth(tokens["lost"])).status_code == 200


def test_unknown_customer_and_no_token(client: TestClient, tokens: dict[str, str]) -> None:
    missing = client.get(f"{API}/customers/999999", headers=auth(tokens["super"]))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "고객을 찾을 수 없습니다."
    anonymous = client.get(f"{API}/customers/1")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    search = client.get(f"{API}/customers", params={"phone": "010-1234-5678"})
    assert search.status_code == 401


def test_customer_history_hides_what_the_agent_may_not_open(
    client: TestClient, db: Database, tokens: dict[str, str], customers: dict[str, int]
) -> None:
    url = f"{API}/customers/{customers['hong']}/conversations"
    response = client.get(url, headers=auth(tokens["pay"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    by_topic = {item["topic"]: item for item in body["items"]}
    assert by_topic["payment_billing"]["can_view"] is True
    assert by_topic["payment_billing"]["subject"] == "payment_billing 문의"
    assert by_topic["lost_card"]["can_view"] is False and by_topic["lost_card"]["subject"] == ""
    full = client.get(url, headers=auth(tokens["super"])).json()
    assert all(item["can_view"] and item["subject"] for item in full["items"])
    rows = audit_rows(db, "customer.conversations.view")
    assert len(rows) == 2 and all(r.customer_id == customers["hong"] for r in rows)


def test_find_by_phone_normalizes_and_respects_access(
    client: TestClient, db: Database, tokens: dict[str, str], customers: dict[str, int]
) -> None:
    def found(token: str, phone: str) -> list[int]:
        response = client.get(f"{API}/customers", params={"phone": phone}, headers=auth(token))
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert found(tokens["pay"], "010-1234-5678") == [customers["hong"]]
    assert found(tokens["pay"], "01012345678") == [customers["hong"]]
    assert found(tokens["pay"], "+82 10 1234 5678") == [customers["hong"]]
    assert found(tokens["pay"], "010-2222-3333") == []  # exists, but not this agent's to read
    assert found(tokens["super"], "010-2222-3333") == [customers["kim"]]
    assert found(tokens["super"], "010-7777-8888") == []
    masked = client.get(f"{API}/customers", params={"phone": "01012345678"}, headers=auth(tokens["pay"])).json()
    assert masked["items"][0]["contact_points"][0]["value"] == "010-****-5678"
    searches = audit_rows(db, "customer.search")
    assert len(searches) == 7
    assert all("1234" not in str(s.detail) for s in searches)
    assert [s.detail["shown"] for s in searches if s.customer_id == customers["kim"]] == [False, True]


@pytest.mark.parametrize("params", [{"phone": "abc"}, {"phone": "12"}, {}])
def test_find_by_phone_refuses_bad_numbers(client: TestClient, tokens: dict[str, str], params: dict[str, str]) -> None:
    response = client.get(f"{API}/customers", params=params, headers=auth(tokens["pay"]))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "phone"
    assert error["message"].startswith("휴대폰 번호")


def test_masking_helpers() -> None:
    assert mask_email("hong.gildong@example.com") == "ho**********@example.com"
    assert mask_email("abc@example.com") == "a**@example.com"
    assert mask_email("a@example.com") == "*@example.com"
    assert mask_email("no-at-sign") == "******sign"
    assert mask_other("kakao_user_123456") == "*************3456"
    assert mask_other("abcd") == "****"
