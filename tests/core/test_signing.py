from __future__ import annotations

import time

from sangdam.core import signing


def test_sign_and_unsign() -> None:
    token = signing.sign("k", "lookup", "20261122-123456", 60)
    assert signing.unsign("k", "lookup", token) == "20261122-123456"
    assert signing.unsign("other-key", "lookup", token) is None
    assert signing.unsign("k", "other-purpose", token) is None
    assert signing.unsign("k", "lookup", token[:-2] + "xx") is None
    assert signing.unsign("k", "lookup", "garbage") is None
    assert signing.unsign("k", "lookup", None) is None


def test_expired_tokens_are_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    token = signing.sign("k", "lookup", "x", 10)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 11)
    assert signing.unsign("k", "lookup", token) is None
