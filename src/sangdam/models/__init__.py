"""SQLAlchemy tables, one module per area. Everything is imported here so Alembic sees it all.

Models import no feature package.
"""

# Feature tables: importing the modules registers them on Base.metadata.
from sangdam.models import chat, knowledge, presence, routing, schedule  # noqa: F401
from sangdam.models.agents import Agent, AgentChannelCapacity, AgentSession, AgentSkill, ApiToken, Team
from sangdam.models.audit import AuditEvent, RateLimitHit
from sangdam.models.base import Base
from sangdam.models.conversations import Attachment, Conversation, ConversationActivity, Message, Note
from sangdam.models.customers import ContactPoint, Customer
from sangdam.models.topics import Skill, Topic

__all__ = [
    "Agent",
    "AgentChannelCapacity",
    "AgentSession",
    "AgentSkill",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Base",
    "ContactPoint",
    "Conversation",
    "ConversationActivity",
    "Customer",
    "Message",
    "Note",
    "RateLimitHit",
    "Skill",
    "Team",
    "Topic",
]
