"""Revision 0002 creates the knowledge tables (and their version row) and removes them again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from sangdam.core import migrate
from sangdam.core.db import make_engine

TABLES = {"kb_articles", "kb_synonyms", "kb_deflections", "kb_index_state"}


def test_upgrade_and_downgrade(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine, "0002")
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, version, synonyms_version FROM kb_index_state")).all() == [(1, 0, 0)]
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0001")
    assert not TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
