"""Every change to customers and their contact points.

Every inbound contact runs :func:`customer_for_contacts`, so it is written with plain SQL
statements (SQLAlchemy Core) rather than through the ORM's unit of work: two or three statements
instead of two flushes, a large part of what filing an inquiry costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.models import ContactPoint, Customer
from sangdam.models.base import ContactKind

_CUSTOMERS = Customer.__table__
_CONTACTS = ContactPoint.__table__


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """What routing and messages need of a customer, without loading the ORM object."""

    id: int
    name: str
    tier: str


def find_by_contact(session: Session, kind: str, value: str) -> Customer | None:
    row = session.execute(
        select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    ).scalar_one_or_none()
    return row.customer if row else None


def _lookup(conn: Connection, contacts: list[tuple[str, str]]) -> CustomerRef | None:
    """The customer of the first contact (in the given order of preference) that belongs to one."""
    rows = conn.execute(
        select(_CUSTOMERS.c.id, _CUSTOMERS.c.name, _CUSTOMERS.c.tier, _CONTACTS.c.kind, _CONTACTS.c.value)
        .join(_CONTACTS, _CONTACTS.c.customer_id == _CUSTOMERS.c.id)
        .where(or_(*(and_(_CONTACTS.c.kind == kind, _CONTACTS.c.value == value) for kind, value in contacts)))
    ).all()
    owners = {(row.kind, row.value): CustomerRef(row.id, row.name, row.tier) for row in rows}
    return next((owners[c] for c in contacts if c in owners), None)


def _attach_free(conn: Connection, customer_id: int, contacts: list[tuple[str, str]]) -> int:
    """Attach each contact point to the customer unless it belongs to someone already; how many were."""
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(_CONTACTS)
    attached = 0
    at = now()
    for kind, value in contacts:
        result = conn.execute(
            insert.values(
                customer_id=customer_id, kind=kind, value=value, verified=False, created_at=at
            ).on_conflict_do_nothing(index_elements=["kind", "value"])
        )
        attached += result.rowcount or 0
    return attached


def _contacts(phone: str | None, email: str | None, others: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    contacts: list[tuple[str, str]] = []
    if phone:
        contacts.append((ContactKind.PHONE, phone))
    if email:
        contacts.append((ContactKind.EMAIL, email))
    contacts.extend(c for c in others if c not in contacts)
    return contacts


def customer_for_contacts(
    session: Session,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    others: tuple[tuple[str, str], ...] = (),
    language: str = "ko",
) -> CustomerRef:
    """The customer a contact belongs to, found by phone, e-mail, then any other contact point
    (messenger ids); created if unknown. Every given contact point is attached if free."""
    contacts = _contacts(phone, email, others)
    conn = session.connection()
    found = _lookup(conn, contacts) if contacts else None
    if found is not None:
        known = {
            (row.kind, row.value)
            for row in conn.execute(
                select(_CONTACTS.c.kind, _CONTACTS.c.value).where(_CONTACTS.c.customer_id == found.id)
            )
        }
        _attach_free(conn, found.id, [c for c in contacts if c not in known])
        return found
    at = now()
    clean_name = name.strip() or "고객"
    customer_id = conn.execute(
        _CUSTOMERS.insert().values(name=clean_name, tier="general", language=language, created_at=at, updated_at=at)
    ).inserted_primary_key[0]
    if contacts and _attach_free(conn, customer_id, contacts) == 0:
        # Another worker created this customer at the same moment (PostgreSQL; SQLite's write lock
        # keeps other writers out): use theirs and drop ours, which nothing refers to yet.
        raced = _lookup(conn, contacts)
        if raced is not None:
            conn.execute(delete(_CUSTOMERS).where(_CUSTOMERS.c.id == customer_id))
            return raced
    return CustomerRef(customer_id, clean_name, "general")


def find_or_create_customer(
    session: Session,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    others: tuple[tuple[str, str], ...] = (),
    language: str = "ko",
) -> Customer:
    """:func:`customer_for_contacts`, as the ORM object."""
    ref = customer_for_contacts(session, name=name, phone=phone, email=email, others=others, language=language)
    customer = session.get(Customer, ref.id)
    assert customer is not None
    session.expire(customer, ["contact_points"])  # contact points were written past the ORM
    return customer
