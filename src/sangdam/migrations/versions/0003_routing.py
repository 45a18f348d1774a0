"""routing: queues, their skills and topics, routing entries, offers, agent idle times

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:17:26.427547
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("overflow_after_s", sa.Integer(), nullable=True),
        sa.Column("offer_timeout_s", sa.Integer(), nullable=False),
        sa.Column("min_rank", sa.String(length=16), nullable=False),
        sa.Column("is_supervisor_queue", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("code", name=op.f("uq_routing_queues_code")),
    )
    op.create_table(
        "routing_queue_skills",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("secondary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["routing_queues.id"],
            name=op.f("fk_routing_queue_skills_queue_id_routing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"],
            ["skills.id"],
            name=op.f("fk_routing_queue_skills_skill_id_skills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("queue_id", "skill_id", name=op.f("pk_routing_queue_skills")),
    )
    op.create_table(
        "routing_agent_states",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("idle_since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_routing_agent_states_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_routing_agent_states")),
    )
    op.create_table(
        "routing_queue_topics",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["routing_queues.id"],
            name=op.f("fk_routing_queue_topics_queue_id_routing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_routing_queue_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("topic_id", name=op.f("pk_routing_queue_topics")),
    )
    with op.batch_alter_table("routing_queue_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_queue_topics_queue_id"), ["queue_id"], unique=False)

    op.create_table(
        "routing_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("escalated_by_agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_entries_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_routing_entries_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["escalated_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_routing_entries_escalated_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["routing_queues.id"], name=op.f("fk_routing_entries_queue_id_routing_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_entries")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_routing_entries_conversation_id")),
    )
    with op.batch_alter_table("routing_entries", schema=None) as batch_op:
        batch_op.create_index("ix_routing_entries_agent_state", ["agent_id", "state"], unique=False)
        batch_op.create_index(
            "ix_routing_entries_queue_state", ["queue_id", "state", "priority", "enqueued_at"], unique=False
        )
        batch_op.create_index("ix_routing_entries_state_expires", ["state", "offer_expires_at"], unique=False)

    op.create_table(
        "routing_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("via_overflow", sa.Boolean(), nullable=False),
        sa.Column("waited_s", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_offers_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_routing_offers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["routing_queues.id"], name=op.f("fk_routing_offers_queue_id_routing_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_offers")),
    )
    with op.batch_alter_table("routing_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_offers_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_routing_offers_conversation_id"), ["conversation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("routing_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_offers_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_routing_offers_agent_id"))

    op.drop_table("routing_offers")
    with op.batch_alter_table("routing_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_entries_state_expires")
        batch_op.drop_index("ix_routing_entries_queue_state")
        batch_op.drop_index("ix_routing_entries_agent_state")

    op.drop_table("routing_entries")
    with op.batch_alter_table("routing_queue_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_queue_topics_queue_id"))

    op.drop_table("routing_queue_topics")
    op.drop_table("routing_agent_states")
    op.drop_table("routing_queue_skills")
    op.drop_table("routing_queues")
