"""Shared fixtures: an isolated data directory, database, app and test client per test.

PostgreSQL and Redis variants run when ``SANGDAM_TEST_POSTGRES_URL`` / ``SANGDAM_TEST_REDIS_URL``
are set (``.ci/run`` sets both); otherwise those tests are skipped, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# Cheap password hashing for the suite (the service uses RFC 9106's profile); set before sangdam is imported.
os.environ.setdefault("SANGDAM_ARGON2_PROFILE", "test")

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sangdam.cli import prepare_database
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import Settings

POSTGRES_URL = os.environ.get("SANGDAM_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("SANGDAM_TEST_REDIS_URL")

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="SANGDAM_TEST_POSTGRES_URL is not set")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="SANGDAM_TEST_REDIS_URL is not set")

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # a clean clone in CI has shared/ beside the repository
    SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret", database_url=None, redis_url=None)


def make_postgres_database() -> str:
    """A fresh, empty PostgreSQL database for one test; dropped by ``drop_postgres_database``."""
    assert POSTGRES_URL
    name = f"sangdam_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    assert POSTGRES_URL
    name = make_url(url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[needs_postgres, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, settings: Settings) -> Iterator[str]:
    if backend == "sqlite":
        yield settings.resolved_database_url
        return
    url = make_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def db(database_url: str, bus: EventBus) -> Iterator[Database]:
    database = Database(database_url, bus)
    prepare_database(database)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from sangdam.web.app import create_app

    return create_app(settings, database=db, run_migrations=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


PASSWORD = "correct-horse-battery"


@pytest.fixture
def agents(db: Database) -> dict[str, int]:
    """admin, a supervisor, an agent for payments (``pay``) and one for lost cards (``lost``)."""
    from sangdam.routing.agents import create_agent

    with db.transaction() as session:
        made = {
            "admin": create_agent(session, login="admin", name="관리자", password=PASSWORD, role="admin"),
            "super": create_agent(
                session, login="super", name="김팀장", password=PASSWORD, role="supervisor", rank="lead"
            ),
            "pay": create_agent(
                session, login="pay", name="이상담", password=PASSWORD, skills={"payment_billing": 4, "other": 2}
            ),
            "lost": create_agent(session, login="lost", name="최분실", password=PASSWORD, skills={"lost_card": 5}),
        }
        return {k: v.id for k, v in made.items()}


@pytest.fixture
def tokens(db: Database, agents: dict[str, int]) -> dict[str, str]:
    """An API token per test agent."""
    from sangdam.models import Agent
    from sangdam.routing.agents import issue_api_token

    with db.transaction() as session:
        return {k: issue_api_token(session, session.get(Agent, i), f"test-{k}") for k, i in agents.items()}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
