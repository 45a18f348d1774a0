from __future__ import annotations

from sangdam.core.db import Database
from sangdam.customers.actions import find_by_contact, find_or_create_customer


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
