"""The ``sangdam`` command: serve, db upgrade, demo load, agent create/token, and each feature's commands."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from sangdam import __version__


def _database():  # type: ignore[no-untyped-def]
    from sangdam.core.db import Database
    from sangdam.core.events import make_bus
    from sangdam.core.settings import get_settings

    settings = get_settings()
    return settings, Database(settings.resolved_database_url, make_bus(settings.redis_url))


def prepare_database(db) -> None:  # type: ignore[no-untyped-def]
    """Migrate to the newest schema and make sure the topic taxonomy is there."""
    from sangdam.conversations.taxonomy import seed_taxonomy
    from sangdam.core import migrate
    from sangdam.routing.actions import seed_queues

    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_taxonomy(session)
        seed_queues(session)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # SQLite has one writer: the thread holding the write lock must not wait out the GIL's default
    # 5 ms switch interval behind the event loop, or every queued request waits with it.
    sys.setswitchinterval(0.0005)

    from sangdam.web.app import create_app

    settings, db = _database()
    prepare_database(db)
    print(f"Sangdam {__version__}: http://{args.host}:{args.port}  (database: {db.engine.url.render_as_string()})")
    if args.workers > 1:
        os.environ.setdefault("SANGDAM_DATA_DIR", str(settings.data_dir))
        uvicorn.run(
            "sangdam.web.asgi:app", host=args.host, port=args.port, workers=args.workers, log_level=args.log_level
        )
    else:
        app = create_app(settings, database=db, run_migrations=False)
        app.state.freeze_gc = True
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sangdam.core import migrate

    _, db = _database()
    prepare_database(db)
    print(f"database at revision {migrate.current_revision(db.engine)}: {db.engine.url.render_as_string()}")
    return 0


def cmd_demo_load(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from sangdam.demo import DEMO_PASSWORD, load_demo
    from sangdam.models import Agent

    settings, db = _database()
    prepare_database(db)
    with db.transaction() as session:
        if args.if_empty and session.execute(select(func.count()).select_from(Agent)).scalar_one() > 0:
            print("demo data: the database already has agents; nothing loaded")
            return 0
        counts = load_demo(session, settings)
    print(
        f"demo data loaded: {counts['agents']} agents, {counts['inquiries']} inquiries, {counts['articles']} articles. "
        f"Console: /console  login admin / lead.kim / senior.lee / agent.jung …  password {DEMO_PASSWORD}"
    )
    return 0


def cmd_agent_create(args: argparse.Namespace) -> int:
    from sangdam.core.errors import SangdamError
    from sangdam.routing.agents import create_agent

    password = args.password or os.environ.get("SANGDAM_AGENT_PASSWORD")
    if not password:
        password = getpass.getpass("비밀번호 (password): ")
    skills: dict[str, int] = {}
    for item in args.skill or []:
        code, _, level = item.partition(":")
        skills[code] = int(level or 3)
    _, db = _database()
    prepare_database(db)
    try:
        with db.transaction() as session:
            agent = create_agent(
                session,
                login=args.login,
                name=args.name,
                password=password,
                role=args.role,
                rank=args.rank,
                team=args.team,
                email=args.email,
                skills=skills,
            )
            agent_id = agent.id
    except SangdamError as exc:
        print(f"오류: {exc.message} ({exc.message_en})", file=sys.stderr)
        return 2
    print(f"agent {args.login} created (id {agent_id}, role {args.role}, rank {args.rank})")
    return 0


def cmd_agent_token(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from sangdam.models import Agent
    from sangdam.routing.agents import issue_api_token

    _, db = _database()
    prepare_database(db)
    with db.transaction() as session:
        agent = session.execute(select(Agent).where(Agent.login == args.login.lower())).scalar_one_or_none()
        if agent is None:
            print(f"오류: 상담원 {args.login!r}을(를) 찾을 수 없습니다. (no such agent)", file=sys.stderr)
            return 2
        token = issue_api_token(session, agent, args.name)
    print(json.dumps({"agent": args.login, "name": args.name, "token": token}) if args.json else token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sangdam",
        description="Sangdam (상담): 한빛카드 고객센터. Settings come from SANGDAM_* environment variables "
        "(see docs/configuration.md).",
    )
    parser.add_argument("--version", action="version", version=f"sangdam {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the portal, console and API (creates and migrates the database if new)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (use Redis for events when > 1)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(handler=cmd_serve)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    db_sub.add_parser("upgrade", help="create or migrate the database to the newest schema").set_defaults(
        handler=cmd_db_upgrade
    )

    demo = sub.add_parser("demo", help="demo data for 한빛카드")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="SUBCOMMAND")
    load = demo_sub.add_parser("load", help="load demo teams, agents, customers, inquiries and FAQ articles")
    load.add_argument("--if-empty", action="store_true", help="do nothing if the database already has agents")
    load.set_defaults(handler=cmd_demo_load)

    agent = sub.add_parser("agent", help="agent accounts")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True, metavar="SUBCOMMAND")
    create = agent_sub.add_parser("create", help="create an agent (password asked for, or --password)")
    create.add_argument("login")
    create.add_argument("--name", required=True, help="display name, e.g. 김상담")
    create.add_argument("--role", default="agent", choices=["agent", "supervisor", "admin"])
    create.add_argument("--rank", default="agent", choices=["agent", "senior", "lead"], help="상담원 / 선임 / 팀장")
    create.add_argument("--team")
    create.add_argument("--email")
    create.add_argument("--skill", action="append", metavar="CODE[:LEVEL]", help="e.g. lost_card:5 (repeatable)")
    create.add_argument("--password", help="or SANGDAM_AGENT_PASSWORD, or asked interactively")
    create.set_defaults(handler=cmd_agent_create)
    token = agent_sub.add_parser("token", help="issue an API token acting as an agent (shown once)")
    token.add_argument("login")
    token.add_argument("--name", default="integration", help="what the token is for")
    token.add_argument("--json", action="store_true")
    token.set_defaults(handler=cmd_agent_token)

    for module in _feature_commands():
        module.register(sub)
    return parser


def _feature_commands() -> list[Any]:
    """Each feature's ``cli`` module, with ``register(subparsers)`` (imported lazily: start-up stays quick)."""
    from sangdam.knowledge import cli as knowledge_cli
    from sangdam.routing import cli as routing_cli

    return [knowledge_cli, routing_cli]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
