"""agent presence: open console and chat sockets, for the disconnect grace period

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_connections_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_connections")),
    )
    with op.batch_alter_table("agent_connections", schema=None) as batch_op:
        batch_op.create_index("ix_agent_connections_agent_closed", ["agent_id", "closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_connections", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_connections_agent_closed")
    op.drop_table("agent_connections")
