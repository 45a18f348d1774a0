"""The declarative base, shared column types and the vocabularies of the domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from sangdam.core.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in and out, stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Channel(StrEnum):
    FORM = "form"  # web/app inquiry form (문의 접수)
    WEBCHAT = "webchat"
    EMAIL = "email"
    VOICE = "voice"
    KAKAO = "kakao"
    VISIT = "visit"
    API = "api"


CHANNEL_LABELS_KO = {
    "form": "문의 접수",
    "webchat": "채팅",
    "email": "이메일",
    "voice": "전화",
    "kakao": "카카오톡",
    "visit": "방문 예약",
    "api": "연동",
}


class ConversationStatus(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


STATUS_LABELS_KO = {
    "bot": "챗봇 응대",
    "queued": "대기",
    "assigned": "상담 중",
    "waiting_customer": "고객 답변 대기",
    "resolved": "답변 완료",
    "closed": "종료",
}

OPEN_STATUSES = (
    ConversationStatus.BOT,
    ConversationStatus.QUEUED,
    ConversationStatus.ASSIGNED,
    ConversationStatus.WAITING_CUSTOMER,
)


class SenderKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_LABELS_KO = {"agent": "상담원", "supervisor": "관리자(슈퍼바이저)", "admin": "시스템 관리자"}


class Rank(StrEnum):
    AGENT = "agent"  # 상담원
    SENIOR = "senior"  # 선임
    LEAD = "lead"  # 팀장


RANK_LABELS_KO = {"agent": "상담원", "senior": "선임", "lead": "팀장"}


class AgentStatus(StrEnum):
    AVAILABLE = "available"  # 상담가능
    AFTER_CALL = "after_call"  # 후처리
    BREAK = "break"  # 휴식
    OFFLINE = "offline"  # 오프라인


AGENT_STATUS_LABELS_KO = {"available": "상담가능", "after_call": "후처리", "break": "휴식", "offline": "오프라인"}


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    KAKAO = "kakao"
    WEB = "web"


TIER_LABELS_KO = {"general": "일반", "gold": "골드", "vip": "VIP"}

ACTIVITY_LABELS_KO = {
    "created": "접수",
    "queued": "대기열 등록",
    "requeued": "대기열 복귀",
    "offered": "상담원 연결 요청",
    "assigned": "배정",
    "transferred": "이관",
    "unassigned": "배정 해제",
    "topic_changed": "유형 변경",
    "status": "상태 변경",
    "reopened": "다시 열림",
    "escalated": "상급자 연결",
    "released": "배정 종료",
}
