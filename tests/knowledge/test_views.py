"""The knowledge base's pages: the portal FAQ (browse, search, article, vote), the console's FAQ editor
and synonym dictionary, and the suggestions shown while an inquiry is typed (deflection)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sangdam.core.db import Database
from sangdam.knowledge import actions
from sangdam.knowledge.schemas import ArticleCreate
from sangdam.knowledge.sync import sync_for
from sangdam.knowledge.views import VOTED_COOKIE
from sangdam.models import Conversation
from sangdam.models.knowledge import KbArticle, KbDeflection, KbSynonym
from sangdam.privacy.audit import Actor
from tests.conftest import PASSWORD
from tests.web.helpers import csrf_of, file_inquiry, login

API = "/api/v1/kb"


@pytest.fixture
def portal(kb: Database, client: TestClient) -> TestClient:
    """The app's client over a database holding the demo FAQ."""
    return client


def _article(db: Database, article_id: str) -> KbArticle:
    with db.session() as session:
        article = session.get(KbArticle, article_id)
        assert article is not None
        session.expunge(article)
        return article


def _hit_ids(html: str) -> list[str]:
    return re.findall(r'<li class="kb-hit" data-id="([^"]+)"', html)


def _add(db: Database, **fields: object) -> None:
    values: dict[str, object] = {"category": "other", "keywords": [], "synonyms": [], "published": True, **fields}
    with db.transaction() as session:
        actions.create_article(session, ArticleCreate.model_validate(values), Actor.system())


def _sign_in(client: TestClient, who: str) -> str:
    client.cookies.clear()
    return login(client, who, PASSWORD)


# ---- portal ----------------------------------------------------------------------------------------


def test_faq_lists_categories_with_published_articles_only(kb: Database, portal: TestClient) -> None:
    _add(kb, id="draft-secret", question="아직 공개하지 않은 초안 질문", answer="초안", published=False)
    page = portal.get("/faq")
    assert page.status_code == 200
    assert '<section class="kb-category" id="cat-lost_card">' in page.text
    assert "분실/도난" in page.text and "포인트/혜택" in page.text
    assert 'href="/faq/lost-card-report"' in page.text
    assert "아직 공개하지 않은 초안 질문" not in page.text
    sections = re.findall(r'id="cat-([a-z_]+)"', page.text)
    assert sections[0] == "lost_card"  # the taxonomy's order
    english = portal.get("/faq", params={"lang": "en"})
    assert "Lost or stolen card" in english.text and "<h1>FAQ</h1>" in english.text
    portal.cookies.clear()
    home = portal.get("/")
    assert 'href="/faq">자주 묻는 질문</a>' in home.text  # the portal's nav
    assert 'action="/faq/search"' in home.text  # the search box on the home page


def test_faq_search_highlights_matched_words(portal: TestClient) -> None:
    page = portal.get("/faq/search", params={"q": "카드 잃어버렸어요 어떡해요"})
    assert page.status_code == 200
    assert _hit_ids(page.text)[0] == "lost-card-report"
    first = page.text.split('<li class="kb-hit"')[1]
    assert "<mark>카드</mark>" in first and "<mark>잃어버렸</mark>" in first  # the answer's own words
    assert "<mark>분실</mark>" in first  # 잃어버리다 → 분실 through the dictionary
    assert re.findall(r'<span class="kb-term">([^<]+)</span>', first) == ["카드", "잃어버렸"]
    typo = portal.get("/faq/search", params={"q": "분싷신고"})
    assert 'id="kb-corrected"' in typo.text and "분싷신고" in typo.text
    none = portal.get("/faq/search", params={"q": "오늘 날씨가 좋네요"})
    assert 'id="kb-empty"' in none.text and 'href="/inquiry"' in none.text
    empty = portal.get("/faq/search", params={"q": "  "}, follow_redirects=False)
    assert empty.status_code == 303 and empty.headers["location"] == "/faq"


