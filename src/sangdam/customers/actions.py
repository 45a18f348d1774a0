"""Every change to customers and their contact points."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangdam.models import ContactPoint, Customer
from sangdam.models.base import ContactKind


def find_by_contact(session: Session, kind: str, value: str) -> Customer | None:
    row = session.execute(
        select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    ).scalar_one_or_none()
    return row.customer if row else None


def add_contact_point(session: Session, customer: Customer, kind: str, value: str) -> ContactPoint | None:
    """Attach ``value`` to ``customer`` unless it already belongs to someone (then leave it)."""
    existing = session.execute(
        select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    ).scalar_one_or_none()
    if existing is not None:
        return existing if existing.customer_id == customer.id else None
    point = ContactPoint(kind=kind, value=value)
    try:
        with session.begin_nested():
            customer.contact_points.append(point)
            session.flush()
    except IntegrityError:  # another worker attached it at the same moment
        return None
    return point


def find_or_create_customer(
    session: Session,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    others: tuple[tuple[str, str], ...] = (),
    language: str = "ko",
) -> Customer:
    """The customer a contact belongs to, found by phone, e-mail, then any other contact point
    (messenger ids); created if unknown. Every given contact point is attached if free."""
    contacts: list[tuple[str, str]] = []
    if phone:
        contacts.append((ContactKind.PHONE, phone))
    if email:
        contacts.append((ContactKind.EMAIL, email))
    contacts.extend(others)
    customer = None
    for kind, value in contacts:
        customer = find_by_contact(session, kind, value)
        if customer is not None:
            break
    if customer is None and (session.get_bind().dialect.name == "sqlite" or not contacts):
        # Every contact point was just found free, and SQLite's write lock (BEGIN IMMEDIATE) keeps it so.
        customer = Customer(name=name.strip() or "고객", language=language)
        customer.contact_points = [ContactPoint(kind=kind, value=value) for kind, value in contacts]
        session.add(customer)
        session.flush()
        return customer
    if customer is None:
        customer = Customer(name=name.strip() or "고객", language=language)
        session.add(customer)
        session.flush()
    for kind, value in contacts:
        add_contact_point(session, customer, kind, value)
    return customer
