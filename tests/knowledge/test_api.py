"""The knowledge REST API: public search and reading, agents' drafts and topics, editors' changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sangdam.core.db import Database
from sangdam.core.settings import Settings
from sangdam.knowledge.api import router
from sangdam.knowledge.demo import demo_lines
from tests.conftest import auth

API = "/api/v1/kb"


@pytest.fixture
def kb_app(settings: Settings, kb: Database) -> FastAPI:
    from sangdam.web.app import create_app

    app = create_app(settings, database=kb, run_migrations=False)
    if not any(getattr(r, "path", "").startswith(API) for r in app.routes):
        app.include_router(router)
    return app


@pytest.fixture
def api(kb_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(kb_app) as client:
        yield client


def test_public_search(api: TestClient) -> None:
    response = api.get(f"{API}/search", params={"q": "카드를 잃어버렸어요", "top": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "카드를 잃어버렸어요"
    assert body["hits"][0]["id"] == "lost-card-report" and len(body["hits"]) == 2
    assert body["hits"][0]["matched"] == ["카드", "잃어버렸"]
    assert "<mark>" in body["hits"][0]["question_html"]
    typo = api.get(f"{API}/search", params={"q": "분싷신고"}).json()
    assert "분싷신고" in typo["corrections"]
    assert api.get(f"{API}/search", params={"q": ""}).status_code == 422


def test_public_reading_views_and_votes(api: TestClient) -> None:
    categories = api.get(f"{API}/categories").json()
    assert categories[0] == {"code": "lost_card", "name": "분실/도난", "articles": 3}
    listed = api.get(f"{API}/articles", params={"category": "lost_card"}).json()
    assert {a["id"] for a in listed} == {"lost-card-report", "lost-card-release", "lost-card-overseas"}
    article = api.get(f"{API}/articles/cashback").json()
    assert article["answer_html"].startswith("<p>") and "<ul>" in article["answer_html"]
    assert api.post(f"{API}/articles/cashback/view").status_code == 204
    voted = api.post(f"{API}/articles/cashback/vote", json={"helpful": True})
    assert voted.json() == {"helpful_yes": 1, "helpful_no": 0}
    assert api.get(f"{API}/articles/popular", params={"limit": 1}).json()[0]["id"] == "cashback"
    missing = api.get(f"{API}/articles/nope")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "글을 찾을 수 없습니다."


def test_deflection_log(api: TestClient, tokens: dict[str, str]) -> None:
    made = api.post(f"{API}/deflections", json={"query": "카드 분실", "article_ids": ["lost-card-report"]})
    assert made.status_code == 201
    deflection = made.json()
    opened = api.post(f"{API}/deflections/{deflection['id']}/opened", json={"article_id": "lost-card-report"})
    assert opened.json()["opened_article_id"] == "lost-card-report"
    stats = api.get(f"{API}/admin/deflections/stats", headers=auth(tokens["pay"])).json()
    assert stats["searches"] == 1 and stats["opened"] == 1 and stats["deflection_rate"] == 1.0


def test_agents_only_routes_need_a_token(api: TestClient, tokens: dict[str, str]) -> None:
    assert api.post(f"{API}/topic", json={"text": "카드 잃어버렸어요"}).status_code == 401
    guess = api.post(f"{API}/topic", json={"text": "카드 잃어버렸어요"}, headers=auth(tokens["pay"])).json()
    assert guess["category"] == "lost_card" and guess["confidence"] > 0.35
    unsure = api.post(f"{API}/topic", json={"text": "오늘 날씨 좋네요"}, headers=auth(tokens["pay"])).json()
    assert unsure == {"category": None, "confidence": 0.0, "article_id": None}


def test_editors_manage_articles(api: TestClient, tokens: dict[str, str]) -> None:
    draft = {
        "id": "new-benefit",
        "category": "points_benefits",
        "question": "주유 할인은 어떻게 받나요?",
        "answer": "주유소에서 결제하면 **리터당 60원** 할인됩니다.",
        "keywords": ["주유 할인"],
    }
    assert api.post(f"{API}/admin/articles", json=draft, headers=auth(tokens["pay"])).status_code == 403
    created = api.post(f"{API}/admin/articles", json=draft, headers=auth(tokens["super"]))
    assert created.status_code == 201 and created.json()["published"] is False
    assert api.post(f"{API}/admin/articles", json=draft, headers=auth(tokens["super"])).status_code == 409
    assert api.get(f"{API}/search", params={"q": "주유 할인"}).json()["hits"] == []
    drafts = api.get(f"{API}/admin/search", params={"q": "주유 할인"}, headers=auth(tokens["pay"])).json()
    assert drafts["hits"][0]["id"] == "new-benefit"
    published = api.patch(f"{API}/admin/articles/new-benefit", json={"published": True}, headers=auth(tokens["admin"]))
    assert published.json()["published"] is True
    assert api.get(f"{API}/search", params={"q": "주유 할인"}).json()["hits"][0]["id"] == "new-benefit"
    assert api.delete(f"{API}/admin/articles/new-benefit", headers=auth(tokens["admin"])).status_code == 204
    assert api.get(f"{API}/admin/articles/new-benefit", headers=auth(tokens["pay"])).status_code == 404
    bad = api.post(f"{API}/admin/articles", json={**draft, "id": "Bad Id"}, headers=auth(tokens["admin"]))
    assert bad.status_code == 422


def test_synonyms_import_and_export(api: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    entry = api.post(f"{API}/admin/synonyms", json={"term": "포현", "canonical": "포인트 현금화"}, headers=admin)
    assert entry.status_code == 201
    assert api.get(f"{API}/search", params={"q": "포현"}).json()["hits"][0]["id"] == "points-cashout"
    assert [s["term"] for s in api.get(f"{API}/admin/synonyms", headers=admin).json()] == ["포현"]
    assert api.delete(f"{API}/admin/synonyms/{entry.json()['id']}", headers=admin).status_code == 204

    exported = api.get(f"{API}/admin/export", headers=admin)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    assert len(exported.text.splitlines()) == len([line for line in demo_lines() if line.strip()])
    again = api.post(f"{API}/admin/import", content=exported.content, headers=admin)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": len(exported.text.splitlines())}
    refused = api.post(f"{API}/admin/import", content=b'{"id": "x"}\n', headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("가져오지 않았습니다. 1번째 줄")