def test_search_results_and_articles_escape_html(kb: Database, portal: TestClient) -> None:
    _add(
        kb,
        id="xss-check",
        question='<script>alert("q")</script> 카드깡 신고는 어디에 하나요?',
        answer='카드깡 제안을 받았다면 신고해 주세요. <img src=x onerror="alert(1)"> [링크](javascript:alert(2))',
        keywords=["<b>카드깡</b>"],
    )
    page = portal.get("/faq/search", params={"q": '카드깡 <script>alert("typed")</script>'})
    assert _hit_ids(page.text)[0] == "xss-check"
    assert "<script>alert" not in page.text and "<img" not in page.text and "<b>" not in page.text
    assert "&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;" in re.sub(r"</?mark>", "", page.text)  # as text
    assert 'value="카드깡 &lt;script&gt;alert(&#34;typed&#34;)&lt;/script&gt;"' in page.text  # the query too
    assert "<mark>카드깡</mark>" in page.text
    article = portal.get("/faq/xss-check")
    assert "<script>alert" not in article.text and "<img" not in article.text
    assert "javascript:" not in article.text.split('<div class="kb-answer">')[1].split("</div>")[0]
    api = portal.get(f"{API}/suggest", params={"q": "카드깡 신고하고 싶어요"}).json()
    assert api["hits"][0]["id"] == "xss-check" and "<script>" not in api["hits"][0]["question_html"]


def test_article_counts_views_and_takes_one_vote_per_browser(kb: Database, portal: TestClient) -> None:
    page = portal.get("/faq/cashback")
    assert page.status_code == 200 and "도움이 되었나요?" in page.text
    assert '<div class="kb-answer"><p>' in page.text  # the answer as rich text
    portal.get("/faq/cashback")
    assert _article(kb, "cashback").views == 2
    token = csrf_of(page.text)
    forged = portal.post("/faq/cashback/vote", data={"csrf_token": "forged", "helpful": "yes"})
    assert forged.status_code == 403 and "보안 토큰" in forged.text
    voted = portal.post("/faq/cashback/vote", data={"csrf_token": token, "helpful": "yes"}, follow_redirects=False)
    assert voted.status_code == 303 and voted.headers["location"] == "/faq/cashback?voted=yes"
    thanks = portal.get(voted.headers["location"])
    assert "응답해 주셔서 감사합니다." in thanks.text and 'id="kb-vote-form"' not in thanks.text
    assert _article(kb, "cashback").views == 2  # the page after a vote is not another visit
    again = portal.post("/faq/cashback/vote", data={"csrf_token": token, "helpful": "no"}, follow_redirects=False)
    assert again.headers["location"] == "/faq/cashback?voted=already"
    assert "이미 응답하셨습니다" in portal.get("/faq/cashback").text
    counts = _article(kb, "cashback")
    assert (counts.helpful_yes, counts.helpful_no) == (1, 0)
    portal.cookies.delete(VOTED_COOKIE)  # another browser
    portal.post("/faq/cashback/vote", data={"csrf_token": token, "helpful": "no"})
    counts = _article(kb, "cashback")
    assert (counts.helpful_yes, counts.helpful_no) == (1, 1)
    bad = portal.post("/faq/cashback/vote", data={"csrf_token": token, "helpful": "maybe"})
    assert bad.status_code == 422
    _add(kb, id="still-draft", question="초안 질문입니다", answer="초안", published=False)
    assert portal.get("/faq/still-draft").status_code == 404
    assert "찾을 수 없습니다" in portal.get("/faq/no-such-article").text


# ---- console ---------------------------------------------------------------------------------------


