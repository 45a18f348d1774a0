from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from sangdam.core.db import Database
from sangdam.customers.actions import CustomerRef, customer_for_contacts, find_by_contact, find_or_create_customer
from sangdam.models import ContactPoint, Customer


def test_find_or_create_by_any_contact_point(db: Database) -> None:
    with db.transaction() as s:
        a = find_or_create_customer(s, name="홍길동", phone="+821023456789")
        b = find_or_create_customer(s, name="홍길동", email="hong@example.com", phone="+821023456789")
        assert a.id == b.id and {c.kind for c in b.contact_points} == {"phone", "email"}
        c = find_or_create_customer(s, name="카톡 고객", others=(("kakao", "bot-user-1"),))
        assert c.id != a.id
        assert find_by_contact(s, "kakao", "bot-user-1").id == c.id  # type: ignore[union-attr]


def test_a_contact_point_belonging_to_someone_else_is_not_stolen(db: Database) -> None:
    with db.transaction() as s:
        a = find_or_create_customer(s, name="A", email="shared@example.com")
        b = find_or_create_customer(s, name="B", phone="+821011112222", email="shared@example.com")
        # Found by phone first? No: phone is new, so the e-mail finds A; nothing is taken from A.
        assert b.id == a.id
        c = find_or_create_customer(s, name="C", phone="+821033334444")
        assert find_by_contact(s, "email", "shared@example.com").id == a.id  # type: ignore[union-attr]
        assert c.id != a.id


LOCK_WAITERS = "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"


def test_two_first_contacts_from_the_same_phone_at_once_make_one_customer(db: Database) -> None:
    """Two workers see the same unknown phone at the same moment (PostgreSQL: both find nobody, both
    create): the second waits on the first's contact point, then takes that customer and drops its own."""
    if db.is_sqlite:
        pytest.skip("SQLite's write lock keeps the second writer out until the first commits")
    phone = "+821055556666"
    first = db.session()
    first.begin()
    mine = customer_for_contacts(first, name="홍길동", phone=phone)
    results: list[CustomerRef] = []

    def second_worker() -> None:
        with db.transaction() as s:
            results.append(customer_for_contacts(s, name="홍길동", phone=phone))

    worker = threading.Thread(target=second_worker)
    worker.start()
    blocked = text(
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"
    )
    with db.engine.connect() as probe:  # wait until the second worker is blocked on our contact point
        for _ in range(500):
            waiting = probe.execute(blocked).scalar_one()
            if waiting:
                break
            time.sleep(0.01)
        assert waiting, "the second worker never waited on the first one's contact point"
    first.commit()
    first.close()
    worker.join(30)
    assert results == [mine]
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(ContactPoint)).scalar_one() == 1
