"""The card-domain topic taxonomy (상담 유형) that a new database is seeded with.

Each topic has a skill of the same code; priority is higher for what cannot wait (a lost card,
fraud). ``sensitive`` topics always go to a person, never only to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.models import Skill, Topic


@dataclass(frozen=True, slots=True)
class TopicSeed:
    code: str
    name: str
    name_en: str
    priority: int
    sensitive: bool
    description: str


TAXONOMY: tuple[TopicSeed, ...] = (
    TopicSeed("lost_card", "분실/도난", "Lost or stolen card", 100, True, "카드 분실·도난 신고, 해제, 해외 분실"),
    TopicSeed(
        "payment_billing", "결제/청구", "Payments and billing", 60, False, "이중 결제, 청구서, 결제일, 취소 환불"
    ),
    TopicSeed("limit_approval", "한도/승인", "Limits and approvals", 60, False, "이용 한도, 승인 거절, 해외 승인"),
    TopicSeed("points_benefits", "포인트/혜택", "Points and benefits", 40, False, "포인트 조회·현금화, 캐시백, 연회비"),
    TopicSeed("cancel_reissue", "해지/재발급", "Cancellation and reissue", 50, False, "카드 해지, 재발급, 훼손, 배송"),
    TopicSeed("overdue_payment", "연체/수납", "Overdue and repayment", 70, False, "연체, 선결제, 수납 계좌"),
    TopicSeed("fraud_security", "보안/사기", "Security and fraud", 95, True, "부정 사용, 피싱·스미싱, 명의 도용"),
    TopicSeed("account_auth", "계정/인증", "Account and sign-in", 45, False, "앱 비밀번호, 본인 인증, 연락처 변경"),
    TopicSeed("transfer_pay", "송금/간편결제", "Transfers and easy pay", 55, False, "간편결제, 송금, 착오 송금"),
    TopicSeed("service_usage", "고객센터 이용", "Using the customer center", 30, False, "상담 시간, 채팅, 방문, 불만"),
    TopicSeed("other", "기타", "Other", 30, False, "그 밖의 문의"),
)

TOPIC_CODES: tuple[str, ...] = tuple(t.code for t in TAXONOMY)


def seed_taxonomy(session: Session) -> int:
    """Add the card-domain topics (and a skill for each) that are missing; returns how many were added."""
    existing = set(session.execute(select(Topic.code)).scalars())
    skills = {s.code: s for s in session.execute(select(Skill)).scalars()}
    added = 0
    for order, seed in enumerate(TAXONOMY):
        if seed.code in existing:
            continue
        skill = skills.get(seed.code)
        if skill is None:
            skill = Skill(code=seed.code, name=seed.name)
            session.add(skill)
        session.add(
            Topic(
                code=seed.code,
                name=seed.name,
                name_en=seed.name_en,
                description=seed.description,
                priority=seed.priority,
                sensitive=seed.sensitive,
                sort_order=order,
                skill=skill,
            )
        )
        added += 1
    if "supervisor" not in skills:
        session.add(Skill(code="supervisor", name="상급자 응대"))
    session.flush()
    return added
