"""Small read-through caches for rarely changing rows (topics, queues), one per database engine.

Entries live a few seconds: a change made by an admin, on any worker, applies within that time.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy.orm import Session

_stores: weakref.WeakKeyDictionary[Any, dict[Hashable, tuple[float, Any]]] = weakref.WeakKeyDictionary()


def cached(session: Session, key: Hashable, load: Callable[[], Any], ttl_seconds: float = 10.0) -> Any:
    """The value for ``key`` in this session's database, loaded with ``load()`` when absent or old."""
    store = _stores.setdefault(session.get_bind(), {})
    stamp = time.monotonic()
    hit = store.get(key)
    if hit is not None and stamp - hit[0] < ttl_seconds:
        return hit[1]
    value = load()
    store[key] = (stamp, value)
    return value


def forget(session: Session | None = None, prefix: str | None = None) -> None:
    """Drop cached values (all, or those whose key starts with ``prefix``) for one database or every one."""
    stores = [_stores.get(session.get_bind(), {})] if session is not None else list(_stores.values())
    for store in stores:
        for key in [k for k in store if prefix is None or (isinstance(k, tuple) and k[0] == prefix)]:
            del store[key]
