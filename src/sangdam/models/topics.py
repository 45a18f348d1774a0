"""The topic taxonomy (상담 유형) and the skills that serve it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sangdam.models.base import Base


class Skill(Base):
    """Something an agent can do, at a level: topics and queues require skills."""

    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Topic(Base):
    """A kind of contact (분실/도난, 결제/청구 …); admins can extend the taxonomy."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    priority: Mapped[int] = mapped_column(default=50)  # higher is more urgent
    sensitive: Mapped[bool] = mapped_column(default=False)  # lost card, fraud, disputes: always a person
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    skill_id: Mapped[int | None] = mapped_column(ForeignKey("skills.id"))

    skill: Mapped[Skill | None] = relationship(lazy="joined")
