"""core.migrate: the migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sangdam.core import migrate
from sangdam.core.db import Database
from sangdam.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == before is not None
