"""core.sql: prepared statements write exactly what the ORM reads back, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from sangdam.core.db import Database
from sangdam.core.sql import Prepared, PreparedInsert
from sangdam.models import AuditEvent, ContactPoint, Customer

AUDIT = AuditEvent.__table__
NEW_AUDIT = PreparedInsert(
    AUDIT, ["actor_kind", "actor_id", "action", "object_type", "object_id", "customer_id", "ip", "detail", "at"]
)
NEW_CUSTOMER = PreparedInsert(Customer.__table__, ["name", "tier", "language", "created_at", "updated_at"])
NEW_CONTACT = PreparedInsert(ContactPoint.__table__, ["customer_id", "kind", "value", "verified", "created_at"])
SEOUL = timezone(timedelta(hours=9))


def audit_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "actor_kind": "customer",
        "actor_id": None,
        "action": "conversation.create",
        "object_type": "conversation",
        "object_id": "7",
        "customer_id": 3,
        "ip": "203.0.113.9",
        "detail": {"channel": "form", "masked": ["card_number"], "이름": "홍길동"},
        "at": datetime(2026, 12, 4, 23, 30, 15, 123456, tzinfo=SEOUL),
    }
    row.update(changes)
    return row


def test_an_insert_stores_what_the_orm_reads_back(db: Database) -> None:
    """Datetimes go through the column's UTC type, JSON through its serializer, like an ORM flush."""
    with db.transaction() as session:
        new_id = NEW_AUDIT.insert(session.connection(), audit_row())
        orm_row = AuditEvent(**audit_row(object_id="8"))
        session.add(orm_row)
    assert new_id > 0
    with db.session() as session:
        prepared, flushed = session.get(AuditEvent, new_id), session.get(AuditEvent, orm_row.id)
        assert prepared is not None and flushed is not None
        assert prepared.at == flushed.at == datetime(2026, 12, 4, 14, 30, 15, 123456, tzinfo=UTC)
        assert prepared.detail == flushed.detail == {"channel": "form", "masked": ["card_number"], "이름": "홍길동"}
        assert (prepared.ip, prepared.object_id, prepared.actor_id) == ("203.0.113.9", "7", None)


def test_ids_come_back_in_order_and_many_rows_go_in_one_call(db: Database) -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    with db.transaction() as session:
        conn = session.connection()
        first = NEW_CUSTOMER.insert(
            conn, {"name": "김민수", "tier": "general", "language": "ko", "created_at": at, "updated_at": at}
        )
        second = NEW_CUSTOMER.insert(
            conn, {"name": "이서연", "tier": "vip", "language": "en", "created_at": at, "updated_at": at}
        )
        NEW_AUDIT.execute_many(conn, [audit_row(object_id=str(i)) for i in range(3)])
        NEW_AUDIT.execute_many(conn, [])  # nothing to write is not an error
    assert second == first + 1
    with db.session() as session:
        assert session.get(Customer, second).name == "이서연"  # type: ignore[union-attr]
        ids = session.execute(select(AuditEvent.object_id).order_by(AuditEvent.id)).scalars().all()
        assert ids == ["0", "1", "2"]


def test_selects_updates_and_values_bound_in_the_statement(db: Database) -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    later = at + timedelta(hours=1)
    by_action = Prepared(
        select(AUDIT.c.object_id)
        .where(AUDIT.c.action == bindparam("action"), AUDIT.c.object_type == "conversation")
        .order_by(AUDIT.c.id)
    )
    touch = Prepared(
        update(Customer.__table__).where(Customer.__table__.c.id == bindparam("cid")).values(updated_at=bindparam("at"))
    )
    with db.transaction() as session:
        conn = session.connection()
        NEW_AUDIT.execute_many(conn, [audit_row(object_id="1"), audit_row(object_id="2", object_type="customer")])
        assert by_action.all(conn, {"action": "conversation.create"}) == [("1",)]
        cid = NEW_CUSTOMER.insert(
            conn, {"name": "박지훈", "tier": "general", "language": "ko", "created_at": at, "updated_at": at}
        )
        assert touch.execute(conn, {"cid": cid, "at": later}) == 1
        assert touch.execute(conn, {"cid": cid + 1, "at": later}) == 0
        assert (
            by_action.first(conn, {"action": "nothing"}) is None
            and by_action.scalar(conn, {"action": "nothing"}) is None
        )
    with db.session() as session:
        assert session.get(Customer, cid).updated_at == later  # type: ignore[union-attr]


def test_database_errors_are_sqlalchemy_errors_and_roll_back(db: Database) -> None:
    at = datetime(2026, 12, 4, tzinfo=UTC)
    with pytest.raises(IntegrityError), db.transaction() as session:
        conn = session.connection()
        cid = NEW_CUSTOMER.insert(
            conn, {"name": "최유진", "tier": "general", "language": "ko", "created_at": at, "updated_at": at}
        )
        contact = {"customer_id": cid, "kind": "phone", "value": "+821012345678", "verified": False, "created_at": at}
        NEW_CONTACT.insert(conn, contact)
        NEW_CONTACT.insert(conn, contact)  # (kind, value) is unique
    with db.session() as session:
        assert session.execute(select(Customer)).first() is None


def test_mistakes_in_use_are_refused_before_any_sql_runs(db: Database) -> None:
    with db.transaction() as session:
        conn = session.connection()
        with pytest.raises(TypeError, match="'ip'"):
            NEW_AUDIT.insert(conn, {k: v for k, v in audit_row().items() if k != "ip"})
        without_at = PreparedInsert(AUDIT, ["actor_kind", "action", "object_type", "detail"])
        with pytest.raises(ValueError, match="defaults are not computed"):  # ``at`` has a Python default
            without_at.insert(conn, {"actor_kind": "system", "action": "x", "object_type": "y", "detail": {}})
        expanding = Prepared(select(AUDIT.c.id).where(AUDIT.c.id.in_(bindparam("ids", expanding=True))))
        with pytest.raises(ValueError, match="expanding"):
            expanding.execute(conn, {"ids": [1, 2]})
