"""The audit log: every action that reads or changes a customer's data writes who, what, when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.core.db import keep_after_rollback
from sangdam.core.sql import PreparedInsert
from sangdam.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an agent (console or API token), a customer (portal), or the system."""

    kind: str  # agent, api, customer, system
    id: int | None = None
    ip: str | None = None
    role: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def customer(cls, customer_id: int | None = None, ip: str | None = None) -> Actor:
        return cls("customer", customer_id, ip)


_INSERT = PreparedInsert(
    AuditEvent.__table__,
    ["actor_kind", "actor_id", "action", "object_type", "object_id", "customer_id", "ip", "detail", "at"],
)


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str | None,
    *,
    customer_id: int | None = None,
    survive_rollback: bool = False,
    **detail: Any,
) -> None:
    """Write an audit row in the current transaction (it commits or rolls back with the change).

    The row goes straight to the database (a plain insert, not through the ORM's unit of work:
    every request writes one, so it must be cheap; the table has no foreign keys to wait for).
    With ``survive_rollback`` the row is written even when the transaction fails, as for a
    refused access: the refusal rolls the request back, but not its trace.
    """
    values: dict[str, Any] = {
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "customer_id": customer_id,
        "ip": actor.ip,
        "detail": detail,
        "at": now(),
    }
    if survive_rollback:
        keep_after_rollback(session, AuditEvent(**values))
    else:
        _INSERT.execute(session.connection(), values)
