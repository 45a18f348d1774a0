"""The activity log of a conversation (created, queued, assigned, status changes …).

Nearly every action writes a line, so it is a plain insert rather than an ORM object: the
conversation's row is in the database once it has an id, and nothing reads the line back within
the same action.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.core.sql import PreparedInsert
from sangdam.models import ConversationActivity

_INSERT = PreparedInsert(
    ConversationActivity.__table__, ["conversation_id", "kind", "actor_agent_id", "data", "created_at"]
)


def log_activity(session: Session, conversation_id: int, kind: str, actor_agent_id: int | None, /, **data: Any) -> None:
    _INSERT.execute(
        session.connection(),
        {
            "conversation_id": conversation_id,
            "kind": kind,
            "actor_agent_id": actor_agent_id,
            "data": data,
            "created_at": now(),
        },
    )
