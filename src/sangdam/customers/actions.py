"""Every change to customers and their contact points.

Every inbound contact runs :func:`customer_for_contacts`, so it is written with plain SQL
statements (prepared SQLAlchemy Core, :mod:`sangdam.core.sql`) rather than through the ORM's unit
of work: two or three statements instead of two flushes, a large part of what filing an inquiry
costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable

from sangdam.core.clock import now
from sangdam.core.sql import Prepared, PreparedInsert
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


# Prepared once (core/sql.py): compiled for each database on first use; a call only binds values.
_OWNER = Prepared(
    select(_CUSTOMERS.c.id, _CUSTOMERS.c.name, _CUSTOMERS.c.tier)
    .join(_CONTACTS, _CONTACTS.c.customer_id == _CUSTOMERS.c.id)
    .where(_CONTACTS.c.kind == bindparam("kind"), _CONTACTS.c.value == bindparam("value"))
)
_CONTACTS_OF = Prepared(
    select(_CONTACTS.c.kind, _CONTACTS.c.value).where(_CONTACTS.c.customer_id == bindparam("customer_id"))
)
_NEW_CUSTOMER = PreparedInsert(_CUSTOMERS, ["name", "tier", "language", "created_at", "updated_at"])
_DROP_CUSTOMER = Prepared(delete(_CUSTOMERS).where(_CUSTOMERS.c.id == bindparam("customer_id")))
_DIALECT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _insert_if_free(dialect: Dialect) -> Executable:
    """An insert of a contact point that returns its id, or nothing when it belongs to someone."""
    columns = ("customer_id", "kind", "value", "verified", "created_at")
    return (
        _DIALECT_INSERTS[dialect.name](_CONTACTS)
        .values({c: bindparam(c, type_=_CONTACTS.c[c].type) for c in columns})
        .on_conflict_do_nothing(index_elements=["kind", "value"])
        .returning(_CONTACTS.c.id)
    )


_ATTACH_IF_FREE = Prepared(_insert_if_free)


def _lookup(conn: Connection, contacts: list[tuple[str, str]]) -> CustomerRef | None:
    """The customer of the first contact (in the given order of preference) that belongs to one."""
    for kind, value in contacts:
        row = _OWNER.first(conn, {"kind": kind, "value": value})
        if row is not None:
            return CustomerRef(*row)
    return None


def _attach_free(conn: Connection, customer_id: int, contacts: list[tuple[str, str]]) -> int:
    """Attach each contact point to the customer unless it belongs to someone already; how many were."""
    at = now()
    attached = 0
    for kind, value in contacts:
        params = {"customer_id": customer_id, "kind": kind, "value": value, "verified": False, "created_at": at}
        attached += _ATTACH_IF_FREE.first(conn, params) is not None
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
        known = set(_CONTACTS_OF.all(conn, {"customer_id": found.id}))
        _attach_free(conn, found.id, [c for c in contacts if c not in known])
        return found
    at = now()
    clean_name = name.strip() or "고객"
    customer_id = _NEW_CUSTOMER.insert(
        conn, {"name": clean_name, "tier": "general", "language": language, "created_at": at, "updated_at": at}
    )
    if contacts and _attach_free(conn, customer_id, contacts) == 0:
        # Another worker created this customer at the same moment (PostgreSQL; SQLite's write lock
        # keeps other writers out): use theirs and drop ours, which nothing refers to yet.
        raced = _lookup(conn, contacts)
        if raced is not None:
            _DROP_CUSTOMER.execute(conn, {"customer_id": customer_id})
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
