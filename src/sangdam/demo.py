"""Demo data for a fictional card company, 한빛카드: teams, agents of each rank, customers, inquiries.

All names and numbers are invented. Every demo agent's password is ``DEMO_PASSWORD``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sangdam.conversations.actions import create_inquiry, send_outbound
from sangdam.conversations.schemas import InquiryCreate
from sangdam.conversations.taxonomy import TOPIC_CODES, seed_taxonomy
from sangdam.core.settings import Settings
from sangdam.models import Agent
from sangdam.models.base import Rank, Role
from sangdam.privacy.audit import Actor
from sangdam.routing.agents import create_agent

DEMO_PASSWORD = "hanbit-demo-2026"

ALL_SKILLS = {code: 3 for code in TOPIC_CODES}

AGENTS: list[dict[str, object]] = [
    {
        "login": "admin",
        "name": "시스템관리자",
        "role": Role.ADMIN,
        "rank": Rank.LEAD,
        "team": None,
        "skills": {**ALL_SKILLS, "supervisor": 5},
    },
    {
        "login": "lead.kim",
        "name": "김민정",
        "role": Role.SUPERVISOR,
        "rank": Rank.LEAD,
        "team": "카드상담1팀",
        "skills": {**{c: 5 for c in TOPIC_CODES}, "supervisor": 5},
    },
    {
        "login": "lead.park",
        "name": "박성호",
        "role": Role.SUPERVISOR,
        "rank": Rank.LEAD,
        "team": "분실·사고팀",
        "skills": {"lost_card": 5, "fraud_security": 5, "supervisor": 5},
    },
    {
        "login": "senior.lee",
        "name": "이서연",
        "role": Role.AGENT,
        "rank": Rank.SENIOR,
        "team": "카드상담1팀",
        "skills": {
            "payment_billing": 5,
            "limit_approval": 4,
            "points_benefits": 4,
            "cancel_reissue": 4,
            "overdue_payment": 4,
            "service_usage": 3,
            "other": 3,
        },
    },
    {
        "login": "senior.choi",
        "name": "최준혁",
        "role": Role.AGENT,
        "rank": Rank.SENIOR,
        "team": "분실·사고팀",
        "skills": {"lost_card": 5, "fraud_security": 4, "cancel_reissue": 3},
    },
    {
        "login": "agent.jung",
        "name": "정하은",
        "role": Role.AGENT,
        "rank": Rank.AGENT,
        "team": "카드상담1팀",
        "skills": {
            "payment_billing": 3,
            "points_benefits": 3,
            "account_auth": 3,
            "transfer_pay": 3,
            "service_usage": 3,
            "other": 2,
        },
    },
    {
        "login": "agent.kang",
        "name": "강도윤",
        "role": Role.AGENT,
        "rank": Rank.AGENT,
        "team": "카드상담1팀",
        "skills": {"limit_approval": 3, "cancel_reissue": 3, "overdue_payment": 2, "other": 2},
    },
    {
        "login": "agent.yoon",
        "name": "윤지우",
        "role": Role.AGENT,
        "rank": Rank.AGENT,
        "team": "분실·사고팀",
        "skills": {"lost_card": 3, "fraud_security": 2},
    },
]

INQUIRIES: list[dict[str, str]] = [
    {
        "name": "홍길동",
        "phone": "010-2345-6789",
        "topic": "payment_billing",
        "subject": "같은 결제가 두 번 청구됐어요",
        "body": "11월 18일 편의점에서 4,500원 결제했는데 명세서에 두 번 찍혀 있습니다. 확인 부탁드립니다.",
    },
    {
        "name": "김영희",
        "phone": "010-3456-7890",
        "topic": "points_benefits",
        "subject": "포인트 현금으로 받을 수 있나요",
        "body": "포인트가 32,000점 정도 있는데 제 계좌로 현금화하려면 어떻게 해야 하나요?",
    },
    {
        "name": "이철수",
        "phone": "010-4567-8901",
        "topic": "lost_card",
        "subject": "지갑을 잃어버렸습니다",
        "body": "오늘 지하철에서 지갑을 잃어버렸어요. 카드 분실신고 했는데 재발급은 언제 되나요?",
    },
    {
        "name": "박지민",
        "phone": "010-5678-9012",
        "topic": "limit_approval",
        "subject": "해외 결제가 거절돼요",
        "body": "일본 여행 중인데 호텔 결제가 계속 승인 거절됩니다. 해외 이용 설정이 필요한가요?",
    },
    {
        "name": "최수진",
        "phone": "010-6789-0123",
        "topic": "cancel_reissue",
        "subject": "카드가 휘어서 인식이 안 돼요",
        "body": "IC칩 부분이 휘어서 결제가 안 됩니다. 같은 번호로 재발급 가능한가요?",
    },
    {
        "name": "정우성",
        "phone": "010-7890-1234",
        "topic": "fraud_security",
        "subject": "제가 하지 않은 결제가 있어요",
        "body": "새벽 3시에 해외 온라인 쇼핑몰에서 89,000원 결제 문자가 왔는데 저는 결제한 적이 없습니다.",
    },
    {
        "name": "한소희",
        "phone": "010-8901-2345",
        "topic": "account_auth",
        "subject": "앱 비밀번호를 잊어버렸어요",
        "body": "한빛카드 앱 로그인 비밀번호가 기억나지 않아요. 재설정은 어디서 하나요?",
    },
    {
        "name": "오세훈",
        "phone": "010-9012-3456",
        "topic": "overdue_payment",
        "subject": "결제일을 놓쳤습니다",
        "body": "이번 달 결제일에 잔액이 부족해서 출금이 안 됐습니다. 지금 입금하면 연체 기록이 남나요?",
    },
]


def load_demo(session: Session, settings: Settings) -> dict[str, int]:
    """Load the demo organisation and a few inquiries (idempotent: skipped if agents exist)."""
    seed_taxonomy(session)
    counts = {"agents": 0, "inquiries": 0, "articles": 0}
    if session.execute(select(func.count()).select_from(Agent)).scalar_one() == 0:
        for spec in AGENTS:
            create_agent(session, password=DEMO_PASSWORD, **spec)  # type: ignore[arg-type]
            counts["agents"] += 1
        session.flush()
        reply_from = session.execute(select(Agent).where(Agent.login == "senior.lee")).scalar_one()
        for i, spec in enumerate(INQUIRIES):
            conversation = create_inquiry(session, settings, InquiryCreate(consent=True, **spec), [], Actor.system())
            counts["inquiries"] += 1
            if i == 1:
                send_outbound(
                    session,
                    settings,
                    conversation,
                    reply_from,
                    "안녕하세요, 한빛카드입니다. 포인트는 1포인트 = 1원으로 본인 명의 계좌로만 현금화할 수 있습니다. "
                    "앱 > 혜택 > 포인트 현금화에서 신청해 주세요.",
                    Actor("agent", reply_from.id),
                )
    try:
        from sangdam.knowledge.demo import load_demo_articles
    except ImportError:  # the knowledge base ships in the same package; absent only in a partial install
        load_demo_articles = None
    if load_demo_articles is not None:
        counts["articles"] = load_demo_articles(session)
    return counts
