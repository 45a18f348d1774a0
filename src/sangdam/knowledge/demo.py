"""Demo FAQ articles for 한빛카드 (``sangdam demo load``): every topic of the taxonomy, in real Korean."""

from __future__ import annotations

import json
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.knowledge.actions import import_jsonl
from sangdam.models.knowledge import KbArticle
from sangdam.privacy.audit import Actor

DEMO_FILE = "demo_articles.jsonl"


def demo_lines() -> list[str]:
    return resources.files("sangdam.knowledge").joinpath("data", DEMO_FILE).read_text("utf-8").splitlines()


def load_demo_articles(session: Session) -> int:
    """Add the demo articles that are not there yet (an admin's edits are kept); returns how many."""
    lines = demo_lines()
    present = set(session.execute(select(KbArticle.id)).scalars())
    if present:
        lines = [line for line in lines if line.strip() and json.loads(line)["id"] not in present]
    if not lines:
        return 0
    return import_jsonl(session, lines, Actor.system()).created
