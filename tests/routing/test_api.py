"""The agents REST API: listing, admin-only management, self-service status, API tokens."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sangdam.core.db import Database
from sangdam.models import AuditEvent
from tests.conftest import PASSWORD, auth

API = "/api/v1"
ADMIN_ONLY_KO = "이 기능을 사용할 권한이 없습니다."


def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def error_of(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def new_agent(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "login": "park",
        "name": "박신입",
        "password": "a-long-enough-password",
        "rank": "agent",
        "team": "결제팀",
        "email": "park@hanbit.example",
        "skills": {"payment_billing": 2},
        "capacity": {"webchat": 2},
    }
    body.update(overrides)
    return body


def test_any_agent_lists_agents(client: TestClient, tokens: dict[str, str], agents: dict[str, int]) -> None:
    response = client.get(f"{API}/agents", headers=auth(tokens["pay"]))
    assert response.status_code == 200, response.text
    listed = {a["login"]: a for a in response.json()}
    assert set(listed) == {"admin", "super", "pay", "lost"}
    pay = listed["pay"]
    assert pay["id"] == agents["pay"]
    assert pay["role"] == "agent" and pay["rank"] == "agent" and pay["status"] == "offline"
    assert {s["code"]: s["level"] for s in pay["skills"]} == {"payment_billing": 4, "other": 2}
    assert pay["capacities"] == {"email": 5, "form": 5, "kakao": 3, "voice": 1, "webchat": 3}
    assert listed["super"]["rank"] == "lead" and listed["super"]["role"] == "supervisor"
    assert "password" not in response.text and "argon2" not in response.text
    assert client.get(f"{API}/agents").status_code == 401


def test_me_and_one_agent(client: TestClient, tokens: dict[str, str], agents: dict[str, int]) -> None:
    me = client.get(f"{API}/agents/me", headers=auth(tokens["lost"]))
    assert me.status_code == 200 and me.json()["login"] == "lost"
    one = client.get(f"{API}/agents/{agents['super']}", headers=auth(tokens["lost"]))
    assert one.status_code == 200 and one.json()["name"] == "김팀장"
    missing = client.get(f"{API}/agents/999999", headers=auth(tokens["lost"]))
    assert error_of(missing, 404)["message"] == "상담원을 찾을 수 없습니다."


def test_admin_creates_an_agent_and_issues_a_token(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    created = client.post(f"{API}/agents", json=new_agent(), headers=auth(tokens["admin"]))
    assert created.status_code == 201, created.text
    agent = created.json()
    assert "a-long-enough-password" not in created.text and "password" not in agent
    assert agent["login"] == "park" and agent["team"] == "결제팀" and agent["active"] is True
    assert agent["skills"] == [{"code": "payment_billing", "name": "결제/청구", "level": 2}]
    assert agent["capacities"] == {"webchat": 2}

    issued = client.post(f"{API}/agents/{agent['id']}/tokens", json={"name": "ARS 연동"}, headers=auth(tokens["admin"]))
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token.startswith("sgd_") and issued.json()["name"] == "ARS 연동"
    me = client.get(f"{API}/agents/me", headers=auth(token))
    assert me.status_code == 200 and me.json()["login"] == "park"
    assert [r.detail for r in audit_rows(db, "api_token.issue") if r.object_id == str(agent["id"])] == [
        {"name": "ARS 연동"}
    ]
    creation = [r for r in audit_rows(db, "agent.create") if r.object_id == str(agent["id"])]
    assert creation[0].actor_kind == "api"


@pytest.mark.parametrize(
    ("overrides", "status", "field", "message"),
    [
        ({"password": "short"}, 422, "password", "비밀번호는 10자 이상이어야 합니다."),
        ({"login": "pay"}, 409, "login", "이미 있는 아이디입니다."),
        ({"login": "박 상담"}, 422, "login", "아이디는 영문·숫자로 입력해 주세요."),
        ({"role": "root"}, 422, "role", "알 수 없는 역할입니다."),
        ({"skills": {"juggling": 3}}, 422, "skills", "알 수 없는 스킬입니다: juggling"),
        ({"skills": {"other": 9}}, 422, "skills", "스킬 수준은 1~5입니다."),
        ({"capacity": {"fax": 1}}, 422, "capacity", "알 수 없는 채널입니다: fax"),
        ({"email": "nope"}, 422, "email", "이메일 주소 형식이 올바르지 않습니다."),
        ({"shoe_size": 270}, 422, "shoe_size", None),
    ],
)
def test_create_agent_refuses_bad_input(
    client: TestClient,
    tokens: dict[str, str],
    overrides: dict[str, object],
    status: int,
    field: str,
    message: str | None,
) -> None:
    error = error_of(client.post(f"{API}/agents", json=new_agent(**overrides), headers=auth(tokens["admin"])), status)
    assert error["field"] == field
    if message:
        assert error["message"] == message
    assert "a-long-enough-password" not in str(error)


@pytest.mark.parametrize("who", ["pay", "super"])
def test_management_is_admin_only(client: TestClient, tokens: dict[str, str], agents: dict[str, int], who: str) -> None:
    headers = auth(tokens[who])
    for response in (
        client.post(f"{API}/agents", json=new_agent(), headers=headers),
        client.post(f"{API}/agents/{agents[who]}/tokens", json={"name": "내 토큰"}, headers=headers),
    ):
        error = error_of(response, 403)
        assert error["code"] == "forbidden" and error["message"] == ADMIN_ONLY_KO
    other = client.patch(f"{API}/agents/{agents['lost']}", json={"status": "break"}, headers=headers)
    assert error_of(other, 403)["message"] == "다른 상담원의 정보는 관리자만 바꿀 수 있습니다."
    promote = client.patch(f"{API}/agents/{agents[who]}", json={"role": "admin"}, headers=headers)
    assert error_of(promote, 403)["message"] == "상담원은 자신의 상태만 바꿀 수 있습니다."
    skills = client.patch(f"{API}/agents/{agents[who]}", json={"status": "break", "skills": {}}, headers=headers)
    assert error_of(skills, 403)["message"] == "상담원은 자신의 상태만 바꿀 수 있습니다."


def test_agent_changes_own_status(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    url = f"{API}/agents/{agents['pay']}"
    headers = auth(tokens["pay"])
    before = client.get(url, headers=headers).json()
    for value in ("available", "after_call", "break", "offline"):
        response = client.patch(url, json={"status": value}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == value
    assert response.json()["status_changed_at"] >= before["status_changed_at"]
    bad = client.patch(url, json={"status": "napping"}, headers=headers)
    error = error_of(bad, 422)
    assert error["field"] == "status" and error["message"].startswith("알 수 없는 상태입니다.")
    null = client.patch(url, json={"status": None}, headers=headers)
    assert error_of(null, 422)["field"] == "status"
    updates = audit_rows(db, "agent.update")
    assert len(updates) == 4 and all(u.actor_id == agents["pay"] for u in updates)


def test_admin_changes_role_rank_skills_capacity_and_activation(
    client: TestClient, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    url = f"{API}/agents/{agents['pay']}"
    admin = auth(tokens["admin"])
    changed = client.patch(
        url,
        json={
            "rank": "senior",
            "role": "supervisor",
            "team": "결제팀",
            "skills": {"payment_billing": 5, "lost_card": 3},
            "capacity": {"webchat": 4, "api": 2},
            "status": "available",
        },
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["rank"] == "senior" and body["role"] == "supervisor" and body["team"] == "결제팀"
    assert {s["code"]: s["level"] for s in body["skills"]} == {"payment_billing": 5, "lost_card": 3}
    assert body["capacities"]["webchat"] == 4 and body["capacities"]["api"] == 2 and body["capacities"]["voice"] == 1
    assert body["status"] == "available"
    # The new role takes effect at once for the agent's token.
    assert client.get(f"{API}/conversations", params={"status": "all"}, headers=auth(tokens["pay"])).status_code == 200

    off = client.patch(url, json={"active": False, "team": ""}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False and off.json()["team"] is None
    assert error_of(client.get(f"{API}/agents/me", headers=auth(tokens["pay"])), 401)["code"] == "unauthorized"
    listed = [a["login"] for a in client.get(f"{API}/agents", headers=admin).json()]
    assert "pay" not in listed
    everyone = client.get(f"{API}/agents", params={"include_inactive": True}, headers=admin).json()
    assert "pay" in [a["login"] for a in everyone]
    refused = client.post(f"{API}/agents/{agents['pay']}/tokens", json={"name": "x"}, headers=admin)
    assert error_of(refused, 409)["message"] == "비활성화된 상담원에게는 토큰을 발급할 수 없습니다."


def test_admin_may_not_lock_themselves_out(client: TestClient, tokens: dict[str, str], agents: dict[str, int]) -> None:
    url = f"{API}/agents/{agents['admin']}"
    admin = auth(tokens["admin"])
    for change in ({"active": False}, {"role": "agent"}):
        error = error_of(client.patch(url, json=change, headers=admin), 409)
        assert error["message"] == "자기 자신의 관리자 권한을 해제하거나 비활성화할 수 없습니다."
    assert client.patch(url, json={"status": "available"}, headers=admin).status_code == 200


def test_update_refuses_unknowns(client: TestClient, tokens: dict[str, str], agents: dict[str, int]) -> None:
    admin = auth(tokens["admin"])
    assert error_of(client.patch(f"{API}/agents/999999", json={"rank": "lead"}, headers=admin), 404)["code"] == (
        "not_found"
    )
    url = f"{API}/agents/{agents['pay']}"
    assert error_of(client.patch(url, json={"rank": "boss"}, headers=admin), 422)["field"] == "rank"
    assert error_of(client.patch(url, json={"skills": {"nope": 1}}, headers=admin), 422)["field"] == "skills"
    assert error_of(client.patch(url, json={"capacity": {"webchat": 99}}, headers=admin), 422)["field"] == "capacity"
    assert error_of(client.patch(url, json={"password": "x" * 12}, headers=admin), 422)["field"] == "password"
    tokens_missing = client.post(f"{API}/agents/999999/tokens", json={"name": "x"}, headers=admin)
    assert error_of(tokens_missing, 404)["code"] == "not_found"
    blank = client.post(f"{API}/agents/{agents['pay']}/tokens", json={"name": " "}, headers=admin)
    assert error_of(blank, 422)["field"] == "name"


def test_password_fixture_is_not_exposed(client: TestClient, tokens: dict[str, str]) -> None:
    text = client.get(f"{API}/agents", headers=auth(tokens["admin"])).text
    assert PASSWORD not in text