def test_console_editor_is_for_admins_supervisors_may_look(
    kb: Database, portal: TestClient, agents: dict[str, int]
) -> None:
    anonymous = portal.get("/console/kb", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")
    csrf = _sign_in(portal, "pay")
    refused = portal.get("/console/kb")
    assert refused.status_code == 403 and "FAQ 관리 화면은" in refused.text
    assert portal.get("/console/kb/synonyms").status_code == 403
    assert (
        portal.post("/console/kb/synonyms", data={"csrf_token": csrf, "term": "a", "canonical": "b"}).status_code == 403
    )

    csrf = _sign_in(portal, "super")
    listing = portal.get("/console/kb")
    assert listing.status_code == 200 and 'data-id="lost-card-report"' in listing.text
    assert 'id="kb-new"' not in listing.text
    view = portal.get("/console/kb/articles/cashback")
    assert view.status_code == 200 and "fieldset" in view.text and "disabled" in view.text
    assert 'id="kb-save"' not in view.text and 'id="kb-publish"' not in view.text
    assert portal.get("/console/kb/new").status_code == 403
    change = portal.post("/console/kb/articles/cashback", data={"csrf_token": csrf, "question": "바뀐 질문"})
    assert change.status_code == 403 and "시스템 관리자" in change.text
    assert portal.post("/console/kb/articles/cashback/unpublish", data={"csrf_token": csrf}).status_code == 403
    assert _article(kb, "cashback").published is True


def test_admin_creates_edits_publishes_and_deletes_and_search_follows_at_once(
    kb: Database, portal: TestClient, agents: dict[str, int]
) -> None:
    sync_for(kb.engine).current(kb.session())  # the index is built and warm before the edits
    csrf = _sign_in(portal, "admin")
    form = portal.get("/console/kb/new")
    assert form.status_code == 200 and "답변 쓰는 법" in form.text and "**굵게**" in form.text
    fields = {
        "csrf_token": csrf,
        "id": "overseas-atm",
        "category": "limit_approval",
        "question": "해외 ATM에서 현금서비스를 받으려면 어떻게 하나요?",
        "answer": "해외 ATM에서는 **현금서비스**를 받을 수 있습니다.\n\n- 수수료가 붙습니다\n- 한도 안에서만 됩니다",
        "keywords": "해외 ATM, 현금서비스",
        "synonyms": "외국 현금인출기",
        "sort_order": "3",
    }
    missing_csrf = portal.post("/console/kb/new", data={**fields, "csrf_token": "nope"})
    assert missing_csrf.status_code == 403
    bad_id = portal.post("/console/kb/new", data={**fields, "id": "해외 ATM"})
    assert bad_id.status_code == 400 and "영문 소문자" in bad_id.text and "해외 ATM에서 현금서비스를" in bad_id.text
    created = portal.post("/console/kb/new", data=fields, follow_redirects=False)
    assert (
        created.status_code == 303 and created.headers["location"] == "/console/kb/articles/overseas-atm?done=created"
    )
    duplicate = portal.post("/console/kb/new", data=fields)
    assert duplicate.status_code == 409 and "이미 있습니다" in duplicate.text
    page = portal.get(created.headers["location"])
    assert "글을 만들었습니다." in page.text and "<strong>현금서비스</strong>" in page.text and "초안" in page.text

    # A draft: the console finds it, customers do not.
    console_hits = portal.get("/console/kb", params={"q": "외국 현금인출기"}).text
    assert 'data-id="overseas-atm"' in console_hits and "<mark>" in console_hits
    assert "overseas-atm" not in _hit_ids(portal.get("/faq/search", params={"q": "해외 ATM 현금서비스"}).text)
    published = portal.post("/console/kb/articles/overseas-atm/publish", data={"csrf_token": csrf})
    assert "게시했습니다" in published.text
    assert _hit_ids(portal.get("/faq/search", params={"q": "해외 ATM 현금서비스"}).text)[0] == "overseas-atm"

    # An edit is searchable right away: no restart, the index follows the knowledge-base version.
    edit = {**fields, "question": "해외 여행 중 자동입출금기에서 돈을 뽑으려면?", "keywords": "자동입출금기"}
    saved = portal.post("/console/kb/articles/overseas-atm", data=edit, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    found = portal.get("/faq/search", params={"q": "자동입출금기에서 돈 뽑기"}).text
    assert _hit_ids(found)[0] == "overseas-atm" and "<mark>자동입출금기</mark>" in found
    article = _article(kb, "overseas-atm")
    assert article.question == "해외 여행 중 자동입출금기에서 돈을 뽑으려면?" and article.sort_order == 3
    assert article.keywords == ["자동입출금기"] and article.updated_by_id == agents["admin"]
    blank = portal.post("/console/kb/articles/overseas-atm", data={**edit, "question": " "})
    assert blank.status_code == 400 and "질문(question)을(를) 입력해 주세요." in blank.text

    portal.post("/console/kb/articles/overseas-atm/unpublish", data={"csrf_token": csrf})
    assert portal.get("/faq/overseas-atm").status_code == 404
    unconfirmed = portal.post("/console/kb/articles/overseas-atm/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 422
    deleted = portal.post(
        "/console/kb/articles/overseas-atm/delete", data={"csrf_token": csrf, "confirm": "on"}, follow_redirects=False
    )
    assert deleted.headers["location"] == "/console/kb?done=deleted"
    assert "글을 지웠습니다." in portal.get(deleted.headers["location"]).text
    assert "overseas-atm" not in portal.get("/console/kb", params={"q": "자동입출금기"}).text
    assert portal.get("/console/kb/articles/overseas-atm").status_code == 404


def test_console_lists_drafts_and_filters(kb: Database, portal: TestClient, agents: dict[str, int]) -> None:
    _add(kb, id="a-draft", question="이벤트 응모는 어떻게 하나요?", answer="앱에서 응모합니다.", published=False)
    _sign_in(portal, "admin")
    everything = portal.get("/console/kb").text
    assert 'data-id="a-draft"' in everything and 'data-id="cashback"' in everything
    drafts = portal.get("/console/kb", params={"status": "draft"}).text
    assert 'data-id="a-draft"' in drafts and 'data-id="cashback"' not in drafts
    lost = portal.get("/console/kb", params={"category": "lost_card"}).text
    assert re.findall(r'<tr data-id="([^"]+)"', lost) == ["lost-card-report", "lost-card-release", "lost-card-overseas"]
    assert 'id="kb-stats"' in everything


def test_synonym_dictionary_editor_changes_search_at_once(
    kb: Database, portal: TestClient, agents: dict[str, int]
) -> None:
    assert "cashback" not in _hit_ids(portal.get("/faq/search", params={"q": "머니백"}).text)
    csrf = _sign_in(portal, "admin")
    page = portal.get("/console/kb/synonyms")
    assert page.status_code == 200 and "기본 사전" in page.text and "비번" in page.text
    forged = portal.post("/console/kb/synonyms", data={"csrf_token": "nope", "term": "머니백", "canonical": "캐시백"})
    assert forged.status_code == 403
    same = portal.post("/console/kb/synonyms", data={"csrf_token": csrf, "term": "캐시백", "canonical": "캐시백"})
    assert same.status_code == 400 and "같은 말을 동의어로 등록할 수 없습니다." in same.text
    added = portal.post(
        "/console/kb/synonyms",
        data={"csrf_token": csrf, "term": "머니백", "canonical": "캐시백"},
        follow_redirects=False,
    )
    assert added.headers["location"] == "/console/kb/synonyms?done=synonym_added"
    assert 'data-term="머니백"' in portal.get(added.headers["location"]).text
    assert _hit_ids(portal.get("/faq/search", params={"q": "머니백 언제 들어와요"}).text)[0] == "cashback"

    with kb.session() as session:
        entry_id = session.execute(select(KbSynonym.id).where(KbSynonym.term == "머니백")).scalar_one()
    removed = portal.post(f"/console/kb/synonyms/{entry_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert removed.headers["location"] == "/console/kb/synonyms?done=synonym_removed"
    assert "cashback" not in _hit_ids(portal.get("/faq/search", params={"q": "머니백"}).text)
    assert portal.post(f"/console/kb/synonyms/{entry_id}/delete", data={"csrf_token": csrf}).status_code == 404


# ---- suggestions while typing an inquiry (deflection) ----------------------------------------------


def _deflections(db: Database) -> list[KbDeflection]:
    with db.session() as session:
        rows = list(session.execute(select(KbDeflection).order_by(KbDeflection.id)).scalars())
        session.expunge_all()
        return rows


def test_suggest_keeps_one_deflection_row_per_typing_session(kb: Database, portal: TestClient) -> None:
    assert portal.get(f"{API}/suggest", params={"q": "카드"}).json()["deflection_id"] is None  # too vague
    assert portal.get(f"{API}/suggest", params={"q": "안녕하세요"}).json()["hits"] == []
    assert _deflections(kb) == []

    first = portal.get(f"{API}/suggest", params={"q": "포인트 현금"}).json()
    assert first["hits"][0]["id"] == "points-cashout" and len(first["hits"]) <= 3
    assert "<mark>" in first["hits"][0]["question_html"] and first["hits"][0]["snippet_html"]
    assert first["deflection_id"] and first["token"]
    more = {"deflection_id": first["deflection_id"], "token": first["token"]}
    second = portal.get(
        f"{API}/suggest", params={"q": "포인트 현금으로 받고 싶어요 카드번호 4111-1111-1111-1111", **more}
    )
    assert second.json()["deflection_id"] == first["deflection_id"]
    (row,) = _deflections(kb)
    assert row.query.startswith("포인트 현금으로 받고 싶어요") and "4111-1111-1111-1111" not in row.query  # masked
    assert "points-cashout" in row.shown_article_ids and row.submitted is False

    forged = portal.get(f"{API}/suggest", params={"q": "포인트 현금", "deflection_id": row.id, "token": "x.y.z"})
    assert forged.json()["deflection_id"] != row.id and len(_deflections(kb)) == 2
    nothing_now = portal.get(f"{API}/suggest", params={"q": "안녕하세요 반갑습니다", **more}).json()
    assert nothing_now["hits"] == [] and nothing_now["deflection_id"] == row.id  # the session's row is kept


def test_resolved_records_the_article_and_a_helpful_vote(kb: Database, portal: TestClient) -> None:
    shown = portal.get(f"{API}/suggest", params={"q": "포인트 현금으로 받고 싶어요"}).json()
    row_id, token = shown["deflection_id"], shown["token"]
    url = f"{API}/deflections/{row_id}/resolved"
    refused = portal.post(url, json={"article_id": "points-cashout", "token": "forged.token.value"})
    assert refused.status_code == 403 and refused.json()["error"]["message"].startswith("확인할 수 없는 요청")
    other = portal.get(f"{API}/suggest", params={"q": "결제일 바꾸고 싶어요"}).json()
    assert portal.post(url, json={"article_id": "points-cashout", "token": other["token"]}).status_code == 403
    done = portal.post(url, json={"article_id": "points-cashout", "token": token})
    assert done.status_code == 200 and done.json()["opened_article_id"] == "points-cashout"
    portal.post(url, json={"article_id": "points-cashout", "token": token})  # a double click counts once
    assert _article(kb, "points-cashout").helpful_yes == 1


def test_submitting_anyway_marks_the_deflection_submitted(kb: Database, portal: TestClient) -> None:
    shown = portal.get(f"{API}/suggest", params={"q": "같은 결제가 두 번 청구됐어요"}).json()
    status, receipt = file_inquiry(portal, deflection_id=str(shown["deflection_id"]), files=[])
    assert status == 303
    with kb.session() as session:
        conversation_id = session.execute(
            select(Conversation.id).where(Conversation.receipt_number == receipt)
        ).scalar_one()
    (row,) = _deflections(kb)
    assert row.submitted is True and row.conversation_id == conversation_id

    # The JSON API does the same; an unknown id does not stop an inquiry.
    shown = portal.get(f"{API}/suggest", params={"q": "분실 신고 하려고요"}).json()
    body = {
        "name": "김민수",
        "phone": "010-3456-7890",
        "topic": "lost_card",
        "body": "카드를 잃어버렸어요. 분실 신고 부탁드립니다.",
        "consent": True,
        "deflection_id": shown["deflection_id"],
    }
    assert portal.post("/api/v1/inquiries", json=body).status_code == 201
    assert _deflections(kb)[-1].submitted is True and _deflections(kb)[-1].conversation_id is not None
    assert portal.post("/api/v1/inquiries", json={**body, "deflection_id": 99999}).status_code == 201
    status, _ = file_inquiry(portal, deflection_id="99999", files=[])
    assert status == 303
    with kb.session() as session:
        assert session.execute(select(func.count()).select_from(KbDeflection)).scalar_one() == 2


def test_startup_builds_the_index_before_the_first_search(kb: Database, portal: TestClient) -> None:
    index = sync_for(kb.engine).index
    assert index.version >= 0 and len(index) == 48
