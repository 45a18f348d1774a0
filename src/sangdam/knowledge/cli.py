"""``sangdam kb``: import, export and search the knowledge base from the command line.

    sangdam kb import FILE          upsert by id; a bad line refuses the whole file (exit 1)
    sangdam kb export FILE          the whole base as JSON Lines ("-" for standard output)
    sangdam kb search "질문" --top 3 --json
    sangdam kb search --stdin       one query per line in, one JSON array per line out
    sangdam kb reindex              re-analyse every article (after upgrading kiwipiepy)

Nothing here imports the web layer, so ``kb search`` starts as fast as the analyzer loads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError

NOT_READY = (
    "데이터베이스가 준비되지 않았습니다. 먼저 `sangdam db upgrade`를 실행하세요. "
    "(The database has no knowledge-base tables yet: run `sangdam db upgrade`.)"
)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _database() -> Iterator[Any]:
    from sangdam.core.db import Database
    from sangdam.core.events import EventBus
    from sangdam.core.settings import get_settings

    db = Database(get_settings().resolved_database_url, EventBus())
    try:
        yield db
    finally:
        db.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    from sangdam.knowledge.actions import ImportRefused, import_jsonl
    from sangdam.privacy.audit import Actor

    try:
        with open(args.file, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        _err(f"파일을 읽을 수 없습니다: {args.file} ({exc.strerror})")
        return 2
    except UnicodeDecodeError:
        _err(f"파일이 UTF-8 텍스트가 아닙니다: {args.file}")
        return 2
    try:
        with _database() as db, db.transaction() as session:
            result = import_jsonl(session, lines, Actor.system())
    except ImportRefused as refused:
        for error in refused.errors:
            _err(error.message)
        if refused.more:
            _err(f"… 그 밖에 {refused.more}개 줄에도 오류가 있습니다.")
        _err("아무것도 가져오지 않았습니다. (Nothing was imported.)")
        return 1
    except (OperationalError, ProgrammingError):
        _err(NOT_READY)
        return 2
    print(
        f"가져오기 완료: 새 글 {result.created}, 바뀐 글 {result.updated}, 그대로 {result.unchanged} "
        f"(모두 {result.total}개)"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sangdam.knowledge.actions import export_jsonl

    try:
        with _database() as db, db.session() as session:
            if args.file == "-":
                count = export_jsonl(session, sys.stdout)
                sys.stdout.flush()
            else:
                with open(args.file, "w", encoding="utf-8") as out:
                    count = export_jsonl(session, out)
    except (OperationalError, ProgrammingError):
        _err(NOT_READY)
        return 2
    except OSError as exc:
        _err(f"파일을 쓸 수 없습니다: {args.file} ({exc.strerror})")
        return 2
    _err(f"내보내기 완료: 글 {count}개 → {args.file}")
    return 0


def _hits_json(hits: list[Any]) -> str:
    return json.dumps(
        [{"id": h.id, "score": round(h.score, 4), "category": h.category, "question": h.question} for h in hits],
        ensure_ascii=False,
    )


def _print_table(query: str, hits: list[Any], out: TextIO) -> None:
    if not hits:
        print(f"'{query}': 찾은 글이 없습니다.", file=out)
        return
    for rank, hit in enumerate(hits, start=1):
        words = ", ".join(hit.matched)
        print(f"{rank}. [{hit.category}] {hit.question}  ({hit.id}, 점수 {hit.score:.2f}; 일치: {words})", file=out)


def cmd_search(args: argparse.Namespace) -> int:
    from sangdam.knowledge.queries import search_in
    from sangdam.knowledge.sync import index_for

    if not args.stdin and not args.query:
        _err("검색어를 주거나 --stdin을 쓰세요. (Give a query or --stdin.)")
        return 2
    try:
        with _database() as db:

            def run(query: str) -> list[Any]:
                if not query.strip():
                    return []
                with db.session() as session:
                    index = index_for(session)
                return search_in(
                    index,
                    query,
                    args.top,
                    category=args.category,
                    include_drafts=args.drafts,
                    highlight=not args.json and not args.stdin,
                ).hits

            if args.stdin:
                for line in sys.stdin:
                    print(_hits_json(run(line.rstrip("\n"))), flush=True)
                return 0
            hits = run(args.query)
            if args.json:
                print(_hits_json(hits))
            else:
                _print_table(args.query, hits, sys.stdout)
    except (OperationalError, ProgrammingError):
        _err(NOT_READY)
        return 2
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from sangdam.knowledge.actions import reindex

    try:
        with _database() as db, db.transaction() as session:
            count = reindex(session)
    except (OperationalError, ProgrammingError):
        _err(NOT_READY)
        return 2
    print(f"다시 분석했습니다: 글 {count}개")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kb = subparsers.add_parser("kb", help="knowledge base (FAQ): import, export, search")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="{import,export,search,reindex}")

    p = kb_sub.add_parser("import", help="import JSON Lines (upsert by id; a bad line refuses the whole file)")
    p.add_argument("file", help="one article per line: id, category, question, answer, keywords, synonyms")
    p.set_defaults(handler=cmd_import)

    p = kb_sub.add_parser("export", help="export the whole base as JSON Lines")
    p.add_argument("file", help='output file, or "-" for standard output')
    p.set_defaults(handler=cmd_export)

    p = kb_sub.add_parser("search", help="search the FAQ as customers do (published articles)")
    p.add_argument("query", nargs="?", help="e.g. 카드를 잃어버렸어요")
    p.add_argument("--top", type=int, default=5, help="how many results (default 5)")
    p.add_argument("--json", action="store_true", help='print [{"id", "score", "category", "question"}]')
    p.add_argument("--stdin", action="store_true", help="one query per line; one JSON array per line")
    p.add_argument("--category", help="only this topic code, e.g. lost_card")
    p.add_argument("--drafts", action="store_true", help="include unpublished articles")
    p.set_defaults(handler=cmd_search)

    p = kb_sub.add_parser("reindex", help="re-analyse every article (after an analyzer upgrade)")
    p.set_defaults(handler=cmd_reindex)
